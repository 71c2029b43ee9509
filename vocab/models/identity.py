"""Who and what the passport is about: the passport and battery identifiers, the battery category
and the general product information of Annex XIII point 1(a) (DATAMODEL rows 1-10)."""

from __future__ import annotations

import re
import uuid
from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, WithJsonSchema

from vocab.gs1 import GTIN14_SEGMENT, ITEM_URI_PATTERN, InvalidGs1Key, parse_item_uri
from vocab.models.common import (
    Facility,
    Mass,
    Model,
    NonEmptyStr,
    Party,
    YearMonth,
    YearsMonthsDuration,
    rule_error,
)
from vocab.urls import InvalidUrl, split_url


class BatteryCategory(StrEnum):
    """Annex XIII applies to these categories (Art 77(1)); stationary BESS over 2 kWh are industrial
    batteries in the Regulation but have their own column in the attribute longlist."""

    EV = "ev"
    LMT = "lmt"
    INDUSTRIAL = "industrial"
    STATIONARY = "stationary"


# --- passport identifier ---------------------------------------------------------------------

_URN_UUID = re.compile(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _check_passport_id(value: str) -> str:
    if not _URN_UUID.fullmatch(value):
        raise rule_error(
            "urn-uuid",
            "must be a lower-case urn:uuid: URN such as "
            "urn:uuid:550e8400-e29b-41d4-a716-446655440000, got '{value}'",
            value=value,
        )
    uuid.UUID(value.removeprefix("urn:uuid:"))
    return value


PassportId = Annotated[
    str,
    AfterValidator(_check_passport_id),
    WithJsonSchema({"type": "string", "pattern": f"^{_URN_UUID.pattern}$"}),
]
"""A passport's own identifier. A battery gets a new one when it is repurposed or remanufactured
(Art 77(7)), so it is distinct from the battery identifier."""


def new_passport_id() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


# --- battery identifier: GS1 Digital Link item URI ------------------------------------------


def _check_gs1_item_link(value: str) -> str:
    try:
        path = split_url(value, field="batteryIdentifier").path
    except InvalidUrl:
        path = ""
    if not GTIN14_SEGMENT.search(path):
        raise rule_error(
            "gs1-digital-link",
            "must be a GS1 Digital Link item URI https://HOST/01/GTIN-14/21/SERIAL, got '{value}'",
            value=value,
        )
    try:
        key = parse_item_uri(value)
    except InvalidGs1Key as exc:
        rule = "gtin-check-digit" if "check digit" in str(exc) else "gs1-digital-link"
        raise rule_error(rule, "{detail}", detail=str(exc)) from None
    if key.path() != path[-len(key.path()) :]:
        raise rule_error(
            "gs1-digital-link",
            "must use the GTIN-14 form and GS1 percent-encoding: {canonical}",
            canonical=key.path(),
        )
    return value


BatteryIdentifier = Annotated[
    str,
    AfterValidator(_check_gs1_item_link),
    WithJsonSchema(
        {
            "type": "string",
            "format": "uri",
            "pattern": ITEM_URI_PATTERN,
        }
    ),
]
"""The battery's unique identifier (Art 77(3), ISO/IEC 15459 through GS1): a GS1 Digital Link item
URI, which is also the URL printed in the QR code."""


# --- general product information -------------------------------------------------------------


class GeneralInformation(Model):
    """DATAMODEL rows 3-10 (row 11, the battery status, is in `lifecycle`)."""

    battery_category: BatteryCategory
    product_name: NonEmptyStr | None = None
    """The product's name as the manufacturer sells it (Catena-X
    `identification.type.nameAtManufacturer`); with `model`, what people recognise the battery
    by (Annex VI Part A: information identifying the battery). Not a catalogue row."""
    model: NonEmptyStr | None = None
    """The manufacturer's model identifier (Catena-X `identification.type.manufacturerPartId`)."""
    operator: Party | None = None
    """The economic operator responsible for the passport (row 3, voluntary)."""
    manufacturer: Party | None = None
    manufacturing_place: Facility | None = None
    manufacturing_date: YearMonth | None = None
    putting_into_service_date: date | None = None
    warranty_period: YearsMonthsDuration | None = None
    battery_mass: Mass | None = None
