"""Checking passport data: the models' own rules plus the catalogue's mandatory attributes, with
every failure reported as `{"path", "rule", "message"}`.

Mandatory attributes at first issuance. An attribute must be present when it is mandatory for the
passport's battery category (catalogue `applicability`) and the catalogue marks it
`requiredAtFirstIssuance`. That flag is set for every static attribute, model- or item-level, and
for the battery status, whose first value (`original`, or the status of a second-life battery) is
known when the passport is made. It is not set for the other dynamic, item-level data of Annex
XIII point 4 (state of health, cycles, temperatures, negative events): the battery has not been
used yet, and those values arrive later by BatteryEventCredential. Nor for the date of putting
into service, which may come after placing on the market. Attributes the Regulation does not
foresee for a category ("not applicable") are accepted, never required.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from vocab.catalogue import Attribute, load_catalogue
from vocab.errors import PassportInvalid
from vocab.models.passport import Passport
from vocab.paths import render_location, resolve

_TYPE_ERRORS = {
    "missing": "required",
    "extra_forbidden": "unknown-field",
    "enum": "allowed-values",
    "string_pattern_mismatch": "pattern",
    "string_too_short": "non-empty",
    "too_short": "non-empty",
    "finite_number": "finite-number",
    "int_from_float": "integer",
    "timezone_aware": "timezone",
    "date_from_datetime_inexact": "date",
    "date_from_datetime_parsing": "date",
    "date_parsing": "date",
    "date_type": "date",
    "datetime_from_date_parsing": "date-time",
    "datetime_parsing": "date-time",
    "datetime_type": "date-time",
}


def _rule(error: dict[str, Any]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    loc = error.get("loc") or ()
    if kind in _TYPE_ERRORS:
        return _TYPE_ERRORS[kind]
    if kind in ("greater_than_equal", "greater_than"):
        return "non-negative" if ctx.get("ge", ctx.get("gt")) == 0 else "minimum"
    if kind in ("less_than_equal", "less_than"):
        return "maximum"
    if kind == "literal_error":
        return "unit" if loc and loc[-1] == "unit" else "allowed-values"
    if kind.endswith(("_type", "_parsing")) or kind in ("model_attributes_type", "bool_parsing"):
        return "type"
    # Our own checks raise PydanticCustomError whose type already is the rule name.
    return kind.replace("_", "-")


def _message(error: dict[str, Any], rule: str) -> str:
    ctx = error.get("ctx") or {}
    loc = error.get("loc") or ()
    if rule == "required":
        return "is required"
    if rule == "unknown-field":
        return f"unknown field {loc[-1]!r}: the battery vocabulary defines no such term here"
    if rule == "unit":
        return f"unit must be {ctx.get('expected')}, got {error.get('input')!r}"
    if rule == "non-negative":
        return f"must not be negative, got {error.get('input')!r}"
    return str(error["msg"])


def translate_errors(exc: ValidationError) -> list[dict[str, str]]:
    """pydantic's errors in the `{"path", "rule", "message"}` shape of `PassportInvalid`."""
    out = []
    for error in exc.errors(include_url=False):
        rule = _rule(error)
        out.append(
            {"path": render_location(error["loc"]), "rule": rule, "message": _message(error, rule)}
        )
    return out


def missing_at_first_issuance(passport: Passport) -> list[Attribute]:
    """Mandatory attributes of the passport's category that it lacks (see the module docstring)."""
    data = passport.to_json()
    category = passport.general.battery_category
    return [
        attribute
        for attribute in load_catalogue().required_at_first_issuance(category)
        if not any(resolve(data, path) for path in attribute.paths)
    ]


def validate_passport(data: Any) -> Passport:
    """Parse and check passport JSON data; raise `PassportInvalid` listing every broken rule."""
    if not isinstance(data, dict):
        raise PassportInvalid(
            [
                {
                    "path": "",
                    "rule": "type",
                    "message": f"a passport is a JSON object, not {type(data).__name__}",
                }
            ]
        )
    try:
        passport = Passport.model_validate(data)
    except ValidationError as exc:
        raise PassportInvalid(translate_errors(exc)) from None
    missing = missing_at_first_issuance(passport)
    if missing:
        category = passport.general.battery_category.value
        raise PassportInvalid(
            [
                {
                    "path": attribute.paths[0].text,
                    "rule": "mandatory",
                    "message": (
                        f"attribute {attribute.number} ({attribute.name}) is mandatory for "
                        f"{category} batteries from the first issuance ({attribute.regulation})"
                    ),
                }
                for attribute in missing
            ]
        )
    return passport
