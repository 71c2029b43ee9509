"""Reading the portal's query strings and form fields: every bad value is a `BadForm` naming
the field, never a 500."""

from __future__ import annotations

from datetime import UTC, datetime

from portal.errors import BadForm
from vocab.datetimes import as_utc
from vocab.gs1 import InvalidGs1Key, normalise_gtin


def text(value: str | None, field: str, *, max_len: int = 100) -> str | None:
    value = (value or "").strip()
    if not value:
        return None
    if len(value) > max_len:
        raise BadForm(f"{field}: at most {max_len} characters")
    return value


def gtin(value: str | None) -> str | None:
    value = text(value, "GTIN", max_len=14)
    if value is None:
        return None
    try:
        return normalise_gtin(value)
    except InvalidGs1Key as exc:
        raise BadForm(f"GTIN: {exc}") from None


def day(value: str | None, field: str) -> datetime | None:
    """A date (YYYY-MM-DD, what <input type=date> sends) as midnight UTC."""
    value = text(value, field, max_len=10)
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise BadForm(f"{field}: must be a date as YYYY-MM-DD") from None


def cursor(value: str | None) -> tuple[datetime, str] | None:
    """The keyset of the previous page's last row: `<ISO 8601 time>~<battery id>`."""
    value = text(value, "after", max_len=120)
    if value is None:
        return None
    when, sep, battery_id = value.partition("~")
    if not sep or not battery_id:
        raise BadForm("after: not a page cursor of this list")
    try:
        created = datetime.fromisoformat(when)
    except ValueError:
        raise BadForm("after: not a page cursor of this list") from None
    if created.tzinfo is None:
        raise BadForm("after: not a page cursor of this list")
    return created, battery_id


def cursor_of(created: datetime, battery_id: str) -> str:
    # full precision: rows created in the same second must not be skipped between pages
    return f"{as_utc(created).isoformat()}~{battery_id}"


def choice(value: str | None, field: str, allowed: tuple[str, ...]) -> str | None:
    value = text(value, field)
    if value is not None and value not in allowed:
        raise BadForm(f"{field}: must be one of {', '.join(allowed)}")
    return value
