"""The primary's backup outbox: every write transaction that changes data the backup copies logs a
row in `backup_changes`, in that transaction; the push worker (issuer.backup.push) sends a new
snapshot while the newest change is ahead of the one the backup last acknowledged.

Writers only insert (no row every writer updates, so writers do not queue behind each other); the
worker alone updates `backup_push`, under a lease like the registry sync's claims, so of several
issuer processes one pushes at a time and a killed one's lease runs out for the next.

Delivery: a snapshot whose answer was lost (the primary killed after the backup stored it) is
rebuilt with the same sequence number; the backup refuses it as stale, naming the sequence it
holds, and the worker continues above it. The backup never holds two snapshots with one sequence
and never goes backwards; every change is in some delivered snapshot (the one built after it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import chain
from typing import Any

from sqlalchemy import delete, event, func, insert, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import ORMExecuteState
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from issuer.backup.snapshot import PUBLIC_TABLES
from issuer.backup.tables import BackupChange, BackupPush
from vocab.datetimes import utcnow

STATE_ID = "backup"
# The tables whose changes make a new snapshot due: what the backup serves and restores
# (credentials of every tier, status lists, routes, operators' keys, documents). Other copied
# tables (access log, anchor records) travel with the next snapshot.
TRIGGERS = frozenset(PUBLIC_TABLES)

_enabled = False


def enable(on: bool = True) -> None:
    """Log changes from now on in this process (DBP_BACKUP_PUSH_URL is set)."""
    global _enabled
    _enabled = on


def enabled() -> bool:
    return _enabled


_LOG = insert(BackupChange.__table__)  # type: ignore[attr-defined]


def _log(session: OrmSession) -> None:
    session.connection().execute(_LOG.values(at=utcnow()))


def _after_flush(session: OrmSession, _context: Any) -> None:
    if not _enabled:
        return
    for obj in chain(session.new, session.dirty, session.deleted):
        if getattr(obj, "__tablename__", None) in TRIGGERS:
            _log(session)
            return


def _on_execute(state: ORMExecuteState) -> None:
    if not _enabled or not (state.is_update or state.is_delete or state.is_insert):
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) in TRIGGERS:
        _log(state.session)


# Every ORM session of the process (service, CLIs, workers), registered once at import.
if not event.contains(OrmSession, "after_flush", _after_flush):
    event.listen(OrmSession, "after_flush", _after_flush)
if not event.contains(OrmSession, "do_orm_execute", _on_execute):
    event.listen(OrmSession, "do_orm_execute", _on_execute)


def mark_changed(session: Session) -> None:
    """Make a snapshot due (in the caller's transaction), whatever changed."""
    _log(session)


# --- the push state -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Due:
    change: int  # the newest change id when claimed
    sequence: int  # the sequence number the next snapshot gets
    attempts: int


def state(session: Session) -> BackupPush:
    row = session.get(BackupPush, STATE_ID)
    if row is None:
        try:
            with session.begin_nested():
                session.add(BackupPush(id=STATE_ID))
        except IntegrityError:
            pass  # another worker made it first
        session.commit()
        row = session.get(BackupPush, STATE_ID)
        assert row is not None
    return row


def newest_change(session: Session) -> int:
    return session.exec(select(func.max(BackupChange.id))).one() or 0


def claim(session: Session, me: str, lease: timedelta) -> Due | None:
    """The push, when one is due and no other worker holds it; held by `me` until the lease
    runs out. Commits."""
    row = state(session)
    change = newest_change(session)
    if row.sequence > 0 and change <= row.sent_change:
        return None
    now = utcnow()
    free = or_(col(BackupPush.claimed_until).is_(None), col(BackupPush.claimed_until) < now)
    taken = session.execute(
        update(BackupPush)
        .where(col(BackupPush.id) == STATE_ID, col(BackupPush.next_attempt_at) <= now, free)
        .values(claimed_by=me, claimed_until=now + lease)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    if not taken.rowcount:
        return None
    session.refresh(row)
    return Due(change, row.sequence + 1, row.attempts)


def _mine(me: str):
    return (
        update(BackupPush)
        .where(col(BackupPush.id) == STATE_ID, col(BackupPush.claimed_by) == me)
        .execution_options(synchronize_session=False)
    )


def settle_pushed(
    session: Session, me: str, *, change: int, sequence: int, digest: str, at: datetime
) -> None:
    """The backup holds the snapshot: the changes it covers are done. Commits."""
    done = session.execute(
        _mine(me).values(
            sent_change=change,
            sequence=sequence,
            digest=digest,
            attempts=0,
            next_attempt_at=at,
            claimed_by=None,
            claimed_until=None,
            last_error=None,
            pushed_at=at,
            updated_at=at,
        )
    )
    if done.rowcount:
        # the newest covered row stays: SQLite numbers a new row max(id) + 1, so emptying the
        # table would let later changes reuse ids the backup already has
        session.execute(delete(BackupChange).where(col(BackupChange.id) < change))
    session.commit()


def settle_stale(session: Session, me: str, *, held: int, message: str) -> None:
    """The backup holds sequence `held` already (an answer lost earlier): continue above it."""
    now = utcnow()
    row = state(session)
    session.execute(
        _mine(me).values(
            sequence=max(row.sequence, held),
            next_attempt_at=now,
            claimed_by=None,
            claimed_until=None,
            last_error=message[:1000],
            updated_at=now,
        )
    )
    session.commit()


def settle_failed(session: Session, me: str, *, message: str, retry_at: datetime) -> None:
    session.execute(
        _mine(me).values(
            attempts=BackupPush.attempts + 1,
            next_attempt_at=retry_at,
            claimed_by=None,
            claimed_until=None,
            last_error=message[:1000],
            updated_at=utcnow(),
        )
    )
    session.commit()


def release(session: Session, me: str) -> None:
    session.execute(_mine(me).values(claimed_by=None, claimed_until=None))
    session.commit()


def describe(session: Session) -> dict:
    row = state(session)
    change = newest_change(session)

    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "sequence": row.sequence,
        "digest": row.digest,
        "pushedAt": iso(row.pushed_at),
        "due": row.sequence == 0 or change > row.sent_change,
        "attempts": row.attempts,
        "nextAttemptAt": iso(row.next_attempt_at),
        "lastError": row.last_error,
    }
