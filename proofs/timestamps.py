"""XML Schema dateTime values as proofs carry them (`created`, `expires`)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

# xsd:dateTimeStamp: a timezone is required, so two verifiers never read one value differently.
_DATETIME_STAMP = re.compile(
    r"\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})", re.ASCII
)


def format_datetime(value: datetime) -> str:
    """UTC, whole seconds, `Z` suffix: the form vc-data-integrity examples and vectors use."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_datetime(value: object) -> datetime:
    """Parse an xsd:dateTimeStamp; ValueError when it is not one."""
    if not isinstance(value, str) or not _DATETIME_STAMP.fullmatch(value):
        raise ValueError(f"{value!r} is not an XML Schema dateTime with a timezone")
    return datetime.fromisoformat(value)


def utc_now() -> datetime:
    return datetime.now(UTC)


def as_aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
