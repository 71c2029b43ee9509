"""A battery's next life (Art 77(7)): a `repurposed` or `remanufactured` battery gets a new
passport linked to the passport(s) it came from, and those become `inactive` (never deleted:
they stay readable and their credentials keep verifying as history).

Predecessors are passports of batteries the issuing operator is responsible for now: passports
held here (a battery handed over on this instance, or the modules of a pack), or passports handed
over to it by another instance (`transfers.arrive`), whose instance is told to mark them inactive.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from issuer import batteries, lifecycle, passports, transfers
from issuer.config import IssuerConfig
from issuer.errors import InvalidOffer, PredecessorNotYours, UnknownPredecessor
from issuer.passports import ACTIVE, INACTIVE
from issuer.tables import Battery, Operator, Passport, Transfer
from proofs import dataintegrity
from proofs.dataintegrity import VerificationMethodResolver
from proofs.errors import ProofError
from resolver.errors import ResolverError
from vocab.context import PUBLIC_PASSPORT_CREDENTIAL
from vocab.datetimes import utcnow
from vocab.errors import VocabError
from vocab.vcdm import as_list, issuer_id

NEW_LIFE = frozenset({"repurposed", "remanufactured"})


@dataclass
class Predecessors:
    """The predecessors a new passport names: latest versions held here (to mark inactive) and
    passport ids held by other instances, by instance base URL (to tell them)."""

    local: list[Passport] = field(default_factory=list)
    remote: dict[str, list[str]] = field(default_factory=dict)


def _latest(session: Session, passport_id: str) -> Passport | None:
    return session.exec(
        select(Passport).where(Passport.id == passport_id).order_by(col(Passport.version).desc())
    ).first()


def _status(data: dict[str, Any]) -> Any:
    lifecycle = data.get("lifecycle")
    return lifecycle.get("batteryStatus") if isinstance(lifecycle, dict) else None


def begin(
    session: Session, operator: Operator, battery: Battery, data: Any
) -> tuple[Any, Predecessors]:
    """Before issuing: start a new passport when this issuance begins a new life, fill in the
    default predecessor, and check every predecessor named. Returns the passport data to issue."""
    if not isinstance(data, dict):
        return data, Predecessors()
    given = data.get("predecessor")
    latest = _latest(session, battery.passport_id)
    default: list[str] | None = None
    if latest is not None and _status(data) in NEW_LIFE:
        # A new life after a hand-over on this instance (the passport was another operator's),
        # or an operator that names its battery's own passport as predecessor.
        if latest.operator_id != operator.id or (
            isinstance(given, list) and battery.passport_id in given
        ):
            default = [battery.passport_id]
            battery.passport_id = batteries.new_passport_id()
            session.add(battery)
    elif latest is None:
        arrival = transfers.inbound(session, battery.id)
        if arrival is not None:
            default = [arrival.passport_id]
    if given is None and default:
        data = {**data, "predecessor": default}
    return data, check(session, operator, battery, data.get("predecessor"))


def check(session: Session, operator: Operator, battery: Battery, named: Any) -> Predecessors:
    out = Predecessors()
    if not isinstance(named, list):
        return out  # absent, or the passport validation names the error
    for index, passport_id in enumerate(named):
        if not isinstance(passport_id, str):
            continue
        where = f"predecessor[{index}]"
        if passport_id == battery.passport_id:
            raise UnknownPredecessor(where, "a passport cannot be its own predecessor")
        version = _latest(session, passport_id)
        if version is not None:
            owner = session.get(Battery, version.battery_id)
            holder = batteries.responsible_did(session, owner) if owner else ""
            if holder != operator.did:
                raise PredecessorNotYours(
                    where,
                    f"passport {passport_id} belongs to a battery {operator.did} is not "
                    "responsible for; only passports of batteries transferred to you can be "
                    "predecessors",
                )
            out.local.append(version)
            continue
        arrival = session.exec(
            select(Transfer).where(
                Transfer.passport_id == passport_id,
                Transfer.direction == transfers.IN,
                Transfer.state == transfers.COMPLETED,
            )
        ).first()
        if arrival is not None:
            owner = session.get(Battery, arrival.battery_id)
            holder = batteries.responsible_did(session, owner) if owner else ""
            if holder != operator.did or arrival.origin is None:
                raise PredecessorNotYours(
                    where,
                    f"passport {passport_id} was not transferred to {operator.did}; only "
                    "passports of batteries transferred to you can be predecessors",
                )
            out.remote.setdefault(arrival.origin, []).append(passport_id)
            continue
        raise UnknownPredecessor(
            where,
            f"no passport {passport_id} exists here, nor was one transferred to {operator.did}",
        )
    return out


def finish(
    session: Session, predecessors: Predecessors, actor: str, now: datetime | None = None
) -> None:
    """Mark the local predecessors inactive (their credentials and status bits stay as they are)."""
    now = now or utcnow()
    for version in predecessors.local:
        if version.state == ACTIVE:
            version.state = INACTIVE
            version.superseded_at = now
            version.state_changed_by = actor
            session.add(version)
    session.flush()


def record_successor(
    session: Session, document: Any, resolve: VerificationMethodResolver
) -> list[str]:
    """Another instance tells this one that a new passport succeeds passports held here: the
    new passport's public credential, signed by the operator now responsible for the batteries
    those passports describe. Marks them inactive (idempotent); returns their ids."""
    if not isinstance(document, dict) or not isinstance(document.get("credentialSubject"), dict):
        raise InvalidOffer("send the new passport's public credential as verifiableCredential")
    try:
        verified = dataintegrity.verify_proof(document, resolve, expected_purpose="assertionMethod")
    except (ProofError, ResolverError, VocabError) as exc:
        raise InvalidOffer(f"the new passport's credential does not verify: {exc}") from None
    issuer = issuer_id(document)
    if {p.controller for p in verified} != {issuer}:
        raise InvalidOffer(f"the new passport's credential is not signed by its issuer {issuer}")
    named = [p for p in as_list(document["credentialSubject"].get("predecessor", [])) if p]
    held: list[Passport] = []
    for passport_id in named:
        version = _latest(session, passport_id) if isinstance(passport_id, str) else None
        if version is None:
            continue
        owner = session.get(Battery, version.battery_id)
        if owner is None or batteries.responsible_did(session, owner) != issuer:
            raise PredecessorNotYours(
                "predecessor",
                f"passport {passport_id} belongs to a battery {issuer} is not responsible for",
            )
        held.append(version)
    if not held:
        raise UnknownPredecessor("predecessor", "none of the predecessor passports is held here")
    finish(session, Predecessors(local=held), issuer)
    return [v.id for v in held]


# Tells another instance that a new passport succeeds passports it holds: (base URL, public
# credential of the new passport). Raises a problem when that instance cannot be told.
Notify = Callable[[str, dict[str, Any]], None]


def issue(
    session: Session,
    config: IssuerConfig,
    operator: Operator,
    battery_id: str,
    data: Any,
    *,
    notify: Notify | None = None,
) -> passports.IssuedPassport:
    """Issue the battery's next passport version, or the first passport of its next life, in
    the caller's transaction. Other instances holding predecessors are told before the caller
    commits, so a refusal there leaves nothing written here."""
    battery = batteries.get(session, battery_id)
    batteries.require_responsible(session, battery, operator)
    if isinstance(data, dict):
        status = _status(data)
        lifecycle.check(battery.status, status if isinstance(status, str) else None)
    data, predecessors = begin(session, operator, battery, data)
    issuance, allocated = passports.plan(session, config, operator, battery, data)
    prepared = passports.prepare(issuance)
    issued = passports.commit(session, operator, battery, issuance, allocated, prepared)
    finish(session, predecessors, operator.did)
    if predecessors.remote and notify is not None:
        public = next(
            c for c in issued.credentials if PUBLIC_PASSPORT_CREDENTIAL in as_list(c["type"])
        )
        for origin in predecessors.remote:
            notify(origin, public)
    return issued
