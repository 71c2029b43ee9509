"""Presentation challenges: single-use nonces with an expiry, bound to a domain.

A requester asks for a challenge, signs a presentation over it (Data Integrity `challenge` and
`domain`, or the `nonce` and `aud` claims of a vp+jwt) and sends it once. The challenge is spent by
the first request that presents it, whatever that request's outcome, so a captured presentation
cannot be replayed and a refused one cannot be retried with the same nonce. Spending is one
conditional UPDATE (`... WHERE used_at IS NULL AND expires_at > now`): of two concurrent requests
with the same challenge, exactly one updates the row.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlmodel import Session

from verifier.errors import (
    ChallengeExpired,
    ChallengeReplayed,
    ChallengeUnknown,
    DomainMismatch,
    DomainNotAllowed,
)
from verifier.tables import Challenge
from vocab.datetimes import as_utc, utcnow

# Expired challenges are deleted this long after their expiry (a replay after that reads as an
# unknown challenge rather than an expired one, which refuses it just the same).
PURGE_AFTER = timedelta(days=1)


def issue(
    session: Session,
    *,
    domain: str,
    allowed_domains: frozenset[str],
    ttl: timedelta,
    now: datetime | None = None,
) -> Challenge:
    """A fresh challenge for `domain` (one of `allowed_domains`), added in the caller's
    transaction; expired challenges of the past are purged on the way."""
    if domain not in allowed_domains:
        own = ", ".join(sorted(allowed_domains))
        raise DomainNotAllowed(f"challenges are bound to this service's own domain ({own})")
    now = now or utcnow()
    session.execute(delete(Challenge).where(Challenge.expires_at < now - PURGE_AFTER))
    challenge = Challenge(
        id=secrets.token_urlsafe(32), domain=domain, created_at=now, expires_at=now + ttl
    )
    session.add(challenge)
    session.flush()
    return challenge


def _why_not(row: Challenge | None, now: datetime):
    if row is None:
        return ChallengeUnknown("the challenge was not issued by this service or has been purged")
    if row.used_at is not None:
        return ChallengeReplayed("the challenge has already been used; ask for a new one")
    if as_utc(row.expires_at) <= now:
        return ChallengeExpired("the challenge has expired; ask for a new one")
    return None


def check(
    session: Session, nonce: str, domains: list[str], now: datetime | None = None
) -> Challenge:
    """The challenge `nonce`, if it may be used now by a presentation bound to `domains`; a
    refusal otherwise. Spends nothing: `spend` does, atomically, when the decision is committed."""
    now = now or utcnow()
    # Ours are 43 characters; anything much longer was never issued and is not worth a query.
    row = session.get(Challenge, nonce) if len(nonce) <= 64 else None
    refusal = _why_not(row, now)
    if refusal is not None:
        raise refusal
    assert row is not None
    if row.domain not in domains:
        bound = ", ".join(repr(d) for d in domains) or "no domain"
        raise DomainMismatch(
            f"the presentation is bound to {bound}, but the challenge to {row.domain!r}"
        )
    return row


def spend(session: Session, nonce: str, now: datetime | None = None) -> None:
    """Mark the challenge used, in the caller's transaction; refuses if another request did first
    or it expired meanwhile."""
    now = now or utcnow()
    spent = session.execute(
        update(Challenge)
        .where(Challenge.id == nonce, Challenge.used_at.is_(None), Challenge.expires_at > now)
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if spent == 1:
        return
    session.expire_all()
    refusal = _why_not(session.get(Challenge, nonce), now)
    raise refusal or ChallengeReplayed("the challenge has already been used; ask for a new one")
