"""The anchoring worker: close batches, send their roots, wait for confirmations, record results.

One pass (`run_once`):

1. **Close** batches from the outbox, oldest leaves first: whenever `batch_size` leaves wait, or the
   oldest has waited `batch_age_s` (or `force`). Closing is local (root, every leaf's proof, one
   database transaction), so it also happens while the chain is down.
2. **Advance** batches in flight (`sent`, `mined`): look for a receipt of any of the batch's
   transactions; rebroadcast a transaction the node does not know (it may have been lost with a
   restarted node); replace one that stays unmined past `resend_after_s` with higher fees; once
   mined, wait for `confirmations` blocks and check the receipt is still in the same block (a reorg
   sends the batch back to `sent`).
3. **Send** closed batches: if the root is already on chain (anchored by an earlier run whose
   record was lost, or by anyone else), record that anchoring instead of sending. Otherwise sign
   locally, **record the transaction (hash and raw bytes) and commit, then broadcast**. A worker
   killed at any point therefore either did not send (nothing recorded: the batch is still
   `closed`) or recorded what it sent (the next pass finds its receipt or broadcasts it again).
   The contract refuses a root it already has, so even a lost record cannot anchor twice.
4. **Advance** again, so that on an instant-mining chain a batch is recorded in the same pass.

`ChainUnavailable` ends the pass; `run` then waits with exponential backoff (capped at a minute)
and the queue stays as it is. Only the holder of the `worker` lease does anything.

Test hook: with `DBP_ANCHOR_PAUSE_AT=before-broadcast` or `after-broadcast`, the worker writes
`DBP_ANCHOR_PAUSE_FILE` (if set) at that point and sleeps, so a test can SIGKILL it there.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from anchor import leases, merkle
from anchor.errors import AnchorConfigError, ChainUnavailable
from anchor.tables import CLOSED, CONFIRMED, MINED, SENT, AnchorBatch, AnchorLeaf, AnchorTransaction
from vocab.datetimes import as_utc, utcnow

if TYPE_CHECKING:
    from anchor.chain import AnchoredEvent, Chain, Receipt
    from anchor.runtime import AnchorRuntime

log = logging.getLogger("dbp.anchor")

LEASE = "worker"
MAX_BACKOFF_S = 60.0


@dataclass
class PassReport:
    closed: int = 0
    sent: int = 0
    mined: int = 0
    confirmed: int = 0
    recognised: int = 0  # roots found already on chain instead of sending them
    rebroadcast: int = 0
    replaced: int = 0
    reorged: int = 0
    lease: bool = True
    errors: list[str] = field(default_factory=list)

    def busy(self) -> bool:
        return any((self.closed, self.sent, self.mined, self.confirmed, self.recognised))


def _pause(point: str) -> None:
    if os.environ.get("DBP_ANCHOR_PAUSE_AT") != point:
        return
    marker = os.environ.get("DBP_ANCHOR_PAUSE_FILE")
    if marker:
        Path(marker).write_text(str(os.getpid()))
    log.warning("DBP_ANCHOR_PAUSE_AT=%s: pausing for a test", point)
    while True:
        time.sleep(3600)


def new_chain_batch_id() -> str:
    return merkle.to_hex(uuid.uuid4().bytes + bytes(16))


class AnchorWorker:
    def __init__(self, runtime: AnchorRuntime, *, holder: str | None = None) -> None:
        self.rt = runtime
        self.engine = runtime.engine
        self.config = runtime.config
        self.holder = holder or leases.new_holder()

    # --- the pass -------------------------------------------------------------------------------

    def run_once(self, *, force: bool = False) -> PassReport:
        """One pass; raises ChainUnavailable when the chain cannot be reached (nothing is lost)."""
        report = PassReport()
        ttl = max(30.0, 5 * self.config.poll_s)
        if not leases.acquire(self.engine, LEASE, self.holder, ttl):
            report.lease = False
            return report
        report.closed = self.close_batches(force=force)
        if not self._in_flight_or_closed():
            return report
        chain = self.rt.chain()
        contract = self.rt.contract()
        signer = self.rt.signer()
        self.advance(chain, report)
        self.send_closed(chain, contract, signer, report)
        self.advance(chain, report)
        return report

    def run(self, stop: threading.Event) -> None:
        """Loop until `stop` is set: a pass every `poll_s`, backoff while the chain is away."""
        backoff = 0.0
        while not stop.is_set():
            try:
                report = self.run_once()
                backoff = 0.0
                if report.busy():
                    log.info("anchor worker: %s", report)
                    continue  # there may be more to do right away
            except ChainUnavailable as exc:
                backoff = min(MAX_BACKOFF_S, max(1.0, backoff * 2))
                log.warning("anchor worker: %s; retrying in %.0f s", exc, backoff)
            except AnchorConfigError as exc:
                backoff = MAX_BACKOFF_S
                log.error("anchor worker: %s", exc)
            except Exception:  # noqa: BLE001 - a worker thread must not die on one bad pass
                backoff = min(MAX_BACKOFF_S, max(1.0, backoff * 2))
                log.exception("anchor worker: pass failed; retrying in %.0f s", backoff)
            wait = backoff * random.uniform(0.8, 1.2) if backoff else self.config.poll_s
            stop.wait(wait)
        self.close()

    def close(self) -> None:
        """Give up the lease, so another worker can start at once."""
        leases.release(self.engine, LEASE, self.holder)

    # --- 1. closing -----------------------------------------------------------------------------

    def close_batches(self, *, force: bool = False) -> int:
        closed = 0
        while self._close_one(force=force):
            closed += 1
        return closed

    def _close_one(self, *, force: bool) -> bool:
        size = self.config.batch_size
        with Session(self.engine) as session:
            pending = select(AnchorLeaf).where(col(AnchorLeaf.batch_id).is_(None))
            oldest = session.exec(pending.order_by(col(AnchorLeaf.id)).limit(1)).first()
            if oldest is None:
                return False
            if not force:
                old_enough = utcnow() - as_utc(oldest.created_at) >= timedelta(
                    seconds=self.config.batch_age_s
                )
                if not old_enough:
                    # a full batch waits? (the size-th pending leaf exists; no count of them all)
                    full = session.exec(
                        select(AnchorLeaf.id)
                        .where(col(AnchorLeaf.batch_id).is_(None))
                        .order_by(col(AnchorLeaf.id))
                        .offset(size - 1)
                        .limit(1)
                    ).first()
                    if full is None:
                        return False
            rows = session.exec(
                select(AnchorLeaf.id, AnchorLeaf.leaf)
                .where(col(AnchorLeaf.batch_id).is_(None))
                .order_by(col(AnchorLeaf.id))
                .limit(size)
            ).all()
            digests = [merkle.from_hex(leaf) for _, leaf in rows]
            root, proofs = merkle.proofs(digests)
            batch = AnchorBatch(
                chain_batch_id=new_chain_batch_id(),
                root=merkle.to_hex(root),
                leaf_count=len(rows),
                state=CLOSED,
                closed_at=utcnow(),
            )
            existing = session.exec(
                select(AnchorBatch).where(AnchorBatch.root == batch.root)
            ).first()
            if existing is not None:
                # The very same leaves were batched before (only possible for duplicates of an
                # already batched set): file them under that batch, its proofs are the same.
                batch = existing
            else:
                session.add(batch)
                session.flush()
            session.execute(
                update(AnchorLeaf),
                [
                    {
                        "id": leaf_id,
                        "batch_id": batch.id,
                        "position": i,
                        "proof": [p.hex() for p in proof],
                    }
                    for i, ((leaf_id, _), proof) in enumerate(zip(rows, proofs, strict=True))
                ],
            )
            session.commit()
            log.info("closed batch %s: %d leaves, root %s", batch.id, len(rows), batch.root)
            return True

    def _in_flight_or_closed(self) -> bool:
        with Session(self.engine) as session:
            return (
                session.exec(
                    select(AnchorBatch.id)
                    .where(col(AnchorBatch.state).in_((CLOSED, SENT, MINED)))
                    .limit(1)
                ).first()
                is not None
            )

    # --- 3. sending -----------------------------------------------------------------------------

    def send_closed(self, chain: Chain, contract: str, signer, report: PassReport) -> None:
        from web3.exceptions import ContractLogicError

        with Session(self.engine, expire_on_commit=False) as session:
            batches = session.exec(
                select(AnchorBatch).where(AnchorBatch.state == CLOSED).order_by(col(AnchorBatch.id))
            ).all()
        for batch in batches:
            root = merkle.from_hex(batch.root)
            if self._recognise(chain, contract, batch, report):
                continue
            batch_id = merkle.from_hex(batch.chain_batch_id)
            try:
                gas = chain.anchor_gas(contract, signer.address, root, batch.leaf_count, batch_id)
            except ContractLogicError:
                # The call would revert: most likely the root arrived on chain a moment ago.
                if not self._recognise(chain, contract, batch, report):
                    self._note_error(batch.id, "anchor() would revert; the root is not on chain")
                continue
            nonce = self._next_nonce(chain, signer.address)
            tx = chain.anchor_transaction(
                contract,
                root,
                batch.leaf_count,
                batch_id,
                nonce=nonce,
                fees=chain.fees(self.config.max_fee_wei),
                gas=gas,
            )
            signed = signer.sign(tx)
            self._record_sent(batch.id, chain, contract, signer.address, nonce, signed)
            _pause("before-broadcast")
            self._broadcast(chain, batch.id, signed.raw, signed.tx_hash, report)
            _pause("after-broadcast")
            report.sent += 1

    def _record_sent(
        self, batch_id, chain: Chain, contract: str, sender: str, nonce: int, signed
    ) -> None:
        with Session(self.engine) as session:
            batch = session.get(AnchorBatch, batch_id)
            assert batch is not None
            session.add(
                AnchorTransaction(
                    tx_hash=signed.tx_hash,
                    kind="anchor",
                    batch_id=batch_id,
                    chain_id=chain.chain_id,
                    sender=sender,
                    nonce=nonce,
                    raw=signed.raw,
                    created_at=utcnow(),
                )
            )
            batch.state, batch.tx_hash = SENT, signed.tx_hash
            batch.chain_id, batch.contract = chain.chain_id, contract
            batch.sent_at = batch.sent_at or utcnow()
            batch.attempts += 1
            session.add(batch)
            session.commit()

    def _broadcast(
        self, chain: Chain, batch_id: int | None, raw: bytes, tx_hash: str, report: PassReport
    ) -> str:
        """ "ok", "dropped" (the nonce went elsewhere) or "rejected" (kept; tried again later)."""
        from anchor.chain import BroadcastRejected, NonceTooLow

        try:
            chain.broadcast(raw, tx_hash)
            return "ok"
        except NonceTooLow as exc:
            # Our nonce went to another transaction and ours was never mined. Unless the root is
            # on chain by now, the batch goes back to `closed` and is signed again with a new nonce.
            self._drop_transaction(tx_hash, f"nonce taken by another transaction ({exc})")
            report.errors.append(str(exc))
            return "dropped"
        except BroadcastRejected as exc:
            self._note_error(batch_id, str(exc))
            report.errors.append(str(exc))
            return "rejected"

    def _next_nonce(self, chain: Chain, sender: str) -> int:
        """The node's pending nonce, but never one our recorded, still pending transactions hold."""
        with Session(self.engine) as session:
            highest = session.exec(
                select(func.max(AnchorTransaction.nonce))
                .join(AnchorBatch, col(AnchorBatch.id) == col(AnchorTransaction.batch_id))
                .where(
                    AnchorTransaction.chain_id == chain.chain_id,
                    AnchorTransaction.sender == sender,
                    col(AnchorTransaction.status).is_(None),
                    AnchorBatch.state == SENT,
                )
            ).one()
        pending = chain.nonce(sender, "pending")
        return pending if highest is None else max(pending, highest + 1)

    # --- 2. advancing ---------------------------------------------------------------------------

    def advance(self, chain: Chain, report: PassReport) -> None:
        with Session(self.engine, expire_on_commit=False) as session:
            batches = session.exec(
                select(AnchorBatch)
                .where(col(AnchorBatch.state).in_((SENT, MINED)))
                .order_by(col(AnchorBatch.id))
            ).all()
        if not batches:
            return
        head = chain.head()
        for batch in batches:
            if batch.state == SENT:
                self._advance_sent(chain, batch, report)
                with Session(self.engine, expire_on_commit=False) as session:
                    batch = session.get(AnchorBatch, batch.id)
                if batch is None or batch.state != MINED:
                    continue
                head = max(head, batch.block_number or 0)
            self._advance_mined(chain, batch, head, report)

    def _transactions(self, batch_id: int | None) -> list[AnchorTransaction]:
        with Session(self.engine, expire_on_commit=False) as session:
            return list(
                session.exec(
                    select(AnchorTransaction)
                    .where(AnchorTransaction.batch_id == batch_id)
                    .order_by(col(AnchorTransaction.id))
                )
            )

    def _advance_sent(self, chain: Chain, batch: AnchorBatch, report: PassReport) -> None:
        txs = self._transactions(batch.id)
        for tx in reversed(txs):
            rc = chain.receipt(tx.tx_hash)
            if rc is not None:
                self._on_receipt(chain, batch, tx, rc, report)
                return
        contract = batch.contract or self.rt.contract()
        live = [tx for tx in txs if tx.replaced_by is None and tx.status is None]
        if not live:
            # every transaction failed or was dropped: recognise the root or sign again
            if not self._recognise(chain, contract, batch, report):
                self._set_state(batch.id, CLOSED, "no live transaction; signing again")
            return
        newest = live[-1]
        outcome = self._broadcast(chain, batch.id, newest.raw, newest.tx_hash, report)
        if outcome == "dropped":
            return  # the next pass recognises the root or signs again
        if outcome == "ok":
            report.rebroadcast += 1
        age = (utcnow() - as_utc(newest.created_at)).total_seconds()
        if (
            age > self.config.resend_after_s
            and chain.nonce(newest.sender, "latest") <= newest.nonce
        ):
            self._replace(chain, batch, newest, report)

    def _replace(
        self, chain: Chain, batch: AnchorBatch, old: AnchorTransaction, report: PassReport
    ) -> None:
        """Same nonce, higher fees: whichever of the two is mined anchors the batch."""
        from anchor.chain import Fees

        signer = self.rt.signer()
        if signer.address != old.sender:
            return  # the account changed since; the old transaction stays as it is
        previous = _fees_of(old.raw)
        fees = (
            previous.bumped(chain.fees(self.config.max_fee_wei))
            if previous
            else chain.fees(self.config.max_fee_wei)
        )
        contract = batch.contract or self.rt.contract()
        tx = chain.anchor_transaction(
            contract,
            merkle.from_hex(batch.root),
            batch.leaf_count,
            merkle.from_hex(batch.chain_batch_id),
            nonce=old.nonce,
            fees=Fees(fees.max_fee_per_gas, fees.max_priority_fee_per_gas),
            gas=_gas_of(old.raw) or 120_000,
        )
        signed = signer.sign(tx)
        with Session(self.engine) as session:
            row = session.get(AnchorTransaction, old.id)
            assert row is not None
            row.replaced_by = signed.tx_hash
            session.add(row)
            session.add(
                AnchorTransaction(
                    tx_hash=signed.tx_hash,
                    kind="anchor",
                    batch_id=batch.id,
                    chain_id=chain.chain_id,
                    sender=signer.address,
                    nonce=old.nonce,
                    raw=signed.raw,
                    created_at=utcnow(),
                )
            )
            stored = session.get(AnchorBatch, batch.id)
            assert stored is not None
            stored.tx_hash, stored.attempts = signed.tx_hash, stored.attempts + 1
            session.add(stored)
            session.commit()
        if self._broadcast(chain, batch.id, signed.raw, signed.tx_hash, report) == "ok":
            report.replaced += 1
            log.info(
                "batch %s: replaced %s by %s with higher fees",
                batch.id,
                old.tx_hash,
                signed.tx_hash,
            )

    def _on_receipt(
        self, chain: Chain, batch: AnchorBatch, tx: AnchorTransaction, rc: Receipt, report
    ) -> None:
        from anchor.chain import timestamp_to_datetime

        block_time = timestamp_to_datetime(chain.block(rc.block_number)[1])
        with Session(self.engine) as session:
            row = session.get(AnchorTransaction, tx.id)
            assert row is not None
            row.status, row.block_number, row.block_time = rc.status, rc.block_number, block_time
            session.add(row)
            session.commit()
        ours = [e for e in rc.events if e.root == batch.root and rc.status == 1]
        if ours:
            self._mark_mined(batch.id, ours[0], block_time)
            report.mined += 1
            return
        # Reverted (or no event): the root may be on chain through another transaction.
        contract = batch.contract or self.rt.contract()
        if not self._recognise(chain, contract, batch, report):
            self._set_state(batch.id, CLOSED, f"transaction {rc.tx_hash} reverted; signing again")

    def _advance_mined(
        self, chain: Chain, batch: AnchorBatch, head: int, report: PassReport
    ) -> None:
        assert batch.block_number is not None and batch.tx_hash is not None
        depth = head - batch.block_number + 1
        if depth < self.config.confirmations:
            if chain.kind == "embedded":
                chain.mine(self.config.confirmations - depth)  # nobody else makes blocks there
            else:
                return
        rc = chain.receipt(batch.tx_hash)
        if rc is None or rc.block_hash != batch.block_hash or rc.status != 1:
            log.warning(
                "batch %s: block %s no longer holds %s (reorg); back to sent",
                batch.id,
                batch.block_number,
                batch.tx_hash,
            )
            self._set_state(batch.id, SENT, "reorganised out of its block")
            report.reorged += 1
            return
        with Session(self.engine) as session:
            stored = session.get(AnchorBatch, batch.id)
            assert stored is not None
            if stored.state == MINED:
                stored.state, stored.confirmed_at = CONFIRMED, utcnow()
                session.add(stored)
                session.commit()
                report.confirmed += 1

    # --- recording ------------------------------------------------------------------------------

    def _recognise(
        self, chain: Chain, contract: str, batch: AnchorBatch, report: PassReport
    ) -> bool:
        """If the root is already on chain, record that anchoring (whoever sent it) and say so."""
        from anchor.chain import timestamp_to_datetime

        event = chain.find_anchor(contract, merkle.from_hex(batch.root))
        if event is None:
            return False
        block_time = timestamp_to_datetime(chain.block(event.block_number)[1])
        self._mark_mined(batch.id, event, block_time, chain_id=chain.chain_id)
        report.recognised += 1
        log.info(
            "batch %s: root %s is already on chain (tx %s); recorded, not sent again",
            batch.id,
            batch.root,
            event.tx_hash,
        )
        return True

    def _mark_mined(
        self, batch_id, event: AnchoredEvent, block_time, chain_id: int | None = None
    ) -> None:
        with Session(self.engine) as session:
            batch = session.get(AnchorBatch, batch_id)
            assert batch is not None
            if batch.state == CONFIRMED:
                return
            batch.state = MINED
            batch.tx_hash, batch.block_number, batch.block_hash = (
                event.tx_hash,
                event.block_number,
                event.block_hash,
            )
            batch.block_time, batch.anchored_by, batch.contract = (
                block_time,
                event.by,
                event.contract,
            )
            batch.chain_id = batch.chain_id or chain_id
            batch.mined_at, batch.last_error = utcnow(), None
            session.add(batch)
            session.commit()

    def _set_state(self, batch_id, state: str, error: str | None = None) -> None:
        with Session(self.engine) as session:
            batch = session.get(AnchorBatch, batch_id)
            assert batch is not None
            batch.state, batch.last_error = state, (error or "")[:500] or None
            if state in (CLOSED, SENT):
                batch.block_number = batch.block_hash = batch.block_time = batch.mined_at = None
            session.add(batch)
            session.commit()

    def _note_error(self, batch_id, error: str) -> None:
        with Session(self.engine) as session:
            batch = session.get(AnchorBatch, batch_id)
            if batch is not None:
                batch.last_error = error[:500]
                session.add(batch)
                session.commit()
        log.warning("batch %s: %s", batch_id, error)

    def _drop_transaction(self, tx_hash: str, reason: str) -> None:
        with Session(self.engine) as session:
            row = session.exec(
                select(AnchorTransaction).where(AnchorTransaction.tx_hash == tx_hash)
            ).first()
            if row is None:
                return
            row.status = -1  # dropped: never mined, its nonce went elsewhere
            session.add(row)
            batch = session.get(AnchorBatch, row.batch_id) if row.batch_id else None
            if batch is not None:
                batch.last_error = reason[:500]
                session.add(batch)
            session.commit()
        log.warning("transaction %s dropped: %s", tx_hash, reason)


def _decoded(raw: bytes):
    from eth_account.typed_transactions import TypedTransaction
    from hexbytes import HexBytes

    try:
        return TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
    except Exception:  # noqa: BLE001 - a legacy or unknown transaction: no fee data to reuse
        return None


def _fees_of(raw: bytes):
    from anchor.chain import Fees

    tx = _decoded(raw)
    if not tx or "maxFeePerGas" not in tx:
        return None
    return Fees(int(tx["maxFeePerGas"]), int(tx["maxPriorityFeePerGas"]))


def _gas_of(raw: bytes) -> int | None:
    tx = _decoded(raw)
    return int(tx["gas"]) if tx and "gas" in tx else None
