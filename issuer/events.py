"""Dynamic data (Annex XIII point 4) and battery status changes, each a BatteryEventCredential
issued by the operator responsible for the battery now.

Everything an event says is legitimate-interest data (catalogue rows 11 and 53-93), so event
credentials are never served publicly: restricted-data access releases them, all of them, to
readers entitled to the tiers of their data (`views.released_credentials`), and the passport view
that merges them is for the responsible operator only. A status change follows the lifecycle rules
(`issuer.lifecycle`); after `recycled` nothing more is recorded.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, select

from issuer import batteries, lifecycle, operators, statuslists, store
from issuer.config import IssuerConfig
from issuer.dppregistry import outbox as registry_outbox
from issuer.errors import IssuerError, PassportMismatch
from issuer.passports import ACTIVE, ARCHIVED
from issuer.tables import Battery, IssuedCredential, Operator, Passport
from proofs import dataintegrity
from vocab.context import BATTERY_EVENT_CREDENTIAL, CREDENTIAL_CONTEXTS
from vocab.datetimes import InvalidDateTime, as_utc, format_datetime, parse_datetime, utcnow
from vocab.models.events import BatteryEvent, BatteryEventType
from vocab.models.status import BatteryStatus
from vocab.validation import translate_errors


class EventInvalid(IssuerError):
    """An event that breaks the vocabulary's rules; `errors` as in PassportInvalid."""

    code = "event-invalid"
    status = 422

    def __init__(self, errors: list[dict[str, str]]) -> None:
        first = errors[0] if errors else {"path": "", "message": "invalid event"}
        super().__init__(f"{first['path'] or 'event'}: {first['message']}")
        self.problem_extensions = {"field": first["path"], "errors": errors}


class NoPassportYet(IssuerError):
    code = "no-passport"
    status = 409


def parse_event(data: Any, battery: Battery) -> BatteryEvent:
    """The event subject: the client's fields plus the battery and passport it is about."""
    if not isinstance(data, dict):
        raise EventInvalid([{"path": "", "rule": "type", "message": "an event is a JSON object"}])
    out = dict(data)
    for name, value in (("battery", battery.item_uri), ("passportId", battery.passport_id)):
        if name in out and out[name] != value:
            raise PassportMismatch(name, f"must be {value!r} for battery {battery.id}")
        out[name] = value
    try:
        return BatteryEvent.model_validate(out)
    except ValidationError as exc:
        raise EventInvalid(translate_errors(exc)) from None


def event_credential(
    event: BatteryEvent,
    *,
    credential_id: str,
    issuer_did: str,
    battery_did: str,
    status: tuple[dict, dict],
) -> dict[str, Any]:
    return {
        "@context": list(CREDENTIAL_CONTEXTS),
        "id": credential_id,
        "type": ["VerifiableCredential", BATTERY_EVENT_CREDENTIAL],
        "issuer": issuer_did,
        "validFrom": format_datetime(utcnow()),
        "credentialSubject": {
            "id": battery_did,
            **event.model_dump(mode="json", by_alias=True, exclude_none=True),
        },
        "credentialStatus": [dict(status[0]), dict(status[1])],
    }


def post(
    session: Session, config: IssuerConfig, operator: Operator, battery_id: str, data: Any
) -> dict[str, Any]:
    """Issue and store an event credential; a status change also updates the battery."""
    battery = batteries.get(session, battery_id)
    batteries.require_responsible(session, battery, operator)
    event = parse_event(data, battery)
    current = session.exec(
        select(Passport)
        .where(Passport.id == battery.passport_id)
        .order_by(
            Passport.version.desc()  # type: ignore[attr-defined]
        )
    ).first()
    if current is None:
        raise NoPassportYet(
            f"battery {battery.id} has no issued passport yet; issue it before posting events"
        )
    # Art 77(7)-(8): a status only moves forward, and nothing follows `recycled`.
    requested = event.battery_status.value if event.battery_status is not None else None
    lifecycle.check(battery.status, requested)
    signing = operators.signing_key(session, operator, config.master_key)
    [(revocation, suspension)] = statuslists.allocate(session, config, operator, 1)
    signed = dataintegrity.create_proof(
        event_credential(
            event,
            credential_id=f"urn:uuid:{uuid.uuid4()}",
            issuer_did=operator.did,
            battery_did=battery.did,
            status=(revocation.entry, suspension.entry),
        ),
        signing.key,
        signing.verification_method,
        proof_purpose="assertionMethod",
    )
    store.store(
        session,
        operator_id=operator.id,
        document=signed,
        kind=store.EVENT,
        battery_id=battery.id,
        passport_id=battery.passport_id,
        passport_version=current.version,
        status_entries=(revocation, suspension),
    )
    if event.event_type is BatteryEventType.STATUS_CHANGE and event.battery_status is not None:
        battery.status = event.battery_status.value
        # Art 77(8): after recycling the passport "shall cease to exist"; it is archived, never
        # deleted, so its history stays readable.
        if event.battery_status is BatteryStatus.RECYCLED and current.state == ACTIVE:
            current.state = ARCHIVED
            current.superseded_at = utcnow()
            current.state_changed_by = operator.did
            session.add(current)
            # ...and its registry entry is deactivated (queued here, sent later)
            registry_outbox.deactivate_battery(session, battery)
    battery.updated_at = utcnow()
    session.add(battery)
    session.flush()
    return signed


def history(session: Session, battery_id: str) -> list[dict[str, Any]]:
    """Every event credential of a battery, oldest event first."""
    rows = session.exec(
        select(IssuedCredential).where(
            IssuedCredential.battery_id == battery_id, IssuedCredential.kind == store.EVENT
        )
    ).all()
    return sorted((row.document for row in rows), key=_occurred)


def _occurred(document: dict[str, Any]) -> tuple[datetime, str]:
    # Offsets differ between clients: compare instants, not strings.
    subject = document.get("credentialSubject", {})
    try:
        when = as_utc(parse_datetime(subject.get("occurredAt", ""), require_timezone=False))
    except InvalidDateTime:
        when = datetime.min.replace(tzinfo=UTC)
    return when, document.get("validFrom", "")
