"""Bulk ingestion: a job of many batteries, each registered and issued in its own transaction.

Exactly once is a database guarantee: an item turns from `pending` to `done` by a conditional
UPDATE in the same transaction that registers the battery and stores its credentials, and
(gtin, serial) is unique. A worker that dies mid-item leaves nothing of it; a worker that finds
the item already done rolls its own work back. A retried request with the same Idempotency-Key
gets the same job (the key is unique per operator), so nothing is queued twice either.

Claims (`claimed_by`, `claimed_until`) only keep workers from doing the same signing twice; they
are taken with FOR UPDATE SKIP LOCKED on PostgreSQL, expire after a lease, and a claim of a
worker process on this host that no longer runs is taken over at once.
"""

from __future__ import annotations

import hashlib
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
from sqlalchemy import case, func, insert, or_, update
from sqlmodel import Session, col, select

from issuer import batteries, operator_identity, operators, passports, statuslists
from issuer.config import IssuerConfig
from issuer.errors import FieldError, IdempotencyKeyReused, InvalidBulkRequest, UnknownJob
from issuer.statuslists import AllocatedEntry
from issuer.tables import BulkItem, BulkJob, Operator
from resolver import registry
from vocab.datetimes import format_datetime, utcnow
from vocab.errors import PassportInvalid

MAX_ITEMS = 100_000
ITEM_FIELDS = frozenset({"gtin", "serial", "variant", "batch", "passport"})
LEASE = timedelta(seconds=60)
PENDING, DONE, FAILED = "pending", "done", "failed"
QUEUED, RUNNING, FINISHED = "queued", "running", "finished"


def request_hash(body: dict) -> str:
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def submit(
    session: Session, operator: Operator, idempotency_key: str, body: dict
) -> tuple[BulkJob, bool]:
    """The job for this key: a new one (job and items in one transaction), or the existing one
    when the same key came with the same body; `IdempotencyKeyReused` for another body."""
    if len(idempotency_key) > 255:
        raise InvalidBulkRequest("Idempotency-Key", "must be at most 255 characters")
    digest = request_hash(body)
    existing = session.exec(
        select(BulkJob).where(
            BulkJob.operator_id == operator.id, BulkJob.idempotency_key == idempotency_key
        )
    ).first()
    if existing is not None:
        if existing.request_hash != digest:
            raise IdempotencyKeyReused(
                "Idempotency-Key",
                f"key {idempotency_key!r} was used for a different request (job {existing.id}); "
                "use a new key for a new job",
            )
        return existing, False
    items = body.get("items")
    unknown = sorted(set(body) - {"items"})
    if unknown:
        raise InvalidBulkRequest(unknown[0], 'unknown field; the body is {"items": [...]}')
    if not isinstance(items, list) or not items:
        raise InvalidBulkRequest("items", "must be a non-empty list of batteries", rule="required")
    if len(items) > MAX_ITEMS:
        raise InvalidBulkRequest("items", f"at most {MAX_ITEMS} batteries per job", rule="maximum")
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise InvalidBulkRequest(f"items[{i}]", "must be a JSON object", rule="type")
    job = BulkJob(
        id=str(uuid.uuid4()),
        operator_id=operator.id,
        idempotency_key=idempotency_key,
        request_hash=digest,
        total=len(items),
        state=QUEUED,
        created_at=utcnow(),
    )
    session.add(job)
    session.flush()
    session.execute(
        insert(BulkItem),
        [
            {"job_id": job.id, "position": i, "payload": item, "state": PENDING}
            for i, item in enumerate(items)
        ],
    )
    return job, True


def report(
    session: Session,
    operator: Operator,
    job_id: str,
    config: IssuerConfig,
    *,
    offset: int = 0,
    limit: int = 1000,
) -> dict[str, Any]:
    job = session.get(BulkJob, job_id)
    if job is None or job.operator_id != operator.id:
        raise UnknownJob(f"no job {job_id!r} of this operator")
    counts = dict.fromkeys((PENDING, DONE, FAILED), 0)
    for state, count in session.exec(
        select(BulkItem.state, func.count())
        .where(BulkItem.job_id == job_id)
        .group_by(BulkItem.state)
    ).all():
        counts[state] = count
    processed = counts[DONE] + counts[FAILED]
    state = FINISHED if counts[PENDING] == 0 else (RUNNING if processed else QUEUED)
    failed = session.exec(
        select(BulkItem)
        .where(BulkItem.job_id == job_id, BulkItem.state == FAILED)
        .order_by(col(BulkItem.position))
        .limit(1000)
    ).all()
    items = session.exec(
        select(BulkItem.position, BulkItem.state, BulkItem.battery_id, BulkItem.passport_id)
        .where(BulkItem.job_id == job_id)
        .order_by(col(BulkItem.position))
        .offset(offset)
        .limit(limit)
    ).all()
    return {
        "jobId": job.id,
        "state": state,
        "total": job.total,
        "pending": counts[PENDING],
        "done": counts[DONE],
        "failed": counts[FAILED],
        "progress": round(processed / job.total, 4) if job.total else 1.0,
        "createdAt": format_datetime(job.created_at),
        "finishedAt": format_datetime(job.finished_at) if job.finished_at else None,
        "errors": [{"position": f.position, **(f.error or {})} for f in failed],
        "items": [
            {"position": p, "state": s, "batteryId": b, "passportId": pid} for p, s, b, pid in items
        ],
        "itemsOffset": offset,
        "link": f"{config.public_url}/jobs/{job.id}",
    }


# --- processing ---------------------------------------------------------------------------------


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def dead_local_workers(session: Session, me: str) -> list[str]:
    """Claimers on this host whose process is gone (killed, crashed): their claims are free."""
    host = me.split(":", 1)[0]
    now = utcnow()
    holders = session.exec(
        select(BulkItem.claimed_by)
        .where(BulkItem.state == PENDING, col(BulkItem.claimed_until) > now)
        .distinct()
    ).all()
    dead = []
    for holder in holders:
        if not holder or holder == me:
            continue
        h, _, rest = holder.partition(":")
        pid = rest.split(":", 1)[0]
        if h != host or not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            dead.append(holder)
        except PermissionError:
            pass  # alive, another user's
    return dead


@dataclass(frozen=True)
class Claimed:
    job_id: str
    position: int
    operator_id: str
    payload: dict


def claim(session: Session, me: str, limit: int, dead: list[str] = ()) -> list[Claimed]:
    """Claim up to `limit` pending items (oldest job first) and commit the claim.

    Items held by a claimer in `dead` (see `dead_local_workers`) are free as well. The item keys
    are found through the covering index ix_bulk_items_claim; payloads are read only for the
    items claimed."""
    now = utcnow()
    free = or_(col(BulkItem.claimed_until).is_(None), col(BulkItem.claimed_until) < now)
    if dead:
        free = or_(free, col(BulkItem.claimed_by).in_(list(dead)))
    jobs = session.exec(
        select(BulkJob.id, BulkJob.operator_id)
        .where(BulkJob.state != FINISHED)
        .order_by(col(BulkJob.created_at), col(BulkJob.id))
    ).all()
    out: list[Claimed] = []
    for job_id, operator_id in jobs:
        if len(out) >= limit:
            break
        keys = (
            select(BulkItem.position)
            .where(BulkItem.state == PENDING, BulkItem.job_id == job_id, free)
            .order_by(col(BulkItem.position))
            .limit(limit - len(out))
        )
        if session.get_bind().dialect.name == "postgresql":
            keys = keys.with_for_update(skip_locked=True)
        positions = list(session.exec(keys).all())
        if not positions:
            continue
        session.execute(
            update(BulkItem)
            .where(BulkItem.job_id == job_id, col(BulkItem.position).in_(positions))
            .values(claimed_by=me, claimed_until=now + LEASE)
        )
        payloads = session.exec(
            select(BulkItem.position, BulkItem.payload)
            .where(BulkItem.job_id == job_id, col(BulkItem.position).in_(positions))
            .order_by(col(BulkItem.position))
        ).all()
        out.extend(
            Claimed(job_id, position, operator_id, payload) for position, payload in payloads
        )
        session.execute(
            update(BulkJob)
            .where(BulkJob.id == job_id, BulkJob.state == QUEUED)
            .values(state=RUNNING)
        )
    session.commit()
    return out


@dataclass
class ItemWork:
    claimed: Claimed
    battery_id: str
    key: Any  # vocab.gs1.ItemKey
    passport_id: str
    plan: passports.IssuancePlan
    allocated: list[tuple[AllocatedEntry, AllocatedEntry]]


def error_of(exc: Exception, prefix: str = "") -> dict[str, Any]:
    """What a failed item reports: status, code, message and the field paths."""
    extensions = dict(getattr(exc, "problem_extensions", {}) or {})
    errors = [
        {**e, "path": prefix + e["path"] if e.get("path") else prefix.rstrip(".")}
        for e in extensions.get("errors", [])
    ]
    out: dict[str, Any] = {
        "status": int(getattr(exc, "status", 500)),
        "code": str(getattr(exc, "code", "internal-error")),
        "detail": str(exc) if getattr(exc, "code", None) else "internal error",
    }
    if errors:
        out["errors"] = errors
        out["field"] = errors[0]["path"]
    elif "field" in extensions:
        out["field"] = extensions["field"]
    return out


def plan_item(
    session: Session,
    config: IssuerConfig,
    operator: Operator,
    signing: operators.SigningKey,
    claimed: Claimed,
) -> ItemWork:
    """Decide ids, identifiers and status entries of one item (raises for a bad item)."""
    result = plan_items(session, config, operator, signing, [claimed])[0]
    if isinstance(result, Exception):
        raise result
    return result


def plan_items(
    session: Session,
    config: IssuerConfig,
    operator: Operator,
    signing: operators.SigningKey,
    items: list[Claimed],
) -> list[ItemWork | Exception]:
    """`plan_item` for several items of one operator, in order: an item's plan, or what was
    wrong with it. The operator's aliases are read once and the status entries of all items
    drawn in one `allocate`, instead of ~4 queries per item in the one thread that also commits
    (issue 15). The battery documents query is left out: a battery planned here is new (its id
    was drawn just now), so no document can be attached to it yet."""
    aliases = operator_identity.aliases(session, operator)
    out: list[ItemWork | Exception | None] = []
    bound: list[tuple[int, Claimed, Any, str, Any, dict]] = []
    for claimed in items:
        try:
            key, passport_id, battery, passport = _registration(config, operator, claimed)
            try:
                data = passports.bind(passport, battery, 1, operator, aliases)
            except (FieldError, PassportInvalid) as exc:
                exc.path_prefix = "passport."  # type: ignore[attr-defined]
                raise
        except Exception as exc:  # noqa: BLE001 - reported on the item
            out.append(exc)
            continue
        bound.append((len(out), claimed, key, passport_id, battery, data))
        out.append(None)
    if bound:
        slots = passports.TIER_SLOTS
        allocated = statuslists.allocate(session, config, operator, slots * len(bound))
        for n, (at, claimed, key, passport_id, battery, data) in enumerate(bound):
            mine = allocated[n * slots : (n + 1) * slots]
            issuance = passports.issuance_plan(data, battery, operator, signing, mine, {})
            out[at] = ItemWork(claimed, battery.id, key, passport_id, issuance, mine)
    return out  # type: ignore[return-value]


def _registration(
    config: IssuerConfig, operator: Operator, claimed: Claimed
) -> tuple[Any, str, Any, dict]:
    """The item's GS1 key, passport id, planned battery and passport data (raises for a bad
    item)."""
    payload = claimed.payload
    unknown = sorted(set(payload) - ITEM_FIELDS)
    if unknown:
        raise InvalidBulkRequest(
            unknown[0],
            f"unknown field; an item has {', '.join(sorted(ITEM_FIELDS))}",
            rule="unknown-field",
        )
    passport = payload.get("passport")
    if not isinstance(passport, dict):
        raise InvalidBulkRequest(
            "passport", "is required: the Annex XIII passport", rule="required"
        )
    registration = {k: v for k, v in payload.items() if k != "passport"}
    if "passportId" in passport:
        registration["passportId"] = passport["passportId"]
    key, passport_id = batteries.parse_registration(registration)
    battery_id = str(uuid.uuid4())
    passport_id = passport_id or batteries.new_passport_id()
    battery = batteries.planned(config, operator, key, battery_id, passport_id)
    return key, passport_id, battery, passport


class AlreadyProcessed(Exception):
    """Another worker finished this item first."""


class GroupConflict(Exception):
    """Items of one group that cannot be committed together (the same battery twice)."""


def _mark(session: Session, claimed: Claimed, **values: Any) -> None:
    result = session.execute(
        update(BulkItem)
        .where(
            BulkItem.job_id == claimed.job_id,
            BulkItem.position == claimed.position,
            BulkItem.state == PENDING,
        )
        .values(finished_at=utcnow(), claimed_until=None, **values)
    )
    if result.rowcount != 1:
        raise AlreadyProcessed(f"item {claimed.position} of job {claimed.job_id}")


def commit_item(
    session: Session,
    config: IssuerConfig,
    operator: Operator,
    work: ItemWork,
    prepared: passports.PreparedPassport,
) -> None:
    """Register, store and mark the item done, in the caller's transaction."""
    _mark(
        session, work.claimed, state=DONE, battery_id=work.battery_id, passport_id=work.passport_id
    )
    battery = batteries.register(
        session,
        config,
        operator,
        work.key,
        passport_id=work.passport_id,
        battery_id=work.battery_id,
    )
    passports.commit(session, operator, battery, work.plan, work.allocated, prepared)


def commit_group(
    session: Session,
    config: IssuerConfig,
    operators_by_id: dict[str, Operator],
    group: list[tuple[ItemWork, passports.PreparedPassport]],
) -> None:
    """`commit_item` for several items in the caller's one transaction, set-based: one guarded
    UPDATE of bulk_items per job, one flush writing each table's rows as a multi-row INSERT.

    All or nothing: `AlreadyProcessed` when any item is no longer pending, `IntegrityError` when
    any battery is registered already (the unique (gtin, serial), passport id and route
    constraints, checked by the database instead of a query per item) or a status index was
    taken. The caller then rolls back and commits the items one by one, where each gets its own
    answer (issuer.worker.BulkWorker); nothing is lost or doubled either way, since every write
    of the group, the done marks included, is in this one transaction."""
    if len({(w.key.gtin, w.key.serial) for w, _ in group}) != len(group) or len(
        {w.passport_id for w, _ in group}
    ) != len(group):
        # the same battery twice in one group: the per-item path reports the second one
        raise GroupConflict("a battery twice in one group")
    _mark_done(session, [w for w, _ in group])
    now = utcnow()
    entries = []
    for work, prepared in group:
        operator = operators_by_id[work.claimed.operator_id]
        battery = batteries.planned(config, operator, work.key, work.battery_id, work.passport_id)
        battery.created_at = battery.updated_at = now
        session.add(battery)
        session.add(
            registry.new_route(work.battery_id, work.key, config.did_web_base, operator.did)
        )
        entries.append((operator, battery, work.plan, work.allocated, prepared))
    passports.commit_first_versions(session, entries)


def _mark_done(session: Session, works: list[ItemWork]) -> None:
    """Mark items done with their battery and passport ids: one UPDATE per job, guarded by the
    state as `_mark` is; `AlreadyProcessed` unless every item was still pending."""
    by_job: dict[str, list[ItemWork]] = {}
    for work in works:
        by_job.setdefault(work.claimed.job_id, []).append(work)
    now = utcnow()
    for job_id, items in by_job.items():
        positions = [w.claimed.position for w in items]
        position = col(BulkItem.position)
        result = session.execute(
            update(BulkItem)
            .where(
                BulkItem.job_id == job_id,
                position.in_(positions),
                BulkItem.state == PENDING,
            )
            .values(
                state=DONE,
                finished_at=now,
                claimed_until=None,
                battery_id=case({w.claimed.position: w.battery_id for w in items}, value=position),
                passport_id=case(
                    {w.claimed.position: w.passport_id for w in items}, value=position
                ),
            )
        )
        if result.rowcount != len(positions):
            raise AlreadyProcessed(f"items of job {job_id} were processed already")


def defer_item(session: Session, claimed: Claimed, delay: timedelta) -> None:
    """Leave a pending item for a round `delay` from now (its claim held until then)."""
    session.execute(
        update(BulkItem)
        .where(
            BulkItem.job_id == claimed.job_id,
            BulkItem.position == claimed.position,
            BulkItem.state == PENDING,
        )
        .values(claimed_until=utcnow() + delay)
    )


def fail_item(session: Session, claimed: Claimed, error: dict[str, Any]) -> None:
    _mark(session, claimed, state=FAILED, error=error)


def finish_jobs(session: Session) -> None:
    """Jobs without pending items are finished."""
    pending = select(BulkItem.job_id).where(
        BulkItem.job_id == BulkJob.id, BulkItem.state == PENDING
    )
    session.execute(
        update(BulkJob)
        .where(BulkJob.state != FINISHED, ~pending.exists())
        .values(state=FINISHED, finished_at=utcnow())
    )
    session.commit()
