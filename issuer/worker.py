"""The bulk worker: a thread that claims pending bulk items, signs them in a process pool (all
cores: validation, tier split and eddsa-rdfc-2022 signing are CPU-bound and hold the GIL), and
commits each item in its own transaction as soon as its signatures are back.

It resumes unfinished jobs on start simply by looking for pending items. See `issuer.bulk` for
why an item is never issued twice.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from infra.polling import PollingThread
from issuer import bulk, operators, passports, statuslists
from issuer.config import IssuerConfig
from issuer.tables import Operator
from proofs.signer import KeystoreError

log = logging.getLogger("dbp.bulk")
DEAD_CHECK_S = 10.0  # how often to look for claims of dead worker processes on this host
# an item the key store could not sign goes back to the queue this often, DEFER_BASE * attempt
# later each time (1 + 2 + ... + 5 = 15 delays: about 30 s of key store outage ridden out)
DEFER_ATTEMPTS = 5
DEFER_BASE = timedelta(seconds=2)
KEYSTORE_UNAVAILABLE = KeystoreError.code
PARENT_CHECK_S = 0.5  # how often a signing process looks whether the server is still there
# Signed items committed in one transaction at most: one guarded UPDATE and one multi-row INSERT
# per table for the group instead of ~22 statements and a commit per item (bulk.commit_group).
GROUP_MAX = 50


def _warm_up(parent: int) -> None:
    """Load the catalogue, schemas and JSON-LD contexts once per worker process."""
    _exit_with_parent(parent)
    from vocab.catalogue import load_catalogue

    load_catalogue()


def _exit_with_parent(parent: int) -> None:
    """End this signing process when the server process is gone.

    A pool process waits for work on a queue that nobody closes when the server dies by
    `kill -9` (or OOM): it would sit there forever with its ~130 MB. The kernel re-parents an
    orphan, so a changed parent pid is the sign; polling it costs nothing measurable, unlike
    PR_SET_PDEATHSIG, which fires when the *thread* that spawned us ends (the pool spawns from
    whichever thread submits) and is Linux-only.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_S)
        os._exit(70)  # EX_SOFTWARE: nothing to flush, the server that wanted our results is gone

    threading.Thread(target=watch, name="dbp-parent-watch", daemon=True).start()


def _prepare(plan: passports.IssuancePlan) -> passports.PreparedPassport | dict:
    """`passports.prepare` in a signing process. A failure comes back as the item's error report:
    our exceptions keep their fields in attributes that pickling would lose."""
    try:
        return passports.prepare(plan)
    except Exception as exc:  # noqa: BLE001 - reported on the item
        if not getattr(exc, "code", None):
            log.exception("bulk: preparing an item failed")
        return bulk.error_of(exc, "passport.")


class _InlineExecutor(Executor):
    """Runs tasks in the calling thread (no process pool: one core, or tests)."""

    def submit(self, fn: Callable, /, *args, **kwargs) -> Future:  # type: ignore[override]
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller through the future
            future.set_exception(exc)
        return future


class BulkWorker:
    def __init__(
        self,
        engine: Engine,
        config: IssuerConfig,
        *,
        processes: int | None = None,
        window: int = 48,
        idle_poll_s: float = 2.0,
    ) -> None:
        self.engine = engine
        self.config = config
        self.processes = (os.cpu_count() or 1) if processes is None else processes
        self.window = window
        self.idle_poll_s = idle_poll_s
        self.me = bulk.worker_id()
        self._loop = PollingThread("dbp-bulk", self.run_once, idle_poll_s)
        self._stop = self._loop.stopping
        self._pool: Executor | None = None
        self._dead: list[str] = []
        self._dead_checked_at = -DEAD_CHECK_S
        # items put back because the key store was unavailable, by (job, position): how often
        self._deferred: dict[tuple[str, int], int] = {}

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self._loop.start()

    def wake(self) -> None:
        self._loop.wake()

    def stop(self, timeout: float = 30.0) -> None:
        self._loop.stop(timeout)
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def _executor(self) -> Executor:
        if self._pool is None:
            if self.processes > 1:
                # spawn, not fork: the server process has threads (a forked child would inherit
                # their locks in whatever state they were).
                self._pool = ProcessPoolExecutor(
                    self.processes,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_warm_up,
                    initargs=(os.getpid(),),
                )
            else:
                self._pool = _InlineExecutor()
        return self._pool

    def run_once(self) -> bool:
        """Process claimable items until there are none; False if there was nothing to do."""
        outstanding: deque[tuple[bulk.ItemWork, Future]] = deque()
        signing_keys: dict[str, tuple[Operator, operators.SigningKey]] = {}
        worked = False
        exhausted = False
        while not self._stop.is_set():
            # Refill in half windows: a claim costs a few queries, not worth it per item.
            if not exhausted and len(outstanding) <= self.window // 2:
                fresh = self._claim_and_submit(self.window - len(outstanding), signing_keys)
                if fresh is None:
                    exhausted = True
                else:
                    outstanding.extend(fresh)
                    worked = True
            if not outstanding:
                break
            # Wait for the oldest item, then take every later one whose signatures are back too
            # (up to GROUP_MAX) and commit them in one transaction.
            ready = [outstanding.popleft()]
            while outstanding and len(ready) < GROUP_MAX and outstanding[0][1].done():
                ready.append(outstanding.popleft())
            self._finish_group(ready, signing_keys)
        with Session(self.engine) as session:
            bulk.finish_jobs(session)
        return worked

    def _claim_and_submit(
        self, limit: int, signing_keys: dict[str, tuple[Operator, operators.SigningKey]]
    ) -> list[tuple[bulk.ItemWork, Future]] | None:
        with Session(self.engine, expire_on_commit=False) as session:
            now = time.monotonic()
            if now >= self._dead_checked_at + DEAD_CHECK_S:
                # Items claimed by a worker process of this host that has died are free now.
                self._dead = bulk.dead_local_workers(session, self.me)
                self._dead_checked_at = now
            claimed = bulk.claim(session, self.me, limit, self._dead)
            if not claimed:
                return None
            planned: list[bulk.ItemWork] = []
            failed: list[tuple[bulk.Claimed, Exception]] = []
            by_operator: dict[str, list[bulk.Claimed]] = {}
            for item in claimed:
                by_operator.setdefault(item.operator_id, []).append(item)
            for operator_id, items in by_operator.items():
                operator, signing = self._signing(session, operator_id, signing_keys)
                try:
                    results = bulk.plan_items(session, self.config, operator, signing, items)
                except Exception as exc:  # noqa: BLE001 - reported on each item
                    results = [exc] * len(items)
                for item, result in zip(items, results, strict=True):
                    if isinstance(result, Exception):
                        failed.append((item, result))
                    else:
                        planned.append(result)
            # New status lists made while planning must exist before items reference them.
            session.commit()
        # Recorded after that commit: with SQLite a second writer would wait for this one.
        for item, exc in failed:
            self._fail(item, exc, "")
        executor = self._executor()
        out = []
        for work in planned:
            try:
                out.append((work, executor.submit(_prepare, work.plan)))
            except BrokenProcessPool:
                self._pool = None
                out.append((work, self._executor().submit(_prepare, work.plan)))
        return out

    def _signing(
        self,
        session: Session,
        operator_id: str,
        cache: dict[str, tuple[Operator, operators.SigningKey]],
    ) -> tuple[Operator, operators.SigningKey]:
        if operator_id not in cache:
            operator = session.get(Operator, operator_id)
            assert operator is not None
            cache[operator_id] = (
                operator,
                operators.signing_key(session, operator, self.config.master_key),
            )
        return cache[operator_id]

    def _finish_group(
        self,
        ready: list[tuple[bulk.ItemWork, Future]],
        signing_keys: dict[str, tuple[Operator, operators.SigningKey]],
    ) -> None:
        """Commit the signed items of `ready` in one transaction (`bulk.commit_group`); when that
        fails for any reason, commit them one by one, where each item gets its own outcome."""
        signed: list[tuple[bulk.ItemWork, passports.PreparedPassport]] = []
        for work, future in ready:
            try:
                prepared = future.result()
            except BrokenProcessPool:
                # A signing process died (out of memory, killed): sign here, make a new pool.
                log.warning("bulk worker: the signing pool broke; signing in the worker thread")
                self._pool = None
                prepared = _prepare(work.plan)
            if isinstance(prepared, dict):  # PassportInvalid and friends: the item failed
                self._record_failure(work.claimed, prepared)
            else:
                signed.append((work, prepared))
        if len(signed) > 1:
            # The operators loaded when the items were planned (only their ids and DIDs are read).
            by_id = {op_id: op for op_id, (op, _) in signing_keys.items()}
            try:
                with Session(self.engine, expire_on_commit=False) as session:
                    bulk.commit_group(session, self.config, by_id, signed)
                    session.commit()
                return
            except (bulk.AlreadyProcessed, bulk.GroupConflict, IntegrityError) as exc:
                # expected now and then; the class only: an IntegrityError's text carries the
                # statement with its documents
                log.info(
                    "bulk worker: a group of %d items goes one by one (%s)",
                    len(signed),
                    type(exc).__name__,
                )
            except Exception:  # noqa: BLE001 - rolled back; each item gets its own answer
                log.warning(
                    "bulk worker: a group of %d items goes one by one", len(signed), exc_info=True
                )
        for work, prepared in signed:
            self._commit_one(work, prepared, signing_keys)

    def _commit_one(
        self,
        work: bulk.ItemWork,
        prepared: passports.PreparedPassport,
        signing_keys: dict[str, tuple[Operator, operators.SigningKey]],
    ) -> None:
        for attempt in range(3):
            with Session(self.engine, expire_on_commit=False) as session:
                # The operator loaded when the item was planned (only its id and DID are read).
                operator = signing_keys[work.claimed.operator_id][0]
                try:
                    bulk.commit_item(session, self.config, operator, work, prepared)
                    session.commit()
                    return
                except bulk.AlreadyProcessed:
                    session.rollback()
                    return
                except IntegrityError:
                    # A status index another process took: draw new ones and sign again.
                    session.rollback()
                    statuslists.allocator.forget()
                    if attempt == 2:
                        break
                    op, signing = self._signing(session, operator.id, signing_keys)
                    try:
                        work = bulk.plan_item(session, self.config, op, signing, work.claimed)
                        session.commit()
                    except Exception as exc:  # noqa: BLE001
                        self._fail(work.claimed, exc, "")
                        return
                    prepared = _prepare(work.plan)
                    if isinstance(prepared, dict):
                        self._record_failure(work.claimed, prepared)
                        return
                except Exception as exc:  # noqa: BLE001 - a domain error: the item failed
                    session.rollback()
                    self._fail(work.claimed, exc, "")
                    return
        self._fail(work.claimed, RuntimeError("could not store the item"), "")

    def _defer(self, claimed: bulk.Claimed) -> bool:
        """Put an item back for a later round when the key store (an HSM, a remote signer) could
        not sign it: an operations problem of the moment, not the item's fault, so failing it
        would make the operator resubmit what the service should simply finish. Bounded
        (DEFER_ATTEMPTS, growing delays), so a key store that stays down fails the item with
        its reason instead of keeping the job open for ever. False once the bound is reached."""
        key = (claimed.job_id, claimed.position)
        attempt = self._deferred.get(key, 0) + 1
        if attempt > DEFER_ATTEMPTS:
            self._deferred.pop(key, None)
            return False
        self._deferred[key] = attempt
        log.warning(
            "bulk item %s/%s: key store unavailable; retrying (attempt %d of %d)",
            claimed.job_id,
            claimed.position,
            attempt,
            DEFER_ATTEMPTS,
        )
        with Session(self.engine) as session:
            bulk.defer_item(session, claimed, DEFER_BASE * attempt)
            session.commit()
        return True

    def _fail(self, claimed: bulk.Claimed, exc: Exception, prefix: str) -> None:
        prefix = getattr(exc, "path_prefix", prefix)
        if not getattr(exc, "code", None):
            log.error("bulk item %s/%s failed", claimed.job_id, claimed.position, exc_info=exc)
        self._record_failure(claimed, bulk.error_of(exc, prefix))

    def _record_failure(self, claimed: bulk.Claimed, error: dict) -> None:
        if error.get("code") == KEYSTORE_UNAVAILABLE and self._defer(claimed):
            return
        with Session(self.engine) as session:
            try:
                bulk.fail_item(session, claimed, error)
                session.commit()
            except bulk.AlreadyProcessed:
                session.rollback()
