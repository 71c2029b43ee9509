"""Browser sessions of the portals: an operator's bearer token or an authority's verified
presentation is exchanged once for a random session secret in an HttpOnly, SameSite=Strict
cookie (Secure behind HTTPS). Every form carries the session's CSRF token; a form without it is
refused before it is read further. Sessions expire; signing out deletes the row."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from fastapi import Request
from sqlalchemy import delete
from sqlmodel import Session, select

from portal.errors import CsrfRefused, NotSignedIn
from portal.tables import PortalSession
from vocab.datetimes import as_utc, utcnow

COOKIE = "dbp_portal"
OPERATOR, AUTHORITY, PENDING = "operator", "authority", "pending"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Started:
    secret: str  # goes into the cookie, never stored
    row: PortalSession


def start(
    session: Session, kind: str, subject: str, lifetime: timedelta, grants: str | None = None
) -> Started:
    """A new session row (the caller commits)."""
    now = utcnow()
    # expired rows go when a new one comes: no background job needed
    session.execute(delete(PortalSession).where(PortalSession.expires_at < now))
    secret = secrets.token_urlsafe(32)
    row = PortalSession(
        id_hash=_hash(secret),
        kind=kind,
        subject=subject,
        grants=grants,
        csrf=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + lifetime,
    )
    session.add(row)
    return Started(secret, row)


def lookup(session: Session, request: Request, kind: str) -> PortalSession:
    """The session of this request's cookie, of `kind`; NotSignedIn otherwise."""
    secret = request.cookies.get(COOKIE)
    row = session.get(PortalSession, _hash(secret)) if secret else None
    if row is None or row.kind != kind:
        raise NotSignedIn("sign in first")
    if as_utc(row.expires_at) <= utcnow():
        raise NotSignedIn("the session expired; sign in again")
    return row


def by_secret(session: Session, secret: str | None) -> PortalSession | None:
    return session.get(PortalSession, _hash(secret)) if secret else None


def end(session: Session, request: Request) -> None:
    secret = request.cookies.get(COOKIE)
    if secret:
        session.execute(delete(PortalSession).where(PortalSession.id_hash == _hash(secret)))


def check_csrf(row: PortalSession, token: object) -> None:
    if not isinstance(token, str) or not token:
        raise CsrfRefused("the form has no CSRF token; reload the page and send it again")
    if not hmac.compare_digest(token.encode(), row.csrf.encode()):
        raise CsrfRefused("the form's CSRF token is not this session's; reload the page")


def set_cookie(response, secret: str, *, secure: bool, max_age: int) -> None:
    response.set_cookie(
        COOKIE,
        secret,
        max_age=max_age,
        httponly=True,
        secure=secure,
        samesite="strict",
        path="/",
    )


def clear_cookie(response, *, secure: bool) -> None:
    response.delete_cookie(COOKIE, path="/", secure=secure, httponly=True, samesite="strict")


def find(session: Session, kind: str, subject: str) -> list[PortalSession]:
    return list(
        session.exec(
            select(PortalSession).where(
                PortalSession.kind == kind, PortalSession.subject == subject
            )
        ).all()
    )
