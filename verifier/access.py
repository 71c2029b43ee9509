"""Releasing restricted passport data: a presentation in, exactly the credentials of the allowed
tiers out (the passport's tier credentials and the battery's event credentials, each by the tiers
of its data), and one access-log row either way.

Order of judgement: the presentation and its challenge (who is asking), every embedded credential
(what it proves), the battery, each grant against the battery, then the tiers. A refusal names its
reason; its message never says what the battery's restricted tiers hold or whether they exist.

Transactions: the decision is taken on a read-only view; then one short write transaction spends
the challenge and appends the log row together. A refusal is committed before the problem is
returned. If another request spent the same challenge in the meantime, the release is turned into
a `challenge-replayed` refusal in that same transaction, so a log never shows a release that did
not happen.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from proofs import jose
from proofs.errors import ProofError
from verifier import audit, challenges
from verifier.audit import Decision
from verifier.entitlements import Grant
from verifier.errors import (
    AccessLogBroken,
    GrantExpired,
    GrantIssuerNotResponsible,
    GrantOtherBattery,
    InvalidAccessRequest,
    InvalidCredential,
    NoEntitlement,
    Refusal,
    TierNotAllowed,
    UnknownBattery,
)
from verifier.passports import PassportStore
from verifier.policy import AccessPolicy
from verifier.presentations import VerifyPresentation, authenticate
from verifier.result import Result
from vocab import json_text
from vocab.catalogue import Tier
from vocab.datetimes import utcnow
from vocab.errors import VocabError
from vocab.gs1 import ItemKey
from vocab.tiers import tiers_of_credential
from vocab.vcdm import as_list

log = logging.getLogger("dbp.verifier")

# operator responsible for the battery now, per the routing registry; None if not registered
OperatorOf = Callable[[Session, ItemKey], str | None]


@dataclass(frozen=True)
class Release:
    battery: str
    tiers: list[str]
    credentials: list[dict]
    reader: str | None = None  # the authenticated requester (signed document links name it)

    def as_json(self) -> dict:
        return {
            "battery": self.battery,
            "tiers": self.tiers,
            "verifiableCredentials": self.credentials,
        }


def _requested_tiers(value: object) -> frozenset[Tier] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise InvalidAccessRequest("tiers, when given, must be a non-empty list of access tiers")
    try:
        return frozenset(Tier(t) for t in value)
    except ValueError:
        raise InvalidAccessRequest(
            f"tiers must name access tiers: {', '.join(t.value for t in Tier)}"
        ) from None


def tiers_of(credential: dict) -> frozenset[Tier]:
    """The tiers a stored credential's data belongs to: a passport tier credential's tier, or for
    an event credential (Annex XIII point 4 data, status changes) the catalogue's tier of each
    attribute it carries. Empty when unknown: such a credential is released to nobody."""
    document = credential
    if "EnvelopedVerifiableCredential" in as_list(credential.get("type", [])):
        try:
            _, payload, _ = jose.parse_compact(jose.unwrap_envelope(credential))
            document = json_text.loads_lenient(payload)
        except (ProofError, VocabError, ValueError):
            return frozenset()
    return tiers_of_credential(document)


def _judge_grant(grant: Grant, result: Result, key: ItemKey, operator: str | None, now) -> None:
    failures = [c for c in result.checks if c.status == "failed"]
    if grant.expiry <= now or any(c.name == "validity" and c.code == "expired" for c in failures):
        raise GrantExpired("the access grant has expired")
    if not grant.covers(key):
        raise GrantOtherBattery("the access grant does not cover this battery")
    if operator is None or grant.issuer != operator:
        raise GrantIssuerNotResponsible(
            "the access grant was not issued by the operator responsible for this battery now"
        )
    for check in failures:
        if check.name == "trust":
            raise GrantIssuerNotResponsible(f"the access grant: {check.detail}")
    if failures:
        raise InvalidCredential(
            f"the access grant did not verify ({failures[0].name}: {failures[0].detail})"
        )


def _decide(
    session: Session,
    *,
    key: ItemKey | None,
    body: dict,
    passports: PassportStore,
    policy: AccessPolicy,
    verify: VerifyPresentation,
    operator_of: OperatorOf,
    decision: Decision,
    now: datetime,
    spent: list[str],
) -> Release:
    # Found first, refused last: the row must name the battery and its operator (whose log it is)
    # whatever the outcome, but an unauthenticated caller learns nothing from the order.
    battery = passports.battery_by_key(session, key.gtin, key.serial) if key else None
    if battery is not None:
        decision.battery = battery.item_uri
    if key is not None:
        decision.operator = operator_of(session, key)
    requested = _requested_tiers(body.get("tiers"))
    if requested:
        decision.tiers = sorted(t.value for t in requested)
    presented = authenticate(
        session, body.get("verifiablePresentation"), verify, decision, now=now, spent=spent
    )
    entitlements = [*presented.roles, *(g for g, _ in presented.grants)]
    if not entitlements:
        raise NoEntitlement("the presentation holds no role credential and no access grant")
    if key is None or battery is None:
        raise UnknownBattery("no passport for this battery is kept here")
    if not requested:
        decision.tiers = sorted(t.value for t in policy.tiers_for(entitlements, key))
    for grant, result in presented.grants:
        _judge_grant(grant, result, key, decision.operator, now)

    allowed = policy.tiers_for(entitlements, key)
    if requested:
        if not requested <= allowed:
            raise TierNotAllowed("the presented credentials do not allow every requested tier")
        allowed = requested
    decision.tiers = sorted(t.value for t in allowed)
    released = []
    for credential in passports.credentials_for_tiers(session, battery.id, allowed):
        tiers = tiers_of(credential)
        # Defence in depth: whatever the passport store hands back, only allowed tiers leave.
        if not tiers or not tiers <= allowed:
            log.error("passport store returned a credential outside tiers %s; withheld", allowed)
            continue
        released.append(credential)
    return Release(
        battery.item_uri,
        [t.value for t in Tier if t in allowed],
        released,
        reader=presented.requester,
    )


def record(session: Session, decision: Decision, spent: list[str], now: datetime) -> Refusal | None:
    """Spend the challenge and append the decision in one transaction, and commit.

    Returns the refusal a release turned into when its challenge was spent by a concurrent
    request first. The read transaction that led to the decision is ended first, so the write
    starts from a fresh view (SQLite) and holds its locks only briefly."""
    session.rollback()
    lost: Refusal | None = None
    for _attempt in range(3):
        try:
            for nonce in spent:
                try:
                    challenges.spend(session, nonce, now)
                except Refusal as refusal:
                    if decision.outcome == audit.RELEASED:
                        decision.outcome, decision.reason = audit.REFUSED, refusal.code
                        lost = refusal
            audit.append(session, decision, now=now)
            session.commit()
            return lost
        except IntegrityError:
            # Another writer took the same sequence number (only possible where the writer lock
            # is not available); start again from its row.
            session.rollback()
    raise AccessLogBroken("the access log could not be appended to; nothing was released")


def request_restricted_data(
    session: Session,
    *,
    key: ItemKey | None,
    battery_ref: str,
    body: dict,
    passports: PassportStore,
    policy: AccessPolicy,
    verify: VerifyPresentation,
    operator_of: OperatorOf,
    now: datetime | None = None,
) -> Release:
    """Decide, log, and return the release; a `Refusal` (already logged) otherwise."""
    now = now or utcnow()
    decision = Decision(action=audit.RESTRICTED_DATA, battery=battery_ref)
    spent: list[str] = []
    try:
        release = _decide(
            session,
            key=key,
            body=body,
            passports=passports,
            policy=policy,
            verify=verify,
            operator_of=operator_of,
            decision=decision,
            now=now,
            spent=spent,
        )
    except Refusal as refusal:
        decision.outcome, decision.reason = audit.REFUSED, refusal.code
        record(session, decision, spent, now)
        raise
    decision.outcome = audit.RELEASED
    lost = record(session, decision, spent, now)
    if lost is not None:
        raise lost
    return release
