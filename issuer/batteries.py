"""Registering batteries: GS1 key checked, unique item URI, battery DID, passport id, and the
routing registry entry, all in the caller's transaction."""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlmodel import Session, select

from issuer.config import IssuerConfig
from issuer.errors import BatteryExists, InvalidBulkRequest, NotResponsible, UnknownBattery
from issuer.tables import Battery, Operator
from resolver import registry
from vocab.datetimes import utcnow
from vocab.gs1 import InvalidGs1Key, ItemKey, item_key

_URN_UUID = re.compile(
    r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
)
REGISTRATION_FIELDS = frozenset({"gtin", "serial", "variant", "batch", "passportId"})


def new_passport_id() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def parse_registration(body: dict[str, Any], *, where: str = "") -> tuple[ItemKey, str | None]:
    """The GS1 key and optional passport id of a registration request; errors name the field."""
    unknown = sorted(set(body) - REGISTRATION_FIELDS)
    if unknown:
        raise InvalidBulkRequest(
            where + unknown[0],
            f"unknown field; a registration has {', '.join(sorted(REGISTRATION_FIELDS))}",
            rule="unknown-field",
        )
    for name in ("gtin", "serial"):
        if name not in body:
            raise InvalidBulkRequest(where + name, "is required", rule="required")
    try:
        key = item_key(body["gtin"], body["serial"], body.get("variant"), body.get("batch"))
    except InvalidGs1Key as exc:
        exc.field = where + exc.field
        exc.problem_extensions = {
            "field": exc.field,
            "errors": [{"path": exc.field, "rule": "gs1", "message": str(exc)}],
        }
        raise
    passport_id = body.get("passportId")
    if passport_id is not None and (
        not isinstance(passport_id, str) or not _URN_UUID.fullmatch(passport_id)
    ):
        raise InvalidBulkRequest(
            where + "passportId",
            f"{passport_id!r} must be a lowercase urn:uuid (RFC 9562)",
            rule="urn-uuid",
        )
    return key, passport_id


def register(
    session: Session,
    config: IssuerConfig,
    operator: Operator,
    key: ItemKey,
    *,
    passport_id: str | None = None,
    battery_id: str | None = None,
) -> Battery:
    """Register a battery for `operator` (who becomes responsible for it); 409 if it exists."""
    existing = session.exec(
        select(Battery).where(Battery.gtin == key.gtin, Battery.serial == key.serial)
    ).first()
    if existing is not None:
        raise BatteryExists(
            "serial",
            f"battery GTIN {key.gtin} serial {key.serial!r} is already registered "
            f"(id {existing.id})"
            if existing.operator_id == operator.id
            else f"battery GTIN {key.gtin} serial {key.serial!r} is already registered",
        )
    if (
        passport_id is not None
        and session.exec(select(Battery.id).where(Battery.passport_id == passport_id)).first()
    ):
        raise BatteryExists("passportId", f"passport id {passport_id} is already in use")
    battery_id = battery_id or str(uuid.uuid4())
    now = utcnow()
    battery = planned(config, operator, key, battery_id, passport_id or new_passport_id())
    battery.created_at = battery.updated_at = now
    session.add(battery)
    registry.register(
        session,
        battery_id=battery_id,
        key=key,
        did_web_base=config.did_web_base,
        holder_did=operator.did,
    )
    return battery


def planned(
    config: IssuerConfig, operator: Operator, key: ItemKey, battery_id: str, passport_id: str
) -> Battery:
    """The battery row a registration will write (not added to any session)."""
    return Battery(
        id=battery_id,
        gtin=key.gtin,
        serial=key.serial,
        variant=key.variant,
        batch=key.batch,
        item_uri=key.uri(config.public_url),
        did=registry.battery_did(config.did_web_base, battery_id),
        operator_id=operator.id,
        passport_id=passport_id,
    )


def get(session: Session, battery_id: str) -> Battery:
    battery = session.get(Battery, battery_id)
    if battery is None:
        raise UnknownBattery(f"no battery {battery_id!r} is registered here")
    return battery


def responsible_did(session: Session, battery: Battery) -> str:
    """The DID of the operator responsible for the battery now: the routing registry's answer
    (`resolver.registry.responsible_operator`), or the registering operator for a battery that
    has no route (yet)."""
    holder = registry.responsible_operator(session, battery.id)
    if holder is not None:
        return holder
    operator = session.get(Operator, battery.operator_id)
    return operator.did if operator is not None else ""


def require_responsible(session: Session, battery: Battery, operator: Operator) -> None:
    """Only the operator responsible for the battery now may issue or post for it."""
    responsible = responsible_did(session, battery)
    if responsible == operator.did:
        return
    # The responsible operator's DID is in every credential issued for the battery and in the
    # battery DID document, so naming it discloses nothing.
    who = f" ({responsible})" if responsible else ""
    raise NotResponsible(
        "operator",
        f"{operator.did} is not the operator responsible for battery {battery.id}; only the "
        f"responsible operator{who} may issue its passport or post its events",
    )
