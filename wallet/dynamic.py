"""The latest value of each dynamic passport attribute among the credentials a service released:
the state of health, usage and battery status (Annex XIII point 4, catalogue rows 11 and 53-93,
and the Annex IV parameters restated on a status change), each with when it was measured and
which credential says so.

Values come from the passport's tier credentials and from the event credentials
(`BatteryEventCredential`) that update them over the battery's life. A reading's own `lastUpdate`
dates it; otherwise the event's `occurredAt`, else the credential's `validFrom`. The newest
reading wins; the others stay in the released credentials as history. Lists of events
(`negativeEvents`) accumulate: the value is every distinct event any credential reported.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from vocab.catalogue import Attribute, Staticity, load_catalogue
from vocab.context import BATTERY_EVENT_CREDENTIAL
from vocab.datetimes import InvalidDateTime, as_utc, parse_datetime
from vocab.paths import resolve
from vocab.tiers import event_document
from vocab.vcdm import as_list


@dataclass(frozen=True)
class Latest:
    number: int  # catalogue row
    name: str
    path: str
    value: Any
    unit: str | None
    at: str | None  # when the value was measured or recorded (as the credential gives it)
    credential: str | None  # id of the credential that carries it
    readings: int  # how many released credentials carry a value of it (1 + history)

    def as_json(self) -> dict[str, Any]:
        return {
            "attribute": self.path,
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "at": self.at,
            "credential": self.credential,
            "readings": self.readings,
        }


def dynamic_attributes() -> list[Attribute]:
    return [a for a in load_catalogue().attributes if a.staticity is not Staticity.STATIC]


def _instant(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return as_utc(parse_datetime(text, require_timezone=False))
    except InvalidDateTime:
        return None


def _data(credential: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The passport-shaped data of a credential and the time it speaks for by default."""
    subject = credential.get("credentialSubject")
    if not isinstance(subject, dict):
        return {}, None
    if BATTERY_EVENT_CREDENTIAL in as_list(credential.get("type", [])):
        return event_document(subject), subject.get("occurredAt") or credential.get("validFrom")
    return subject, credential.get("validFrom")


def _reading(value: Any, unit: str | None) -> tuple[Any, str | None]:
    """The value and unit of one reading: a quantity's number and unit, the status itself, or
    the data without its `lastUpdate` (temperature information, lists of events)."""
    if isinstance(value, dict):
        if "batteryStatus" in value:
            return value["batteryStatus"], None
        if "value" in value and not isinstance(value["value"], dict | list):
            return value["value"], value.get("unit") if isinstance(value.get("unit"), str) else unit
        return {k: v for k, v in value.items() if k != "lastUpdate"}, None
    return value, unit


def text(value: Any) -> str:
    """A value as one line for a table: numbers and strings as they are, quantities with their
    unit, records as `name value` pairs, lists joined with `; `."""
    if isinstance(value, dict):
        if "value" in value and not isinstance(value["value"], dict | list):
            unit = value.get("unit")
            return f"{value['value']}{' ' + unit if isinstance(unit, str) else ''}"
        return ", ".join(f"{k} {text(v)}" for k, v in value.items() if k not in ("type", "id"))
    if isinstance(value, list):
        return "; ".join(text(v) for v in value)
    if isinstance(value, bool) or value is None:
        return "true" if value is True else "false" if value is False else "null"
    return str(value)


def latest_values(credentials: Iterable[dict[str, Any]]) -> list[Latest]:
    """One row per dynamic attribute any of `credentials` (verified ones only) carries, in
    catalogue order."""
    found: dict[int, list[tuple[datetime | None, int, Any, str | None, str | None]]] = {}
    for order, credential in enumerate(credentials):
        data, default_at = _data(credential)
        if not data:
            continue
        for attribute in dynamic_attributes():
            for path in attribute.paths:
                for _, value in resolve(data, path):
                    at = value.get("lastUpdate") if isinstance(value, dict) else None
                    at = at if isinstance(at, str) else default_at
                    found.setdefault(attribute.number, []).append(
                        (_instant(at), order, value, at, credential.get("id"))
                    )
    out = []
    catalogue = load_catalogue()
    oldest = datetime.min.replace(tzinfo=UTC)
    for number, readings in sorted(found.items()):
        attribute = catalogue.attribute(number)
        # newest instant first; a reading without a time, or a tie, goes by release order
        readings.sort(key=lambda r: (r[0] or oldest, r[1]))
        _, _, value, at, credential_id = readings[-1]
        if isinstance(value, list):
            merged: list[Any] = []
            for reading in readings:
                merged.extend(v for v in reading[2] if v not in merged)
            value = merged
        shown, unit = _reading(value, attribute.unit)
        out.append(
            Latest(
                number=number,
                name=attribute.name,
                path=str(attribute.paths[0]),
                value=shown,
                unit=unit,
                at=at,
                credential=credential_id if isinstance(credential_id, str) else None,
                readings=len(readings),
            )
        )
    return out
