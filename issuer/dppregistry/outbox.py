"""The registry outbox: rows written in the issuing transaction, claimed and settled by the sync.

An entry is due while `want_version > sent_version`. Every change that the registry must learn
(first passport, archiving, a new profile, a proof running out) bumps `want_version`; the sync
sends the entry as it is then and records the version it sent. Several changes before a send
collapse into one request, and a send whose answer was lost (a crash, a killed registry) is simply
sent again: the registry keeps one entry per UPI (the CIRPASS-2 mock's MODIFY update strategy), so
a repeated send changes nothing there.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, or_, update
from sqlmodel import Session, col, select

from issuer.dppregistry.tables import RegistryEntry, RegistryProfile
from issuer.tables import Battery
from vocab.datetimes import as_utc, utcnow

ITEM, BATCH, MODEL = "ITEM", "BATCH", "MODEL"
PENDING, REGISTERED, REFUSED, INCOMPLETE = "pending", "registered", "refused", "incomplete"
STATES = (PENDING, REGISTERED, REFUSED, INCOMPLETE)


def model_upi(item_uri: str, gtin: str) -> str:
    """The GS1 Digital Link URI of the battery model (the GTIN alone)."""
    return f"{item_uri.split('/01/', 1)[0]}/01/{gtin}"


def batch_upi(item_uri: str, gtin: str, batch: str) -> str:
    return f"{model_upi(item_uri, gtin)}/10/{batch}"


def _bump(entry: RegistryEntry, now: datetime) -> None:
    entry.want_version += 1
    entry.state = PENDING
    entry.attempts = 0
    entry.next_attempt_at = now
    entry.updated_at = now


def _entry(upi: str, level: str, operator_id: str, battery_id: str, now: datetime) -> RegistryEntry:
    return RegistryEntry(
        id=str(uuid.uuid4()),
        upi=upi,
        level=level,
        operator_id=operator_id,
        battery_id=battery_id,
        created_at=now,
        updated_at=now,
        next_attempt_at=now,
    )


def register_battery(session: Session, battery: Battery) -> RegistryEntry:
    """Queue the battery's item entry (its first passport was issued), in the caller's
    transaction. Queuing an entry that exists changes nothing."""
    with session.no_autoflush:
        entry = session.exec(
            select(RegistryEntry).where(RegistryEntry.upi == battery.item_uri)
        ).first()
    if entry is not None:
        return entry
    entry = _entry(battery.item_uri, ITEM, battery.operator_id, battery.id, utcnow())
    session.add(entry)
    return entry


def register_batteries(session: Session, batteries: list[Battery]) -> None:
    """`register_battery` for several batteries: one query for the entries that exist."""
    upis = [b.item_uri for b in batteries]
    with session.no_autoflush:
        known = set(
            session.exec(select(RegistryEntry.upi).where(col(RegistryEntry.upi).in_(upis))).all()
        )
    now = utcnow()
    for battery in batteries:
        if battery.item_uri not in known:
            known.add(battery.item_uri)
            session.add(_entry(battery.item_uri, ITEM, battery.operator_id, battery.id, now))


def deactivate_battery(session: Session, battery: Battery) -> RegistryEntry:
    """Queue the deactivation of the battery's item entry (its passport was archived)."""
    now = utcnow()
    with session.no_autoflush:
        entry = session.exec(
            select(RegistryEntry).where(RegistryEntry.upi == battery.item_uri)
        ).first()
    if entry is None:
        entry = _entry(battery.item_uri, ITEM, battery.operator_id, battery.id, now)
    elif not entry.deactivated:
        _bump(entry, now)
    entry.deactivated = True
    session.add(entry)
    return entry


def ensure_upward(session: Session, battery: Battery) -> list[RegistryEntry]:
    """The model entry, and the batch entry when the battery names a batch, that an item links
    up to (profiles registering at those levels); new ones are queued."""
    wanted = [(model_upi(battery.item_uri, battery.gtin), MODEL)]
    if battery.batch:
        wanted.append((batch_upi(battery.item_uri, battery.gtin, battery.batch), BATCH))
    out = []
    now = utcnow()
    for upi, level in wanted:
        entry = session.exec(select(RegistryEntry).where(RegistryEntry.upi == upi)).first()
        if entry is None:
            entry = _entry(upi, level, battery.operator_id, battery.id, now)
            session.add(entry)
        out.append(entry)
    return out


def requeue_operator(session: Session, operator_id: str) -> int:
    """Send every entry of an operator again (its profile changed); returns how many."""
    now = utcnow()
    result = session.execute(
        update(RegistryEntry)
        .where(col(RegistryEntry.operator_id) == operator_id)
        .values(
            want_version=RegistryEntry.want_version + 1,
            state=PENDING,
            attempts=0,
            next_attempt_at=now,
            updated_at=now,
        )
    )
    return result.rowcount or 0


def retry_refused(session: Session, upi: str | None = None) -> int:
    """Send refused and incomplete entries again (after fixing what the registry complained
    about); all of them, or the one with this UPI."""
    now = utcnow()
    stmt = update(RegistryEntry).where(col(RegistryEntry.state).in_([REFUSED, INCOMPLETE]))
    if upi is not None:
        stmt = stmt.where(col(RegistryEntry.upi) == upi)
    result = session.execute(
        stmt.values(
            want_version=RegistryEntry.want_version + 1,
            state=PENDING,
            attempts=0,
            next_attempt_at=now,
            updated_at=now,
        )
    )
    return result.rowcount or 0


def renew_proofs(session: Session, before: timedelta) -> int:
    """Queue registered entries whose proof of registration runs out within `before` again."""
    now = utcnow()
    result = session.execute(
        update(RegistryEntry)
        .where(
            col(RegistryEntry.state) == REGISTERED,
            col(RegistryEntry.proof_valid_until) < now + before,
        )
        .values(
            want_version=RegistryEntry.want_version + 1,
            state=PENDING,
            attempts=0,
            next_attempt_at=now,
            updated_at=now,
        )
    )
    return result.rowcount or 0


def release_dead_local(session: Session, me: str) -> int:
    """Free the claims of sync processes on this host that are gone (killed, crashed) without
    waiting for their leases to run out. Commits."""
    host = me.split(":", 1)[0]
    now = utcnow()
    holders = session.exec(
        select(RegistryEntry.claimed_by)
        .where(RegistryEntry.state == PENDING, col(RegistryEntry.claimed_until) > now)
        .distinct()
    ).all()
    dead = []
    for holder in holders:
        h, _, rest = (holder or "").partition(":")
        pid = rest.split(":", 1)[0]
        if h != host or not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            dead.append(holder)
        except PermissionError:
            pass  # alive, another user's
    if not dead:
        return 0
    result = session.execute(
        update(RegistryEntry)
        .where(col(RegistryEntry.claimed_by).in_(dead))
        .values(claimed_by=None, claimed_until=None)
    )
    session.commit()
    return result.rowcount or 0


@dataclass(frozen=True)
class Claimed:
    id: str
    upi: str
    level: str
    operator_id: str
    battery_id: str
    deactivated: bool
    version: int  # the want_version being sent


def claim(session: Session, me: str, limit: int, lease: timedelta) -> list[Claimed]:
    """Take up to `limit` due entries for `me` until the lease runs out (a worker that dies
    leaves them to the next one after that). Commits."""
    now = utcnow()
    free = or_(col(RegistryEntry.claimed_until).is_(None), col(RegistryEntry.claimed_until) < now)
    ids = session.exec(
        select(RegistryEntry.id)
        .where(RegistryEntry.state == PENDING, RegistryEntry.next_attempt_at <= now, free)
        .order_by(col(RegistryEntry.next_attempt_at))
        .limit(limit)
    ).all()
    if not ids:
        return []
    # Conditional: of two workers that read the same ids, each row goes to one.
    session.execute(
        update(RegistryEntry)
        .where(col(RegistryEntry.id).in_(ids), free)
        .values(claimed_by=me, claimed_until=now + lease)
    )
    session.commit()
    rows = session.exec(
        select(RegistryEntry).where(col(RegistryEntry.id).in_(ids), RegistryEntry.claimed_by == me)
    ).all()
    return [
        Claimed(r.id, r.upi, r.level, r.operator_id, r.battery_id, r.deactivated, r.want_version)
        for r in rows
    ]


def _mine(claimed: Claimed, me: str):
    return update(RegistryEntry).where(
        col(RegistryEntry.id) == claimed.id, col(RegistryEntry.claimed_by) == me
    )


def settle_registered(
    session: Session,
    claimed: Claimed,
    me: str,
    *,
    sent: dict,
    registry_id: str,
    registered_at: datetime,
    valid_until: datetime,
    answer: dict,
) -> None:
    """The registry took the entry: keep its id and proof. A change made meanwhile keeps the entry
    due."""
    session.execute(
        _mine(claimed, me).values(
            sent_version=claimed.version,
            state=case((RegistryEntry.want_version == claimed.version, REGISTERED), else_=PENDING),
            attempts=0,
            next_attempt_at=registered_at,
            claimed_by=None,
            claimed_until=None,
            registry_id=registry_id,
            registered_at=registered_at,
            proof_valid_until=valid_until,
            last_error=None,
            sent=sent,
            answer=answer,
            updated_at=utcnow(),
        )
    )


def settle_refused(
    session: Session,
    claimed: Claimed,
    me: str,
    *,
    state: str,
    sent: dict | None,
    answer: dict,
    message: str,
) -> None:
    """The registry (or our own check before sending) refused the entry: kept with the answer
    until a change or `dbp registry sync --retry-refused`. A change made meanwhile keeps it due."""
    session.execute(
        _mine(claimed, me).values(
            sent_version=claimed.version,
            state=case((RegistryEntry.want_version == claimed.version, state), else_=PENDING),
            claimed_by=None,
            claimed_until=None,
            last_error=message[:1000],
            sent=sent,
            answer=answer,
            updated_at=utcnow(),
        )
    )


def settle_failed(
    session: Session, claimed: Claimed, me: str, *, message: str, retry_at: datetime
) -> None:
    """Not delivered (registry unreachable or busy): try again at `retry_at`."""
    session.execute(
        _mine(claimed, me).values(
            attempts=RegistryEntry.attempts + 1,
            next_attempt_at=retry_at,
            claimed_by=None,
            claimed_until=None,
            last_error=message[:1000],
            updated_at=utcnow(),
        )
    )


def counts(session: Session) -> dict[str, int]:
    """Entries per state; `due` counts pending entries whose time has come."""
    out = {state: 0 for state in STATES}
    for state, n in session.exec(
        select(RegistryEntry.state, func.count()).group_by(RegistryEntry.state)
    ):
        out[state] = n
    return out


def entries_of_battery(session: Session, battery: Battery) -> list[RegistryEntry]:
    upis = [battery.item_uri, model_upi(battery.item_uri, battery.gtin)]
    if battery.batch:
        upis.append(batch_upi(battery.item_uri, battery.gtin, battery.batch))
    return list(
        session.exec(
            select(RegistryEntry)
            .where(col(RegistryEntry.upi).in_(upis))
            .order_by(col(RegistryEntry.level))
        )
    )


def profile(session: Session, operator_id: str) -> RegistryProfile | None:
    return session.get(RegistryProfile, operator_id)


def describe(entry: RegistryEntry) -> dict:
    """An entry as the operator sees it (`dbp registry show`, GET /batteries/{id}/registry)."""

    def iso(value: datetime | None) -> str | None:
        return as_utc(value).isoformat().replace("+00:00", "Z") if value else None

    return {
        "upi": entry.upi,
        "level": entry.level,
        "state": entry.state,
        "deactivated": entry.deactivated,
        "registryId": entry.registry_id,
        "registeredAt": iso(entry.registered_at),
        "proofValidUntil": iso(entry.proof_valid_until),
        "attempts": entry.attempts,
        "nextAttemptAt": iso(entry.next_attempt_at) if entry.state == PENDING else None,
        "lastError": entry.last_error,
        "sent": entry.sent,
        "answer": entry.answer,
    }
