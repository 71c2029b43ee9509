"""XML Schema date-times as VC Data Model 2.0 uses them, and UTC helpers."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache

# XML Schema 1.1 dateTimeStamp: a dateTime with a mandatory time-zone offset (VCDM 2.0 §4.9).
_DATETIME = re.compile(
    r"-?(?P<y>[0-9]{4,})-(?P<mo>[0-9]{2})-(?P<d>[0-9]{2})T(?P<h>[0-9]{2}):(?P<mi>[0-9]{2}):"
    r"(?P<s>[0-9]{2})(?P<f>\.[0-9]+)?(?P<tz>Z|[+-][0-9]{2}:[0-9]{2})?"
)


class InvalidDateTime(ValueError):
    pass


def parse_datetime(value: str, *, require_timezone: bool = True) -> datetime:
    """Parse an XML Schema dateTime(Stamp); naive values are UTC when `require_timezone` is off."""
    if not isinstance(value, str):
        raise InvalidDateTime(f"{value!r} is not a string")
    return _parse(value, require_timezone)


# Kept per text (refusals are not): verifying a credential reads its validFrom twice (the data
# model check, then the validity check), and proofs of one issuer share `created` values.
@lru_cache(maxsize=1024)
def _parse(value: str, require_timezone: bool) -> datetime:
    match = _DATETIME.fullmatch(value)
    if not match:
        raise InvalidDateTime(f"{value!r} is not an XML Schema dateTime")
    if match["tz"] is None and require_timezone:
        raise InvalidDateTime(f"{value!r} has no time-zone offset (dateTimeStamp requires one)")
    text = value
    if match["tz"] == "Z":
        text = value[:-1] + "+00:00"
    fraction = match["f"]
    if fraction and len(fraction) > 7:  # Python keeps microseconds only
        text = text.replace(fraction, fraction[:7], 1)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidDateTime(f"{value!r} is not a valid date-time: {exc}") from None
    return as_utc(parsed)


def has_timezone(value: object) -> bool:
    """Whether a (well-formed) date-time string carries `Z` or a `±hh:mm` offset."""
    match = _DATETIME.fullmatch(value) if isinstance(value, str) else None
    return bool(match and match["tz"])


def as_utc(value: datetime) -> datetime:
    """Databases hand back naive date-times (SQLite); everything dbp stores is UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def format_datetime(value: datetime) -> str:
    """UTC, whole seconds, `Z` suffix: the form Data Integrity proofs and VCs use."""
    return as_utc(value).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
