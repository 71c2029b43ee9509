"""What a process needs to anchor and to check anchors: the chain, the account, the contract.

One `AnchorRuntime` per process (the web service holds one in `service.runtime.Runtime.anchor`;
the CLI commands make their own). It opens the chain lazily, so a process that never anchors or
verifies an anchored credential never imports web3 nor starts an EVM.

The embedded chain and restarts. The in-process EVM is lost when the process exits. The database
records every transaction dbp signed, raw bytes included, before it is broadcast
(`anchor_transactions`), plus the block timestamp it was mined with. Opening the embedded chain
therefore means: a genesis that funds the anchoring account(s), then every recorded transaction
again, in recording order, each in its own block stamped with its original timestamp (eth-tester
lets us set the next block's timestamp). Same signed bytes, same nonces, same contract address,
same roots, same `anchoredAt` timestamps; block numbers match as well (one block per transaction),
block hashes do not (eth-tester randomises `mixHash`), so the replay writes the new hashes back.
While the replay runs, `chain(wait=...)` raises `ChainUnavailable` and the verifier reports the
anchor check as a *warning* ("chain not ready"), never as a failure. Several processes on one
database (uvicorn workers, a CLI worker) each rebuild their own copy and catch up with
transactions recorded by the others before every read (`sync`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from pydantic import SecretStr
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from anchor import accounts
from anchor.errors import AnchorConfigError, AnchorError, ChainUnavailable, NoAnchorAccount
from anchor.tables import AnchorBatch, AnchorTransaction
from infra.db import session_scope
from proofs.signer import Keystore
from vocab.datetimes import utcnow

if TYPE_CHECKING:
    from anchor.accounts import Signer
    from anchor.chain import Chain

log = logging.getLogger("dbp.anchor")


class Settings(Protocol):
    """The settings anchoring reads (`service.settings.Settings` is one; handed in by the
    composition root, so that `anchor` does not import `service`)."""

    chain_backend: Literal["embedded", "rpc"]
    anchor_contract: str | None
    anchor_private_key: SecretStr | None
    anchor_batch_size: int
    anchor_batch_age_s: float
    anchor_confirmations: int
    anchor_worker: Literal["auto", "on", "off"]
    anchor_poll_s: float
    anchor_max_fee_gwei: float | None
    anchor_resend_after_s: float


@dataclass(frozen=True)
class AnchorConfig:
    batch_size: int
    batch_age_s: float
    confirmations: int
    poll_s: float
    max_fee_wei: int | None
    resend_after_s: float

    @classmethod
    def from_settings(cls, settings: Settings) -> AnchorConfig:
        cap = settings.anchor_max_fee_gwei
        return cls(
            batch_size=settings.anchor_batch_size,
            batch_age_s=settings.anchor_batch_age_s,
            confirmations=settings.anchor_confirmations,
            poll_s=settings.anchor_poll_s,
            max_fee_wei=None if cap is None else int(cap * 10**9),
            resend_after_s=settings.anchor_resend_after_s,
        )


class AnchorRuntime:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        master_key: bytes | Keystore,
        *,
        chain_wrapper: Callable[[Chain], Chain] | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.master_key = master_key
        self.config = AnchorConfig.from_settings(settings)
        self._chain_wrapper = chain_wrapper  # tests wrap the chain to simulate outages
        self._chain: Chain | None = None
        self._contract: str | None = None
        self._signer: Signer | None = None
        self._lock = threading.RLock()  # short: the fields below
        self._open_lock = threading.Lock()  # one opening (embedded: one replay) at a time
        self._sync_lock = threading.Lock()
        self._opening: threading.Thread | None = None
        self._open_error: Exception | None = None
        self._synced_id = 0
        self._worker_thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._closed = False

    @property
    def backend(self) -> str:
        return self.settings.chain_backend

    # --- account --------------------------------------------------------------------------------

    def signer(self) -> Signer:
        """The active anchoring account; imports DBP_ANCHOR_PRIVATE_KEY, or creates one for the
        embedded chain when there is none."""
        with self._lock:
            if self._signer is not None:
                return self._signer
            with session_scope(self.engine) as session:
                secret = self.settings.anchor_private_key
                if secret is not None:
                    key = accounts.parse_private_key(secret.get_secret_value())
                    current = accounts.active_account(session)
                    if current is None or current.address != accounts.address_of(key):
                        accounts.store_key(session, self.master_key, key)
                account = accounts.active_account(session)
                if account is None:
                    if self.backend != "embedded":
                        raise NoAnchorAccount(
                            "no anchoring account: set DBP_ANCHOR_PRIVATE_KEY "
                            "or run `dbp anchor import-key`"
                        )
                    account = accounts.create_account(session, self.master_key)
            self._signer = accounts.Signer(account, self.master_key)
            return self._signer

    # --- chain ----------------------------------------------------------------------------------

    def chain(self, wait: float | None = None, session: Session | None = None) -> Chain:
        """The chain, opened (and for the embedded backend rebuilt and caught up) on first use.

        `wait=None` blocks until it is ready; otherwise opening continues in the background and
        `ChainUnavailable` is raised when it is not ready within `wait` seconds. A request passes
        its own `session`, which catching up then reads through: a request never holds two
        pooled connections at once (infra/db.py says why)."""
        with self._lock:
            chain = self._chain
        if chain is not None:
            if chain.kind == "embedded":
                self._sync(chain, session=session)
            return chain
        if wait is None:
            return self._open()
        with self._lock:
            if self._opening is None or not self._opening.is_alive():
                self._open_error = None
                self._opening = threading.Thread(
                    target=self._open_quietly, name="dbp-anchor-open", daemon=True
                )
                self._opening.start()
            opening = self._opening
        opening.join(wait)
        with self._lock:
            if self._chain is not None:
                return self._chain
            error = self._open_error
        if error is None:
            raise ChainUnavailable(
                f"the {self.backend} chain is still being opened (rebuilding its state)"
            )
        if isinstance(error, ChainUnavailable | AnchorConfigError):
            raise error
        raise ChainUnavailable(f"the chain could not be opened: {error}")

    def _open_quietly(self) -> None:
        try:
            self._open()
        except Exception as exc:  # noqa: BLE001 - reported to whoever waits for the chain
            self._open_error = exc
            log.warning("opening the %s chain failed: %s", self.backend, exc)

    def _open(self) -> Chain:
        with self._open_lock:
            if self._chain is not None:
                return self._chain
            if self._closed:
                raise ChainUnavailable("the anchoring runtime is shutting down")
            chain = self._open_embedded() if self.backend == "embedded" else self._open_rpc()
            with self._lock:
                if self._closed:
                    chain.close()
                    raise ChainUnavailable("the anchoring runtime is shutting down")
                self._chain = chain
            return chain

    def _configured_contract(self, chain: Chain) -> str:
        address = self.settings.anchor_contract
        if not address:
            raise AnchorConfigError(
                "DBP_ANCHOR_CONTRACT is not set; deploy with `dbp anchor deploy`"
            )
        if not chain.code_exists(address):
            raise AnchorConfigError(f"there is no contract at {address} on chain {chain.chain_id}")
        from eth_utils import to_checksum_address

        return to_checksum_address(address)

    def _open_rpc(self) -> Chain:
        from anchor.chain import RpcChain

        s = self.settings
        if not s.chain_rpc_url:
            raise AnchorConfigError("DBP_CHAIN_BACKEND=rpc needs DBP_CHAIN_RPC_URL")
        if s.chain_id is None:
            raise AnchorConfigError(
                "DBP_CHAIN_BACKEND=rpc needs DBP_CHAIN_ID (the chain to anchor on)"
            )
        chain: Chain = RpcChain(
            s.chain_rpc_url, expected_chain_id=s.chain_id, timeout_s=s.anchor_rpc_timeout_s
        )
        if self._chain_wrapper is not None:
            chain = self._chain_wrapper(chain)
        self._contract = self._configured_contract(chain)
        return chain

    def _open_embedded(self) -> Chain:
        from anchor.chain import EmbeddedChain

        self.signer()  # make sure an account exists before building the genesis
        with Session(self.engine) as session:
            funded = accounts.all_accounts(session)
        genesis = int(min(a.created_at for a in funded).timestamp()) - 1
        chain: Chain = EmbeddedChain([a.address for a in funded], genesis)
        if self._chain_wrapper is not None:
            chain = self._chain_wrapper(chain)
        replayed = self._sync(chain, replay=True)
        if replayed:
            log.info("embedded chain rebuilt from %d recorded transaction(s)", replayed)
        self._contract = self._ensure_embedded_contract(chain)
        return chain

    def _sync(self, chain: Chain, replay: bool = False, session: Session | None = None) -> int:
        """Apply recorded transactions this embedded chain has not seen yet, in recording order,
        with their original block timestamps; write back what differs (block hashes, on
        `replay`, in a session of its own). Catching up only reads: through `session` if given."""
        if session is not None and not replay:
            with self._sync_lock:
                return self._apply_recorded(chain, session, replay=False)
        with self._sync_lock, Session(self.engine, expire_on_commit=False) as own:
            applied = self._apply_recorded(chain, own, replay)
            own.commit()
            return applied

    def _apply_recorded(self, chain: Chain, session: Session, replay: bool) -> int:
        from anchor.chain import BroadcastRejected, NonceTooLow, timestamp_to_datetime

        newest = session.exec(
            select(func.max(AnchorTransaction.id)).where(
                AnchorTransaction.chain_id == chain.chain_id
            )
        ).one()
        if newest is None or newest <= self._synced_id:
            return 0
        rows = session.exec(
            select(AnchorTransaction)
            .where(
                AnchorTransaction.chain_id == chain.chain_id,
                AnchorTransaction.id > self._synced_id,
            )
            .order_by(AnchorTransaction.id)
        ).all()
        applied = 0
        for row in rows:
            if row.tx_hash not in chain.applied:  # type: ignore[attr-defined]
                stamp = int(row.block_time.timestamp()) if row.block_time else None
                try:
                    chain.apply(row.raw, row.tx_hash, stamp)  # type: ignore[attr-defined]
                    applied += 1
                except (NonceTooLow, BroadcastRejected) as exc:
                    # A replaced transaction whose nonce went to its replacement, typically.
                    log.info("replay skipped transaction %s: %s", row.tx_hash, exc)
                rc = chain.receipt(row.tx_hash)
                if rc is not None and replay:
                    self._write_back(
                        session, row, rc, timestamp_to_datetime(chain.block(rc.block_number)[1])
                    )
            self._synced_id = row.id or self._synced_id
        return applied

    @staticmethod
    def _write_back(session: Session, row: AnchorTransaction, rc, block_time) -> None:
        if row.block_number != rc.block_number or row.block_time is None:
            row.block_number, row.block_time, row.status = rc.block_number, block_time, rc.status
            session.add(row)
        if row.batch_id is None:
            return
        batch = session.get(AnchorBatch, row.batch_id)
        if batch is not None and batch.tx_hash == row.tx_hash and batch.block_number is not None:
            batch.block_number, batch.block_hash = rc.block_number, rc.block_hash
            session.add(batch)

    def _ensure_embedded_contract(self, chain: Chain) -> str:
        with Session(self.engine, expire_on_commit=False) as session:
            deployed = session.exec(
                select(AnchorTransaction)
                .where(
                    AnchorTransaction.chain_id == chain.chain_id,
                    AnchorTransaction.kind == "deploy",
                    AnchorTransaction.contract.is_not(None),  # type: ignore[union-attr]
                )
                .order_by(AnchorTransaction.id.desc())  # type: ignore[union-attr]
            ).first()
            if deployed is not None and chain.code_exists(deployed.contract):
                return deployed.contract
            row = record_deployment(session, self.signer(), chain, chain.fees())
            self._synced_id = max(self._synced_id, row.id or 0)
            log.info("PassportAnchor deployed on the embedded chain at %s", row.contract)
            assert row.contract is not None
            return row.contract

    def contract(self) -> str:
        """The PassportAnchor address new batches go to (opens the chain)."""
        self.chain()
        assert self._contract is not None
        return self._contract

    @property
    def ready(self) -> bool:
        return self._chain is not None

    # --- the worker thread ----------------------------------------------------------------------

    def worker_enabled(self) -> bool:
        mode = self.settings.anchor_worker
        return mode == "on" or (mode == "auto" and self.backend == "embedded")

    def start(self) -> None:
        """Start the background worker thread when the settings ask for one."""
        if not self.worker_enabled() or self._worker_thread is not None:
            return
        from anchor.worker import AnchorWorker

        worker = AnchorWorker(self)
        self._stop.clear()
        self._worker_thread = threading.Thread(
            target=worker.run, args=(self._stop,), name="dbp-anchor-worker", daemon=True
        )
        self._worker_thread.start()

    def close(self) -> None:
        self._closed = True
        self._stop.set()
        if self._worker_thread is not None:
            self._worker_thread.join(timeout=30)
            self._worker_thread = None
        with self._lock:
            if self._chain is not None:
                self._chain.close()
                self._chain = None


def record_deployment(
    session: Session, signer, chain: Chain, fees, *, timeout_s: float = 30.0
) -> AnchorTransaction:
    """Deploy PassportAnchor with `signer`'s account: the one place a deployment is recorded.

    The transaction is recorded (and committed) before it is broadcast, like every transaction;
    its receipt (contract address, block) is recorded when it is mined. Raises AnchorError when
    the deployment fails. Used by the embedded chain's first start (`Runtime`) and by
    `dbp anchor deploy` / provisioning (`anchor.cli.deploy_contract`)."""
    from anchor.chain import timestamp_to_datetime

    tx = chain.deploy_transaction(nonce=chain.nonce(signer.address), fees=fees)
    signed = signer.sign(tx)
    row = AnchorTransaction(
        tx_hash=signed.tx_hash,
        kind="deploy",
        chain_id=chain.chain_id,
        sender=signer.address,
        nonce=tx["nonce"],
        raw=signed.raw,
        created_at=utcnow(),
    )
    session.add(row)
    session.commit()  # recorded before it is broadcast, like every transaction
    chain.broadcast(signed.raw, signed.tx_hash)
    rc = chain.wait_for_receipt(signed.tx_hash, timeout_s=timeout_s)
    if rc.status != 1 or rc.contract_address is None:
        raise AnchorError(f"the deployment transaction {signed.tx_hash} failed")
    row.contract, row.status, row.block_number = rc.contract_address, rc.status, rc.block_number
    row.block_time = timestamp_to_datetime(chain.block(rc.block_number)[1])
    session.add(row)
    session.commit()
    return row
