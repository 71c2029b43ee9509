"""Read-only views of batteries and passports for the other packages (the resolver's pages and
DID documents, the verifier's restricted-data release) and for the operator's passport view.

These names are an interface: the resolver and verifier code against them. Each takes a
`Session` and never writes.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func
from sqlmodel import Session, col, select

from issuer import batteries, events, store
from issuer.passports import ACTIVE
from issuer.tables import Battery, IssuedCredential, Operator, Passport, Transfer
from vocab.catalogue import Tier
from vocab.datetimes import InvalidDateTime, as_utc, format_datetime, parse_datetime
from vocab.gs1 import InvalidGs1Key, normalise_gtin
from vocab.tiers import merge_tiers, tiers_of_event


@dataclass(frozen=True)
class Handover:
    """The battery was handed over (Art 77(7)) and the operator it went to has not issued a
    passport yet: readers are shown the passport handed over, marked as such."""

    to: str  # DID of the operator responsible now
    at: str  # when the hand-over completed (RFC 3339)
    passport_id: str  # the passport handed over
    by: str  # DID of the operator that handed it over


@dataclass(frozen=True)
class BatteryView:
    id: str
    gtin: str
    serial: str
    item_uri: str
    did: str
    operator_did: str  # the operator responsible now
    category: str | None  # known once a passport is issued
    # The Annex XIII 4(c) battery status. Legitimate-interest data (catalogue row 11): do not
    # show it to the public.
    status: str | None
    passport_id: str
    passport_version: int | None  # None until the first issuance
    passport_state: str | None  # "active", "superseded", "inactive", "archived"
    handover: Handover | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _latest_version(session: Session, passport_id: str) -> Passport | None:
    return session.exec(
        select(Passport).where(Passport.id == passport_id).order_by(col(Passport.version).desc())
    ).first()


def _latest_of_battery():
    """The battery's latest passport version number, correlated to the enclosing query's
    `Battery` (one index probe on the passports primary key)."""
    return (
        select(func.max(Passport.version))
        .where(Passport.id == Battery.passport_id)
        .correlate(Battery)
        .scalar_subquery()
    )


# The resolver's statements are built once, with bound parameters: building a SELECT costs
# SQLAlchemy ~0.2-0.4 ms of Python per call, a noticeable part of a linkset request.
_WITH_LATEST = select(Battery, Passport).outerjoin(
    Passport, and_(Passport.id == Battery.passport_id, Passport.version == _latest_of_battery())
)
_BATTERY_BY_ID = _WITH_LATEST.where(Battery.id == bindparam("battery_id"))
_BATTERY_BY_KEY = _WITH_LATEST.where(
    Battery.gtin == bindparam("gtin"), Battery.serial == bindparam("serial")
)
_TIER_CREDENTIALS = (
    select(IssuedCredential.tier, IssuedCredential.document)
    .join(Battery, Battery.passport_id == IssuedCredential.passport_id)
    .where(
        Battery.id == bindparam("battery_id"),
        IssuedCredential.passport_version == _latest_of_battery(),
        IssuedCredential.kind == store.PASSPORT_TIER,
        col(IssuedCredential.tier).in_(bindparam("tiers", expanding=True)),
    )
)


def _with_latest(
    session: Session, statement, params: dict[str, Any]
) -> tuple[Battery, Passport | None] | None:
    """The battery and its latest passport version in one round trip (the resolver reads this
    on every scan)."""
    row = session.exec(statement, params=params).first()
    return (row[0], row[1]) if row is not None else None


def _handover(session: Session, battery: Battery, latest: Passport | None) -> Handover | None:
    """The hand-over readers must be told about: the battery arrived here and has no passport
    yet, or the passport shown was issued by an operator who has since handed the battery over
    and the new operator has issued nothing since. Looked up only then (not on every scan)."""
    if latest is None:
        row = session.exec(
            select(Transfer)
            .where(Transfer.battery_id == battery.id, Transfer.direction == "in")
            .order_by(col(Transfer.completed_at).desc())
        ).first()
    elif latest.operator_id != battery.operator_id:
        row = session.exec(
            select(Transfer)
            .where(
                Transfer.battery_id == battery.id,
                Transfer.direction == "out",
                Transfer.state == "completed",
                Transfer.passport_id == latest.id,
            )
            .order_by(col(Transfer.completed_at).desc())
        ).first()
        completed = row.completed_at if row is not None else None
        if completed is not None and as_utc(completed) < as_utc(latest.created_at):
            row = None  # the passport shown was issued after the hand-over
    else:
        return None
    if row is None or row.completed_at is None:
        return None
    return Handover(
        to=row.to_did,
        at=format_datetime(as_utc(row.completed_at)),
        passport_id=row.passport_id,
        by=row.from_did,
    )


def _view(session: Session, battery: Battery, latest: Passport | None) -> BatteryView:
    return BatteryView(
        id=battery.id,
        gtin=battery.gtin,
        serial=battery.serial,
        item_uri=battery.item_uri,
        did=battery.did,
        operator_did=batteries.responsible_did(session, battery),
        category=battery.category,
        status=battery.status,
        passport_id=battery.passport_id,
        passport_version=latest.version if latest else None,
        passport_state=latest.state if latest else None,
        handover=_handover(session, battery, latest),
    )


def battery_by_key(session: Session, gtin: str, serial: str) -> BatteryView | None:
    """The battery with this GTIN (8, 12, 13 or 14 digits) and serial (decoded, not
    percent-encoded); None for an unknown battery or an invalid GTIN."""
    try:
        gtin = normalise_gtin(gtin)
    except InvalidGs1Key:
        return None
    found = _with_latest(session, _BATTERY_BY_KEY, {"gtin": gtin, "serial": serial})
    return _view(session, *found) if found else None


def battery_by_id(session: Session, battery_id: str) -> BatteryView | None:
    found = _with_latest(session, _BATTERY_BY_ID, {"battery_id": battery_id})
    return _view(session, *found) if found else None


def credentials_for_tiers(
    session: Session, battery_id: str, tiers: Iterable[Tier | str]
) -> list[dict]:
    """The signed tier credentials of the battery's latest passport version, for `tiers` only.

    The latest version is returned also when the passport is archived or inactive: its data stays
    readable (Art 77(7)-(8)); the state is in `battery_by_id`."""
    wanted = {Tier(t).value for t in tiers}
    # One round trip: the battery, its latest version and only the wanted tiers' documents (a
    # document is several KiB of JSON to parse; the public page needs one of four).
    rows = session.exec(
        _TIER_CREDENTIALS, params={"battery_id": battery_id, "tiers": sorted(wanted)}
    ).all()
    order = [t.value for t in Tier]
    return [document for _, document in sorted(rows, key=lambda r: order.index(r[0] or ""))]


def public_credentials(session: Session, battery_id: str) -> list[dict]:
    """The signed public-tier credential(s) of the battery's current passport; for a battery
    handed over to this instance whose new operator has issued no passport yet, those of the
    passport handed over (as the offering instance served them)."""
    found = credentials_for_tiers(session, battery_id, [Tier.PUBLIC])
    if found:
        return found
    battery = session.get(Battery, battery_id)
    if battery is None or _latest_version(session, battery.passport_id) is not None:
        return found
    arrival = session.exec(
        select(Transfer)
        .where(Transfer.battery_id == battery_id, Transfer.direction == "in")
        .order_by(col(Transfer.completed_at).desc())
    ).first()
    return list(arrival.handed_over or []) if arrival is not None else []


def passport_credentials(session: Session, passport_id: str, tiers: Iterable[Tier | str]) -> list:
    """The signed tier credentials of the latest version of passport `passport_id`, for `tiers`
    (the passport handed over, when the battery's current passport is already another one)."""
    latest = _latest_version(session, passport_id)
    if latest is None:
        return []
    wanted = {Tier(t).value for t in tiers}
    rows = session.exec(
        select(IssuedCredential.tier, IssuedCredential.document).where(
            IssuedCredential.passport_id == passport_id,
            IssuedCredential.passport_version == latest.version,
            IssuedCredential.kind == store.PASSPORT_TIER,
            col(IssuedCredential.tier).in_(sorted(wanted)),
        )
    ).all()
    order = [t.value for t in Tier]
    return [document for _, document in sorted(rows, key=lambda r: order.index(r[0] or ""))]


def released_credentials(
    session: Session, battery_id: str, tiers: Iterable[Tier | str]
) -> list[dict]:
    """What a reader entitled to `tiers` gets: the tier credentials of the current passport,
    then every event credential of the battery (Annex XIII point 4 data and status changes,
    oldest first: the latest values and their history) whose data all belongs to those tiers."""
    wanted = {Tier(t) for t in tiers}
    out = credentials_for_tiers(session, battery_id, wanted)
    for document in events.history(session, battery_id):
        event_tiers = tiers_of_event(document.get("credentialSubject"))
        if event_tiers and event_tiers <= wanted:
            out.append(document)
    return out


def operator_names(session: Session, dids: Iterable[str]) -> dict[str, str]:
    """The names of this instance's operators among `dids` (the page shows names, DIDs on
    request)."""
    wanted = sorted({d for d in dids if isinstance(d, str)})
    if not wanted:
        return {}
    rows = session.exec(
        select(Operator.did, Operator.name).where(col(Operator.did).in_(wanted))
    ).all()
    return {did: name for did, name in rows}


def passport_history(session: Session, battery_id: str) -> list[dict]:
    """Passport-level lifecycle, oldest first: each version's creation and its end (superseded,
    inactive, archived), with time and actor DID. Public-safe: no attribute data."""
    battery = session.get(Battery, battery_id)
    if battery is None:
        return []
    versions = session.exec(
        select(Passport, Operator)
        .where(Passport.battery_id == battery_id, Passport.operator_id == Operator.id)
        .order_by(col(Passport.created_at), col(Passport.version))
    ).all()
    out: list[dict] = []
    for passport, operator in versions:
        base = {"passportId": passport.id, "version": passport.version}
        out.append(
            {
                **base,
                "event": "created",
                "at": format_datetime(passport.created_at),
                "actor": operator.did,
            }
        )
        if passport.state != ACTIVE and passport.superseded_at is not None:
            out.append(
                {
                    **base,
                    "event": passport.state,
                    "at": format_datetime(passport.superseded_at),
                    "actor": passport.state_changed_by or operator.did,
                }
            )
    # Hand-overs (Art 77(7)): the passport handed over and who handed it over, also on the
    # instance the battery arrived at, which holds none of the earlier passport's versions.
    handed = session.exec(
        select(Transfer).where(Transfer.battery_id == battery_id, Transfer.state == "completed")
    ).all()
    seen = set()
    for transfer in handed:
        if transfer.credential_id in seen or transfer.completed_at is None:
            continue
        seen.add(transfer.credential_id)
        out.append(
            {
                "passportId": transfer.passport_id,
                "version": None,
                "event": "transferred",
                "at": format_datetime(transfer.completed_at),
                "actor": transfer.from_did,
                "to": transfer.to_did,
            }
        )
    return sorted(out, key=lambda e: (e["at"], e["version"] or 0, e["event"] != "created"))


# --- the responsible operator's passport view ---------------------------------------------------


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return as_utc(parse_datetime(value, require_timezone=False))
    except InvalidDateTime:
        return None


def _newer(candidate: Any, current: Any) -> bool:
    """A reading replaces another unless both carry lastUpdate and the other is newer."""
    new = _when(candidate.get("lastUpdate")) if isinstance(candidate, dict) else None
    old = _when(current.get("lastUpdate")) if isinstance(current, dict) else None
    return new is None or old is None or new >= old


def apply_events(passport: dict[str, Any], event_credentials: list[dict]) -> dict[str, Any]:
    """The passport data with the latest dynamic values of its events applied (oldest first)."""
    out = copy.deepcopy(passport)
    for credential in event_credentials:
        subject = credential.get("credentialSubject", {})
        status = subject.get("batteryStatus")
        if status is not None:
            lifecycle = out.setdefault("lifecycle", {})
            candidate = {
                "batteryStatus": status,
                "lastUpdate": subject.get("occurredAt"),
                "updatedBy": credential.get("issuer"),
            }
            if _newer(candidate, lifecycle):
                out["lifecycle"] = {k: v for k, v in candidate.items() if v is not None}
        condition = subject.get("condition")
        if isinstance(condition, dict):
            target = out.setdefault("performance", {}).setdefault("condition", {})
            for name, value in condition.items():
                if name == "negativeEvents":
                    known = target.setdefault("negativeEvents", [])
                    known.extend(e for e in value if e not in known)
                elif name not in target or _newer(value, target[name]):
                    target[name] = value
    return out


def passport_view(session: Session, battery_id: str) -> dict[str, Any] | None:
    """Everything the responsible operator sees: the current version's data merged with the
    latest dynamic values, the event history and the version history."""
    battery = session.get(Battery, battery_id)
    if battery is None:
        return None
    view = _view(session, battery, _latest_version(session, battery.passport_id))
    tiers = credentials_for_tiers(session, battery_id, list(Tier))
    subjects = [{k: v for k, v in c["credentialSubject"].items() if k != "id"} for c in tiers]
    history = events.history(session, battery_id)
    passport = apply_events(merge_tiers(subjects), history) if subjects else None
    versions = session.exec(
        select(Passport).where(Passport.id == battery.passport_id).order_by(col(Passport.version))
    ).all()
    return {
        "battery": view.as_dict(),
        "passport": passport,
        "events": history,
        "versions": [
            {
                "passportId": v.id,
                "version": v.version,
                "state": v.state,
                "createdAt": format_datetime(v.created_at),
                "supersededAt": format_datetime(v.superseded_at) if v.superseded_at else None,
            }
            for v in versions
        ],
        "history": passport_history(session, battery_id),
    }
