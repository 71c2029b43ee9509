"""Who and what the passport is about: the passport and battery identifiers, the battery category
and the general product information of Annex XIII point 1(a) (DATAMODEL rows 1-10)."""

from __future__ import annotations

import re
import uuid
from datetime import date
from enum import StrEnum
from typing import Annotated
from urllib.parse import unquote, urlsplit

from pydantic import AfterValidator, WithJsonSchema

from vocab.models.common import (
    Facility,
    Mass,
    Model,
    Party,
    YearMonth,
    YearsMonthsDuration,
    rule_error,
)


class BatteryCategory(StrEnum):
    """Annex XIII applies to these categories (Art 77(1)); stationary BESS over 2 kWh are industrial
    batteries in the Regulation but have their own column in the attribute longlist."""

    EV = "ev"
    LMT = "lmt"
    INDUSTRIAL = "industrial"
    STATIONARY = "stationary"


# --- passport identifier ---------------------------------------------------------------------

_URN_UUID = re.compile(r"^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _check_passport_id(value: str) -> str:
    if not _URN_UUID.match(value):
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
    WithJsonSchema({"type": "string", "pattern": _URN_UUID.pattern}),
]
"""A passport's own identifier. A battery gets a new one when it is repurposed or remanufactured
(Art 77(7)), so it is distinct from the battery identifier."""


def new_passport_id() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


# --- battery identifier: GS1 Digital Link item URI ------------------------------------------

# GS1 AI encodable character set 82 (serials, batches, variants), after percent-decoding.
_CSET82 = re.compile(r"""^[!"%&'()*+,\-./0-9:;<=>?A-Z_a-z]+$""")
_GS1_PATH = re.compile(
    r"^(?P<prefix>(?:/[^/]+)*?)/01/(?P<gtin>\d{14})"
    r"(?:/22/(?P<variant>[^/]+))?(?:/10/(?P<batch>[^/]+))?/21/(?P<serial>[^/]+)$"
)


def gtin_check_digit_ok(gtin: str) -> bool:
    """GS1 mod-10 check: weights 3 and 1 alternate from the right, excluding the check digit."""
    body, check = gtin[:-1], int(gtin[-1])
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


def _check_gs1_item_link(value: str) -> str:
    parts = urlsplit(value)
    # GS1 Digital Link admits http and https; the service's own public URL decides which.
    scheme_ok = parts.scheme in ("https", "http")
    match = _GS1_PATH.match(parts.path)
    if not scheme_ok or not parts.netloc or parts.query or parts.fragment or not match:
        raise rule_error(
            "gs1-digital-link",
            "must be a GS1 Digital Link item URI https://HOST/01/GTIN-14/21/SERIAL "
            "(optional /22/VARIANT and /10/BATCH before /21, no query), got '{value}'",
            value=value,
        )
    if not gtin_check_digit_ok(match["gtin"]):
        raise rule_error(
            "gtin-check-digit", "GTIN {gtin} has a wrong check digit", gtin=match["gtin"]
        )
    # AIs 21 (serial), 10 (batch) and 22 (consumer product variant) are all X..20.
    for key, limit in (("serial", 20), ("batch", 20), ("variant", 20)):
        raw = match[key]
        if raw is None:
            continue
        decoded = unquote(raw)
        if len(decoded) > limit or not _CSET82.match(decoded):
            raise rule_error(
                "gs1-digital-link",
                "{key} '{raw}' must be 1-{limit} characters of GS1 character set 82",
                key=key,
                raw=raw,
                limit=limit,
            )
    return value


BatteryIdentifier = Annotated[
    str,
    AfterValidator(_check_gs1_item_link),
    WithJsonSchema(
        {
            "type": "string",
            "format": "uri",
            "pattern": r"^https?://[^/?#\s]+(/[^/?#\s]+)*?/01/\d{14}(/22/[^/?#\s]+)?(/10/[^/?#\s]+)?/21/[^/?#\s]+$",
        }
    ),
]
"""The battery's unique identifier (Art 77(3), ISO/IEC 15459 through GS1): a GS1 Digital Link item
URI, which is also the URL printed in the QR code."""


# --- general product information -------------------------------------------------------------


class GeneralInformation(Model):
    """DATAMODEL rows 3-10 (row 11, the battery status, is in `lifecycle`)."""

    battery_category: BatteryCategory
    operator: Party | None = None
    """The economic operator responsible for the passport (row 3, voluntary)."""
    manufacturer: Party | None = None
    manufacturing_place: Facility | None = None
    manufacturing_date: YearMonth | None = None
    putting_into_service_date: date | None = None
    warranty_period: YearsMonthsDuration | None = None
    battery_mass: Mass | None = None
