"""The routing registry: which DID and which passport endpoint each battery has now.

A battery's passport is served here unless its route names another instance: the `endpoint` of the
dbp instance that holds it now (second life), or the `successor` named when its operator left the
market. An operator that leaves without a successor leaves its batteries `archived` here: this
instance keeps serving the copy it holds (Art 78(e): the passport stays available when the
economic operator ceases to exist).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam
from sqlmodel import Session, select

# Imported for its flush listener: every process that writes batteries (they all register them
# through this module) invalidates the resolver's materialized answers (resolver.views).
from resolver import views as _views  # noqa: F401
from resolver.errors import ResolverError
from resolver.tables import BatteryRoute, BatteryTenure
from vocab.datetimes import utcnow
from vocab.gs1 import ItemKey
from vocab.urls import InvalidUrl, split_url


class UnknownBattery(ResolverError):
    code = "unknown-battery"
    status = 404


class BatteryAlreadyRegistered(ResolverError):
    code = "battery-exists"
    status = 409


class InvalidEndpoint(ResolverError):
    code = "invalid-endpoint"
    status = 400

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.problem_extensions = {"field": field}


ACTIVE = "active"  # served here
MOVED = "moved"  # another instance holds it now (endpoint)
ARCHIVED = "archived"  # its operator left: successor, or the copy kept here


def battery_did(did_web_base: str, battery_id: str) -> str:
    return f"{did_web_base}:batteries:{battery_id}"


def register(
    session: Session,
    *,
    battery_id: str,
    key: ItemKey,
    did_web_base: str,
    holder_did: str,
    did: str | None = None,
) -> BatteryRoute:
    """Add a battery to the registry in the caller's transaction.

    `did` is for a battery that arrives from another instance and keeps the DID it has; by
    default the battery gets a DID under this service."""
    if session.exec(
        select(BatteryRoute).where(BatteryRoute.gtin == key.gtin, BatteryRoute.serial == key.serial)
    ).first():
        raise BatteryAlreadyRegistered(f"battery {key.gtin}/{key.serial} is already registered")
    route = new_route(battery_id, key, did_web_base, holder_did, did)
    session.add(route)
    session.flush()
    return route


def new_route(
    battery_id: str, key: ItemKey, did_web_base: str, holder_did: str, did: str | None = None
) -> BatteryRoute:
    """The route `register` adds (not added to any session). Bulk issuance adds many at once and
    leaves the duplicate check to the unique (gtin, serial) constraint: a group that hits it is
    rolled back and its items registered one by one (issuer.bulk.commit_group)."""
    return BatteryRoute(
        id=battery_id,
        gtin=key.gtin,
        serial=key.serial,
        did=did or battery_did(did_web_base, battery_id),
        holder_did=holder_did,
    )


# Built once (bound parameters): every scan of a QR code runs it.
_BY_KEY = select(BatteryRoute).where(
    BatteryRoute.gtin == bindparam("gtin"), BatteryRoute.serial == bindparam("serial")
)


def lookup(session: Session, gtin: str, serial: str) -> BatteryRoute:
    route = session.exec(_BY_KEY, params={"gtin": gtin, "serial": serial}).first()
    if route is None:
        raise UnknownBattery(f"no battery {gtin}/{serial} is registered here")
    return route


def by_id(session: Session, battery_id: str) -> BatteryRoute:
    route = session.get(BatteryRoute, battery_id)
    if route is None:
        raise UnknownBattery(f"no battery {battery_id!r} is registered here")
    return route


def lock(session: Session, battery_id: str) -> BatteryRoute:
    """The route, locked until the caller's transaction ends (SELECT ... FOR UPDATE)."""
    route = session.exec(
        select(BatteryRoute).where(BatteryRoute.id == battery_id).with_for_update()
    ).first()
    if route is None:
        raise UnknownBattery(f"no battery {battery_id!r} is registered here")
    return route


def by_did(session: Session, did: str) -> BatteryRoute | None:
    return session.exec(select(BatteryRoute).where(BatteryRoute.did == did)).first()


def responsible_operator(session: Session, battery: str | ItemKey) -> str | None:
    """The one query for the operator responsible for a battery now, by the battery's id or its
    item key: the holder in the routing registry, which a hand-over re-points (the new operator
    may live on another instance) and PUT /route re-points too. None when the battery is not
    registered here. The issuer (`issuer.batteries.responsible_did`, which falls back to the
    registering operator) and the verifier (`verifier.authority`) both ask this."""
    if isinstance(battery, ItemKey):
        route = session.exec(
            _BY_KEY, params={"gtin": battery.gtin, "serial": battery.serial}
        ).first()
    else:
        route = session.get(BatteryRoute, battery)
    return route.holder_did if route is not None else None


def normalise_endpoint(value: object, *, field: str, own_url: str) -> str | None:
    """An instance base URL (`http(s)://host[:port][/path]`, no query or fragment), without a
    trailing slash; None when it is this instance."""
    if value is None:
        return None
    try:
        parts = split_url(value, field=field)
    except InvalidUrl:
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username is not None
        or parts.password is not None
        or parts.query
        or parts.fragment
    ):
        raise InvalidEndpoint(
            field, f"{value!r} must be the base URL of a dbp instance, like https://dpp.example.com"
        )
    url = str(value).rstrip("/")
    return None if url == own_url.rstrip("/") else url


@dataclass(frozen=True)
class Placement:
    """Where a battery's passport is read now."""

    here: bool
    base_url: str  # the instance serving it: this one, the holder's, or the successor
    archived: bool = False  # served from the copy kept here after the operator left


def placement(route: BatteryRoute, own_url: str) -> Placement:
    if route.endpoint:
        return Placement(False, route.endpoint)
    if route.successor:
        return Placement(False, route.successor, archived=True)
    return Placement(True, own_url.rstrip("/"), archived=route.state == ARCHIVED)


def repoint(
    session: Session, route: BatteryRoute, *, holder_did: str, endpoint: str | None
) -> BatteryRoute:
    """A new holder: the DID's controller changes, and the passport may now live elsewhere.
    A successor named when the previous holder left no longer applies: the new holder decides."""
    route.holder_did = holder_did
    route.successor = None
    route.endpoint = endpoint.rstrip("/") if endpoint else None
    route.state = MOVED if endpoint else ACTIVE
    route.updated_at = utcnow()
    session.add(route)
    session.flush()
    return route


def held_here(session: Session, holder_did: str) -> list[BatteryRoute]:
    """The batteries `holder_did` holds on this instance (not handed to another one)."""
    return list(
        session.exec(
            select(BatteryRoute).where(
                BatteryRoute.holder_did == holder_did, BatteryRoute.endpoint.is_(None)
            )
        ).all()
    )


def hand_over(
    session: Session, holder_did: str, *, successor: str | None, backup_url: str | None
) -> list[BatteryRoute]:
    """The operator `holder_did` leaves the market: every battery it holds here is archived and
    from now on resolves at `successor` (when named) or from the copy at `backup_url`.
    Batteries it already handed to another instance are not its to route any more."""
    if successor is None and backup_url is None:
        raise ValueError("a successor or a backup copy is required")
    routes = held_here(session, holder_did)
    now = utcnow()
    for route in routes:
        route.state = ARCHIVED
        route.successor = successor.rstrip("/") if successor else None
        route.backup_url = backup_url.rstrip("/") if backup_url else None
        route.updated_at = now
        session.add(route)
    session.flush()
    return list(routes)


# --- responsibility history ----------------------------------------------------------------------


def tenures(session: Session, battery_id: str) -> list[BatteryTenure]:
    """The recorded tenures of a battery, oldest first (none for a battery never handed over)."""
    return list(
        session.exec(
            select(BatteryTenure)
            .where(BatteryTenure.battery_id == battery_id)
            .order_by(BatteryTenure.since)  # type: ignore[arg-type]
        ).all()
    )


def whole_seconds(when: datetime) -> datetime:
    """Credentials state their times in whole seconds: a tenure that starts at 12:00:00.7 must
    cover a credential issued in that second (validFrom 12:00:00)."""
    return when.replace(microsecond=0)


def end_of_second(when: datetime) -> datetime:
    """The end of a tenure, rounded up to a whole second: a hand-over at 12:00:05.9 must still
    cover a credential the earlier operator issued in that second (validFrom 12:00:05), on this
    instance and on the next one, which only learns the end in whole seconds. (Rounding down made
    a passport issued in the hand-over's second fail the trust check at the receiving instance.)"""
    if when.microsecond == 0:
        return when
    return when.replace(microsecond=0) + timedelta(seconds=1)


def record_hand_over(
    session: Session,
    route: BatteryRoute,
    *,
    to_did: str,
    endpoint: str | None,
    transfer_id: str,
    at: datetime,
    first_since: datetime,
) -> BatteryRoute:
    """Close the current holder's tenure at `at`, open `to_did`'s, and re-point the battery.

    `first_since` is when the current holder's tenure began when no tenure was recorded yet
    (the battery's registration)."""
    rows = tenures(session, route.id)
    current = next((t for t in rows if t.until is None), None)
    if current is None:
        current = BatteryTenure(
            id=str(uuid.uuid4()),
            battery_id=route.id,
            operator_did=route.holder_did,
            since=whole_seconds(first_since),
        )
    current.until = end_of_second(at)
    session.add(current)
    session.add(
        BatteryTenure(
            id=str(uuid.uuid4()),
            battery_id=route.id,
            operator_did=to_did,
            since=whole_seconds(at),
            transfer_id=transfer_id,
        )
    )
    return repoint(session, route, holder_did=to_did, endpoint=endpoint)


def record_tenures(session: Session, battery_id: str, periods: list[BatteryTenure]) -> None:
    """Tenures a battery arriving from another instance brings along (its history there)."""
    for period in periods:
        period.battery_id = battery_id
        period.id = str(uuid.uuid4())
        session.add(period)
