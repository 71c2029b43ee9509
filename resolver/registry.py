"""The routing registry: which DID and which passport endpoint each battery has now."""

from __future__ import annotations

from sqlmodel import Session, select

from resolver.errors import ResolverError
from resolver.tables import BatteryRoute
from vocab.datetimes import utcnow
from vocab.gs1 import ItemKey


class UnknownBattery(ResolverError):
    code = "unknown-battery"
    status = 404


class BatteryAlreadyRegistered(ResolverError):
    code = "battery-exists"
    status = 409


def battery_did(did_web_base: str, battery_id: str) -> str:
    return f"{did_web_base}:batteries:{battery_id}"


def register(
    session: Session, *, battery_id: str, key: ItemKey, did_web_base: str, holder_did: str
) -> BatteryRoute:
    """Add a battery to the registry in the caller's transaction."""
    if session.exec(
        select(BatteryRoute).where(BatteryRoute.gtin == key.gtin, BatteryRoute.serial == key.serial)
    ).first():
        raise BatteryAlreadyRegistered(f"battery {key.gtin}/{key.serial} is already registered")
    route = BatteryRoute(
        id=battery_id,
        gtin=key.gtin,
        serial=key.serial,
        did=battery_did(did_web_base, battery_id),
        holder_did=holder_did,
    )
    session.add(route)
    session.flush()
    return route


def lookup(session: Session, gtin: str, serial: str) -> BatteryRoute:
    route = session.exec(
        select(BatteryRoute).where(BatteryRoute.gtin == gtin, BatteryRoute.serial == serial)
    ).first()
    if route is None:
        raise UnknownBattery(f"no battery {gtin}/{serial} is registered here")
    return route


def by_did(session: Session, did: str) -> BatteryRoute | None:
    return session.exec(select(BatteryRoute).where(BatteryRoute.did == did)).first()


def repoint(
    session: Session, route: BatteryRoute, *, holder_did: str, endpoint: str | None
) -> BatteryRoute:
    """A new holder: the DID's controller changes, and the passport may now live elsewhere."""
    route.holder_did = holder_did
    route.endpoint = endpoint.rstrip("/") if endpoint else None
    route.state = "moved" if endpoint else "active"
    route.updated_at = utcnow()
    session.add(route)
    session.flush()
    return route
