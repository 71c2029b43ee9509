"""Building blocks shared by every part of the passport: the strict base model, checked string
types (URLs, IRIs, dates, language maps) and the physical quantities with their fixed units.

Conventions that hold across the models:

- JSON names are camelCase and equal the JSON-LD context terms; Python attributes are snake_case.
- A number with a physical unit travels with its unit as `{"value": …, "unit": …}` and each field
  admits exactly one unit, so a consumer never converts. Percentages, counts and dimensionless
  ratios are plain numbers; their unit is in the catalogue.
- Dynamic (item-level, changing) values are readings: the quantity plus `lastUpdate`.
- Absent means unknown: optional fields are omitted from the JSON, never sent as null.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from vocab.urls import InvalidUrl, split_url


class Model(BaseModel):
    """Base of every passport model: camelCase JSON, unknown fields rejected."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        validate_by_alias=True,
        # JSON input must use the context's camelCase terms; a snake_case key is an unknown field.
        validate_by_name=False,
        serialize_by_alias=True,
        # NaN/Infinity have no JSON and no RDF form.
        allow_inf_nan=False,
        # Field docstrings become descriptions in the published JSON Schemas.
        use_attribute_docstrings=True,
    )


def rule_error(rule: str, message: str, **context: object) -> PydanticCustomError:
    """An error for a vocabulary rule; pydantic reports `rule` as the error type, and
    validate_passport passes it on as the rule name. `{key}` in `message` takes `context[key]`."""
    return PydanticCustomError(rule, message, context or None)


# --- strings ---------------------------------------------------------------------------------

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def _check_url(value: str) -> str:
    try:
        parts = split_url(value)
    except InvalidUrl:
        parts = None
    if (
        parts is None
        or parts.scheme not in ("https", "http")
        or not parts.netloc
        or any(c.isspace() for c in value)
    ):
        raise rule_error("url", "must be an absolute http(s) URL, got '{value}'", value=value)
    return value


def _check_iri(value: str) -> str:
    # DIDs, URNs and URLs all qualify; the value becomes an RDF node, so it must be absolute.
    if not _SCHEME.match(value) or any(c.isspace() for c in value) or value.endswith(":"):
        raise rule_error(
            "iri", "must be an absolute IRI such as a DID or URL, got '{value}'", value=value
        )
    return value


Url = Annotated[
    str,
    AfterValidator(_check_url),
    WithJsonSchema({"type": "string", "format": "uri", "pattern": "^https?://[^\\s]+$"}),
]
"""An absolute http(s) URL, kept exactly as given (no normalisation, so signatures stay stable)."""

Iri = Annotated[
    str,
    AfterValidator(_check_iri),
    WithJsonSchema(
        {"type": "string", "format": "iri", "pattern": "^[A-Za-z][A-Za-z0-9+.-]*:[^\\s]+$"}
    ),
]
"""An absolute IRI: a DID, URN or URL."""

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _check_email(value: str) -> str:
    if not _EMAIL.fullmatch(value):
        raise rule_error("email", "must be an e-mail address, got '{value}'", value=value)
    return value


Email = Annotated[
    str,
    AfterValidator(_check_email),
    WithJsonSchema(
        {"type": "string", "format": "email", "pattern": "^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$"}
    ),
]

_YEAR_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


def _check_year_month(value: str) -> str:
    if not _YEAR_MONTH.fullmatch(value):
        raise rule_error("year-month", "must be a month as YYYY-MM, got '{value}'", value=value)
    return value


YearMonth = Annotated[
    str,
    AfterValidator(_check_year_month),
    WithJsonSchema({"type": "string", "pattern": "^\\d{4}-(0[1-9]|1[0-2])$"}),
]
"""A calendar month `YYYY-MM` (xsd:gYearMonth): Annex VI Part A asks for month and year only."""

_MONTHS_DURATION = re.compile(r"P(?!$)(\d+Y)?(\d+M)?")


def _check_months_duration(value: str) -> str:
    if not _MONTHS_DURATION.fullmatch(value):
        raise rule_error(
            "duration",
            "must be an ISO 8601 duration in years and months such as P8Y or P2Y6M, got '{value}'",
            value=value,
        )
    return value


YearsMonthsDuration = Annotated[
    str,
    AfterValidator(_check_months_duration),
    WithJsonSchema({"type": "string", "pattern": "^P(?!$)(\\d+Y)?(\\d+M)?$"}),
]
"""A period in whole years and months (xsd:duration), as DIN DKE SPEC 99100 states warranties."""

_LANGUAGE_TAG = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*")


def _check_language_map(value: dict[str, str]) -> dict[str, str]:
    if not value:
        raise rule_error("language-map", "must hold at least one language")
    for tag, text in value.items():
        if not _LANGUAGE_TAG.fullmatch(tag):
            raise rule_error(
                "language-tag", "'{tag}' is not a BCP 47 language tag such as en or de", tag=tag
            )
        if not text.strip():
            raise rule_error("non-empty", "text for language '{tag}' is empty", tag=tag)
    return value


LanguageMap = Annotated[
    dict[str, str],
    AfterValidator(_check_language_map),
    WithJsonSchema(
        {
            "type": "object",
            "minProperties": 1,
            "propertyNames": {"pattern": "^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"},
            "additionalProperties": {"type": "string", "minLength": 1},
        }
    ),
]
"""Text in several languages, keyed by language tag (a JSON-LD language map)."""

_CAS = re.compile(r"(\d{2,7})-(\d{2})-(\d)")


def _check_cas(value: str) -> str:
    match = _CAS.fullmatch(value)
    if not match:
        raise rule_error(
            "cas-number",
            "must be a CAS registry number such as 7440-48-4, got '{value}'",
            value=value,
        )
    digits = (match[1] + match[2])[::-1]
    if sum(i * int(d) for i, d in enumerate(digits, start=1)) % 10 != int(match[3]):
        raise rule_error("cas-number", "CAS number '{value}' has a wrong check digit", value=value)
    return value


CasNumber = Annotated[
    str,
    AfterValidator(_check_cas),
    WithJsonSchema({"type": "string", "pattern": "^\\d{2,7}-\\d{2}-\\d$"}),
]

NonEmptyStr = Annotated[str, Field(min_length=1)]

# --- numbers ---------------------------------------------------------------------------------

NonNegative = Annotated[float, Field(ge=0)]
Percent = Annotated[float, Field(ge=0, le=100)]
"""A share in percent, 0 to 100."""
Count = Annotated[int, Field(ge=0)]


# --- quantities with one fixed unit each -----------------------------------------------------


class Mass(Model):
    value: NonNegative
    unit: Literal["kg"]


class Capacity(Model):
    value: NonNegative
    unit: Literal["Ah"]


class Energy(Model):
    value: NonNegative
    unit: Literal["kWh"]


class Voltage(Model):
    value: NonNegative
    unit: Literal["V"]


class Power(Model):
    value: NonNegative
    unit: Literal["W"]


class Resistance(Model):
    value: NonNegative
    unit: Literal["ohm"]


class Temperature(Model):
    value: float
    unit: Literal["degC"]


class PowerToEnergyRatio(Model):
    value: NonNegative
    unit: Literal["W/Wh"]


class Years(Model):
    value: NonNegative
    unit: Literal["years"]


class Minutes(Model):
    value: Count
    unit: Literal["min"]


# --- readings: dynamic values with the time they were last updated --------------------------


class CapacityReading(Capacity):
    last_update: AwareDatetime


class EnergyReading(Energy):
    last_update: AwareDatetime


class PowerReading(Power):
    last_update: AwareDatetime


class MinutesReading(Minutes):
    last_update: AwareDatetime


class PercentReading(Model):
    value: Percent
    last_update: AwareDatetime


class RateReading(Model):
    """A rate or change in percent that may be negative or exceed 100 (self-discharge evolution)."""

    value: float
    last_update: AwareDatetime


class CountReading(Model):
    value: Count
    last_update: AwareDatetime


# --- documents and parties -------------------------------------------------------------------


class Document(Model):
    """A published document: manual, report, declaration."""

    url: Url
    name: NonEmptyStr | None = None
    media_type: NonEmptyStr | None = None
    document_type: NonEmptyStr | None = None


class Address(Model):
    street_address: NonEmptyStr | None = None
    postal_code: NonEmptyStr | None = None
    address_locality: NonEmptyStr | None = None
    address_country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    """ISO 3166-1 alpha-2 country code."""


class Party(Model):
    """An economic operator, manufacturer or supplier."""

    identifier: NonEmptyStr | None = None
    """A registry identifier: DID, GLN, LEI, EORI or VAT number."""
    name: NonEmptyStr
    postal_address: Address | None = None
    email: Email | None = None
    url: Url | None = None


class Facility(Model):
    """A manufacturing site, named by a facility identifier, an address or both."""

    identifier: NonEmptyStr | None = None
    name: NonEmptyStr | None = None
    postal_address: Address | None = None

    @model_validator(mode="after")
    def _identified(self) -> Facility:
        if self.identifier is None and self.postal_address is None:
            raise rule_error(
                "facility-identified", "a facility needs an identifier or a postal address"
            )
        return self
