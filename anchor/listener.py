"""`dbp anchor listen`: follow `Anchored` events of the contract, reorg-safe, across restarts.

Each poll reads the blocks from the cursor (the next unread block, kept in `anchor_cursors`) up to
`head - confirmations + 1`, so it only ever acts on blocks with at least `confirmations` blocks on
top: a reorganisation shallower than that cannot retract anything it did. For every event it
of one of our batches it records the event (`anchor_chain_events`, unique per transaction and log
index, so a repeated poll after a crash changes nothing) and marks the batch `confirmed` (filling
in the transaction and block if the worker had not recorded them, e.g. after losing its record),
and it moves the cursor, all in one database transaction per block range. Events of roots that are
not ours (anyone may call the contract) are counted, not stored.

Webhook (`DBP_ANCHOR_WEBHOOK_URL`): each recorded event is POSTed as JSON (`anchor.confirmed`), at
least once: up to 3 tries with backoff in a poll, again on later polls until
`MAX_DELIVERY_ATTEMPTS`; receivers
deduplicate by `id` (chain id, transaction and log index). With `DBP_ANCHOR_WEBHOOK_SECRET` the
body is signed: `X-Dbp-Signature: sha256=<hex HMAC-SHA256 of the body>`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import orjson
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from anchor import leases
from anchor.errors import AnchorConfigError, ChainUnavailable
from anchor.tables import CONFIRMED, AnchorBatch, AnchorChainEvent, AnchorCursor, AnchorTransaction
from vocab.datetimes import format_datetime, utcnow

if TYPE_CHECKING:
    from anchor.chain import AnchoredEvent, Chain
    from anchor.runtime import AnchorRuntime

log = logging.getLogger("dbp.anchor")

MAX_DELIVERY_ATTEMPTS = 20
TRIES_PER_POLL = 3
RANGE = 2000  # blocks per database transaction


@dataclass
class PollReport:
    head: int = 0
    read_to: int | None = None  # last block read (None: nothing safe to read yet)
    events: int = 0
    confirmed: int = 0
    delivered: int = 0
    failed_deliveries: int = 0
    lease: bool = True


class Listener:
    def __init__(
        self,
        runtime: AnchorRuntime,
        *,
        from_block: int | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        http: httpx.Client | None = None,
        holder: str | None = None,
    ) -> None:
        self.rt = runtime
        self.engine = runtime.engine
        self.confirmations = runtime.config.confirmations
        self.from_block = from_block
        s = runtime.settings
        self.webhook_url = webhook_url if webhook_url is not None else s.anchor_webhook_url
        secret = s.anchor_webhook_secret.get_secret_value() if s.anchor_webhook_secret else None
        self.webhook_secret = webhook_secret if webhook_secret is not None else secret
        self.http = http or httpx.Client(timeout=10.0)
        self.holder = holder or leases.new_holder()
        self.retry_pause_s = 0.5
        self._lease_name: str | None = None

    def close(self) -> None:
        """Let another listener take over at once (a killed one is taken over by its pid)."""
        if self._lease_name is not None:
            leases.release(self.engine, self._lease_name, self.holder)

    def cursor_name(self, chain: Chain, contract: str) -> str:
        return f"listener:{chain.chain_id}:{contract.lower()}"

    def _start_block(self, session: Session, chain: Chain) -> int:
        if self.from_block is not None:
            return self.from_block
        deployed = session.exec(
            select(AnchorTransaction.block_number)
            .where(AnchorTransaction.chain_id == chain.chain_id, AnchorTransaction.kind == "deploy")
            .order_by(col(AnchorTransaction.id).desc())
        ).first()
        return int(deployed) if deployed is not None else 0

    def poll_once(self) -> PollReport:
        report = PollReport()
        chain = self.rt.chain()
        contract = self.rt.contract()
        name = self._lease_name = self.cursor_name(chain, contract)
        if not leases.acquire(
            self.engine, name, self.holder, ttl_s=max(30.0, 5 * self.rt.config.poll_s)
        ):
            report.lease = False
            return report
        report.head = chain.head()
        safe = report.head - self.confirmations + 1
        with Session(self.engine) as session:
            cursor = session.get(AnchorCursor, name)
            if cursor is None:
                cursor = AnchorCursor(
                    name=name, next_block=self._start_block(session, chain), updated_at=utcnow()
                )
                session.add(cursor)
                session.commit()
            start = cursor.next_block
        for first in range(start, safe + 1, RANGE):
            last = min(safe, first + RANGE - 1)
            events = chain.events(contract, first, last)
            report.events += len(events)
            ours = self._ours(events)
            times = {n: chain.block(n)[1] for n in {e.block_number for e in ours}}
            report.confirmed += self._record(name, chain.chain_id, ours, times, last)
            report.read_to = last
        if self.webhook_url:
            self._deliver(report)
        return report

    def _ours(self, events: list[AnchoredEvent]) -> list[AnchoredEvent]:
        roots = sorted({e.root for e in events})
        if not roots:
            return []
        with Session(self.engine) as session:
            known = set(
                session.exec(select(AnchorBatch.root).where(col(AnchorBatch.root).in_(roots)))
            )
        return [e for e in events if e.root in known]

    def _record(
        self,
        name: str,
        chain_id: int,
        events: list[AnchoredEvent],
        times: dict[int, int],
        last: int,
    ) -> int:
        from anchor.chain import timestamp_to_datetime

        confirmed = 0
        with Session(self.engine) as session:
            for ev in events:
                exists = session.exec(
                    select(AnchorChainEvent.id).where(
                        AnchorChainEvent.chain_id == chain_id,
                        AnchorChainEvent.tx_hash == ev.tx_hash,
                        AnchorChainEvent.log_index == ev.log_index,
                    )
                ).first()
                if exists is not None:
                    continue
                batch = session.exec(select(AnchorBatch).where(AnchorBatch.root == ev.root)).first()
                if batch is None:
                    # Anyone may call anchor() on the contract; only our own roots concern us
                    # (storing or forwarding strangers' events would let them fill our tables).
                    continue
                block_time = timestamp_to_datetime(times[ev.block_number])
                session.add(
                    AnchorChainEvent(
                        chain_id=chain_id,
                        contract=ev.contract,
                        tx_hash=ev.tx_hash,
                        log_index=ev.log_index,
                        block_number=ev.block_number,
                        block_hash=ev.block_hash,
                        block_time=block_time,
                        root=ev.root,
                        chain_batch_id=ev.chain_batch_id,
                        leaf_count=ev.leaf_count,
                        sender=ev.by,
                        batch_id=batch.id,
                        seen_at=utcnow(),
                    )
                )
                if batch.state != CONFIRMED:
                    batch.state, batch.confirmed_at = CONFIRMED, utcnow()
                    batch.tx_hash, batch.block_number, batch.block_hash = (
                        ev.tx_hash,
                        ev.block_number,
                        ev.block_hash,
                    )
                    batch.block_time, batch.anchored_by = block_time, ev.by
                    batch.chain_id, batch.contract = chain_id, ev.contract
                    batch.mined_at = batch.mined_at or utcnow()
                    batch.last_error = None
                    session.add(batch)
                    confirmed += 1
            cursor = session.get(AnchorCursor, name)
            assert cursor is not None
            cursor.next_block, cursor.updated_at = last + 1, utcnow()
            session.add(cursor)
            try:
                session.commit()
            except IntegrityError:  # another listener recorded the same events meanwhile
                session.rollback()
                return 0
        return confirmed

    # --- webhook --------------------------------------------------------------------------------

    def payload(self, ev: AnchorChainEvent, batch: AnchorBatch | None) -> dict[str, Any]:
        return {
            "id": f"{ev.chain_id}:{ev.tx_hash}:{ev.log_index}",
            "type": "anchor.confirmed",
            "chainId": ev.chain_id,
            "contract": ev.contract,
            "root": ev.root,
            "batchId": ev.chain_batch_id,
            "leafCount": ev.leaf_count,
            "anchoredBy": ev.sender,
            "transaction": ev.tx_hash,
            "logIndex": ev.log_index,
            "block": ev.block_number,
            "blockHash": ev.block_hash,
            "time": format_datetime(ev.block_time),
            "confirmations": self.confirmations,
            "batch": None
            if batch is None
            else {"closedAt": format_datetime(batch.closed_at), "leafCount": batch.leaf_count},
        }

    def _post(self, body: bytes) -> None:
        headers = {"Content-Type": "application/json", "User-Agent": "dbp-anchor-listener"}
        if self.webhook_secret:
            digest = hmac.new(self.webhook_secret.encode(), body, hashlib.sha256).hexdigest()
            headers["X-Dbp-Signature"] = f"sha256={digest}"
        response = self.http.post(self.webhook_url, content=body, headers=headers)
        if response.status_code >= 300:
            raise httpx.HTTPStatusError(
                f"HTTP {response.status_code}", request=response.request, response=response
            )

    def _deliver(self, report: PollReport) -> None:
        with Session(self.engine, expire_on_commit=False) as session:
            pending = session.exec(
                select(AnchorChainEvent)
                .where(
                    col(AnchorChainEvent.notified_at).is_(None),
                    AnchorChainEvent.notify_attempts < MAX_DELIVERY_ATTEMPTS,
                )
                .order_by(col(AnchorChainEvent.id))
            ).all()
            for ev in pending:
                batch = session.get(AnchorBatch, ev.batch_id) if ev.batch_id else None
                body = orjson.dumps(self.payload(ev, batch))
                error = None
                for attempt in range(TRIES_PER_POLL):
                    try:
                        self._post(body)
                        error = None
                        break
                    except httpx.HTTPError as exc:
                        error = str(exc) or exc.__class__.__name__
                        ev.notify_attempts += 1
                        if attempt + 1 < TRIES_PER_POLL:
                            time.sleep(self.retry_pause_s * 2**attempt)
                if error is None:
                    ev.notified_at, ev.notify_error = utcnow(), None
                    report.delivered += 1
                else:
                    ev.notify_error = error[:500]
                    report.failed_deliveries += 1
                    log.warning("webhook delivery of %s failed: %s", ev.tx_hash, error)
                session.add(ev)
                session.commit()
                if error is not None:
                    break  # keep order: later events wait for this one

    def run(self, stop: threading.Event) -> None:
        backoff = 0.0
        while not stop.is_set():
            try:
                report = self.poll_once()
                backoff = 0.0
                if report.events or report.delivered:
                    log.info("anchor listener: %s", report)
            except ChainUnavailable as exc:
                backoff = min(60.0, max(1.0, backoff * 2))
                log.warning("anchor listener: %s; retrying in %.0f s", exc, backoff)
            except AnchorConfigError as exc:
                backoff = 60.0
                log.error("anchor listener: %s", exc)
            except Exception:  # noqa: BLE001 - keep listening
                backoff = min(60.0, max(1.0, backoff * 2))
                log.exception("anchor listener: poll failed")
            stop.wait(backoff or self.rt.config.poll_s)
        self.close()
