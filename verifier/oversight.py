"""Authorities reading the access log: a presentation holding an AuthorityCredential (notified
body, market surveillance authority, Commission) over one of our challenges opens the whole log.

Each query needs a fresh challenge, so there is no session or token to steal or expire; and each
query is itself a row in the log (action `access-log`), so reading the log leaves a trace too.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from verifier import audit
from verifier.access import record
from verifier.audit import Decision
from verifier.errors import Refusal, WrongRole
from verifier.policy import AUTHORITY_READERS
from verifier.presentations import Presented, VerifyPresentation, authenticate
from vocab.datetimes import utcnow


def authenticate_authority(
    session: Session, body: dict, verify: VerifyPresentation, *, now: datetime | None = None
) -> Presented:
    """The authenticated authority, with the query logged; a logged `Refusal` otherwise."""
    now = now or utcnow()
    decision = Decision(action=audit.ACCESS_LOG)
    spent: list[str] = []
    try:
        presented = authenticate(
            session, body.get("verifiablePresentation"), verify, decision, now=now, spent=spent
        )
        if not any(role.reader in AUTHORITY_READERS for role in presented.roles):
            raise WrongRole("reading the whole access log needs an AuthorityCredential")
    except Refusal as refusal:
        decision.outcome, decision.reason = audit.REFUSED, refusal.code
        record(session, decision, spent, now)
        raise
    decision.outcome = audit.RELEASED
    lost = record(session, decision, spent, now)
    if lost is not None:
        raise lost
    return presented
