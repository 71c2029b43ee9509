"""Flags: notes authorities keep on a passport for follow-up, listed on the operator's side."""

from __future__ import annotations

import uuid

from sqlmodel import Session, col, select

from portal.errors import BadForm
from portal.tables import PortalFlag
from vocab.datetimes import utcnow

MAX_NOTE = 2000


def add(
    session: Session, battery_id: str, operator_did: str, author_did: str, note: str
) -> PortalFlag:
    note = (note or "").strip()
    if not note:
        raise BadForm("note: say what needs following up")
    if len(note) > MAX_NOTE:
        raise BadForm(f"note: at most {MAX_NOTE} characters")
    flag = PortalFlag(
        id=str(uuid.uuid4()),
        battery_id=battery_id,
        operator_did=operator_did,
        author_did=author_did,
        note=note,
        created_at=utcnow(),
    )
    session.add(flag)
    return flag


def for_battery(session: Session, battery_id: str) -> list[PortalFlag]:
    return list(
        session.exec(
            select(PortalFlag)
            .where(PortalFlag.battery_id == battery_id)
            .order_by(col(PortalFlag.created_at).desc())
        ).all()
    )


def for_operator(session: Session, operator_did: str, limit: int = 500) -> list[PortalFlag]:
    return list(
        session.exec(
            select(PortalFlag)
            .where(PortalFlag.operator_did == operator_did)
            .order_by(col(PortalFlag.created_at).desc())
            .limit(limit)
        ).all()
    )
