"""The access log: every release and every refusal of restricted data, append-only, hash-chained.

Row n holds `prev_hash` = row n-1's `row_hash` (64 zeros for row 1) and `row_hash` = SHA-256 of the
JCS (RFC 8785) serialisation of all its other columns, `prev_hash` included. Editing any column of
any row, or removing a row, breaks the chain at that row; `verify_chain` finds the first break.
Rewriting a row together with its own hash breaks the link of the next row (its `prev_hash`).
What the chain alone cannot show: rows cut off the end, or every row from some point on rewritten
with fresh hashes (both leave a valid, different chain). A copy of the head (row number and
hash, `dbp audit verify` prints it) kept elsewhere shows those: `verify_chain(known_head=...)`.

Appends are serialised so the chain never forks: PostgreSQL takes a table lock that conflicts with
itself (readers are not blocked); SQLite has one writer at a time, and a no-op write takes that
writer lock before the last row is read. The sequence number is the primary key as well, so even
without the lock two rows could never claim the same place. An append runs in the caller's
transaction, next to the decision it records.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sqlalchemy import text
from sqlmodel import Session, select

from proofs.canonical import jcs
from verifier.tables import AccessLogEntry
from vocab.datetimes import as_utc, utcnow

GENESIS: Final = "0" * 64
RESTRICTED_DATA: Final = "restricted-data"
ACCESS_LOG: Final = "access-log"
RELEASED: Final = "released"
REFUSED: Final = "refused"


@dataclass
class Decision:
    """What one access decision records (the log adds seq, time and hashes)."""

    action: str = RESTRICTED_DATA
    requester: str | None = None
    role: str | None = None
    credentials: list[str] = field(default_factory=list)
    battery: str | None = None
    operator: str | None = None
    tiers: list[str] = field(default_factory=list)
    outcome: str = REFUSED
    reason: str | None = None


def _json_list(values: Iterable[str]) -> str:
    return json.dumps(sorted(set(values)), separators=(",", ":"))


def format_at(value: datetime) -> str:
    """Microseconds, UTC, `Z`: both databases keep microseconds, so this survives a round trip."""
    return as_utc(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def hashed_content(row: AccessLogEntry) -> dict[str, Any]:
    """Every column but `row_hash`, as hashed."""
    return {
        "seq": row.seq,
        "at": format_at(row.at),
        "action": row.action,
        "requester": row.requester,
        "role": row.role,
        "credentials": row.credentials,
        "battery": row.battery,
        "operator": row.operator,
        "tiers": row.tiers,
        "outcome": row.outcome,
        "reason": row.reason,
        "prevHash": row.prev_hash,
    }


def row_digest(row: AccessLogEntry) -> str:
    return hashlib.sha256(jcs(hashed_content(row))).hexdigest()


def _take_writer_lock(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE access_log IN SHARE ROW EXCLUSIVE MODE"))
    else:
        session.execute(text("UPDATE access_log SET seq = seq WHERE 1 = 0"))


def append(session: Session, decision: Decision, *, now: datetime | None = None) -> AccessLogEntry:
    """Add `decision` as the next row, in the caller's transaction (which must commit it)."""
    _take_writer_lock(session)
    last = session.exec(select(AccessLogEntry).order_by(AccessLogEntry.seq.desc()).limit(1)).first()
    entry = AccessLogEntry(
        seq=(last.seq + 1) if last else 1,
        at=as_utc(now or utcnow()),
        action=decision.action,
        requester=decision.requester,
        role=decision.role,
        credentials=_json_list(decision.credentials) if decision.credentials else None,
        battery=decision.battery,
        operator=decision.operator,
        tiers=_json_list(decision.tiers),
        outcome=decision.outcome,
        reason=decision.reason,
        prev_hash=last.row_hash if last else GENESIS,
        row_hash="",
    )
    entry.row_hash = row_digest(entry)
    session.add(entry)
    session.flush()
    return entry


def as_json(row: AccessLogEntry) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "at": format_at(row.at),
        "action": row.action,
        "requester": row.requester,
        "role": row.role,
        "credentials": json.loads(row.credentials) if row.credentials else [],
        "battery": row.battery,
        "operator": row.operator,
        "tiers": json.loads(row.tiers),
        "outcome": row.outcome,
        "reason": row.reason,
        "prevHash": row.prev_hash,
        "hash": row.row_hash,
    }


def entries(
    session: Session,
    *,
    operator: str | None = None,
    battery: str | None = None,
    after: int = 0,
    limit: int = 100,
) -> list[AccessLogEntry]:
    """Rows after sequence number `after`, oldest first; only `operator`'s when given."""
    query = select(AccessLogEntry).where(AccessLogEntry.seq > after)
    if operator is not None:
        query = query.where(AccessLogEntry.operator == operator)
    if battery is not None:
        query = query.where(AccessLogEntry.battery == battery)
    return list(session.exec(query.order_by(AccessLogEntry.seq).limit(limit)).all())


@dataclass(frozen=True)
class ChainReport:
    rows: int
    broken_at: int | None = None
    problem: str | None = None
    # The last verified row's hash: kept elsewhere (with its row number), it lets a later check
    # see rows cut off the end, which the chain alone cannot show.
    head: str = field(default=GENESIS, compare=False)

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def _rows(session: Session, batch: int = 1000) -> Iterator[AccessLogEntry]:
    after = 0
    while True:
        chunk = session.exec(
            select(AccessLogEntry)
            .where(AccessLogEntry.seq > after)
            .order_by(AccessLogEntry.seq)
            .limit(batch)
        ).all()
        if not chunk:
            return
        yield from chunk
        after = chunk[-1].seq
        session.expunge_all()


def verify_chain(session: Session, known_head: tuple[int, str] | None = None) -> ChainReport:
    """Recompute the chain from row 1; report the first row where it breaks.

    `known_head` is (row number, row hash) as recorded elsewhere earlier (`dbp audit verify
    --head`): the chain must still hold that row with that hash, so rows cut off the end, or the
    tail rewritten with fresh hashes from some row on, are found too."""
    expected, prev, count = 1, GENESIS, 0
    for row in _rows(session):
        if row.seq != expected:
            return ChainReport(
                count, expected, f"row {expected} is missing (the next row is {row.seq})", prev
            )
        if row.prev_hash != prev:
            problem = (
                "its prev_hash is not the genesis value"
                if expected == 1
                else f"its prev_hash is not the hash of row {expected - 1}"
            )
            return ChainReport(count, row.seq, problem, prev)
        if row_digest(row) != row.row_hash:
            return ChainReport(count, row.seq, "its content does not match its hash", prev)
        if known_head is not None and row.seq == known_head[0] and row.row_hash != known_head[1]:
            return ChainReport(
                count, row.seq, "its hash is not the one recorded for it earlier", prev
            )
        prev, expected, count = row.row_hash, expected + 1, count + 1
    if known_head is not None and known_head[0] > count:
        return ChainReport(
            count,
            count + 1,
            f"the log ends at row {count}, but row {known_head[0]} was recorded earlier: rows "
            "were cut off the end",
            prev,
        )
    return ChainReport(count, head=prev)
