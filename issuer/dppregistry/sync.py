"""The registry sync: claims due entries, builds each one's metadata as things are now, sends them
(a few at a time: the registry takes one entry per request) and settles each with the answer.

Retries back off exponentially (with jitter, so that entries failed together do not come back
together) up to `backoff_max_s`. Proofs of registration are renewed `renew_before` ahead of
running out. Exactly once: see `outbox`.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from infra.polling import PollingThread
from issuer.dppregistry import outbox
from issuer.dppregistry.client import (
    RegistryClient,
    RegistryRefused,
    RegistryUnavailable,
    metadata_errors,
)
from issuer.dppregistry.tables import RegistryProfile
from issuer.tables import Battery, Operator
from vocab.datetimes import utcnow

log = logging.getLogger("dbp.registry")
DEAD_CHECK_S = 10.0  # how often to look for claims of dead sync processes on this host


@dataclass(frozen=True)
class SyncConfig:
    backup_url: str | None  # base URL of the independent backup; None: not configured
    commodity_code: str | None  # default HS/TARIC code when a profile names none
    concurrency: int = 8
    batch: int = 200
    # Longer than a batch takes with every request timing out (batch / concurrency * timeout).
    lease: timedelta = timedelta(seconds=600)
    backoff_base_s: float = 2.0
    backoff_max_s: float = 600.0
    renew_before: timedelta = timedelta(days=10)


class Incomplete(Exception):
    """We cannot say what the registry needs (no LEI/EORI, no commodity code, no backup URL)."""


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"[:64]


def backup_url_of(backup_base: str, live_url: str) -> str:
    """The battery's URL on the backup: the same Digital Link path under the backup's base."""
    path = "/01/" + live_url.split("/01/", 1)[1]
    return backup_base.rstrip("/") + path


def metadata(
    claimed: outbox.Claimed,
    battery: Battery,
    operator: Operator,
    profile: RegistryProfile | None,
    config: SyncConfig,
) -> dict:
    """The entry the registry gets, from the battery, its operator's profile and the settings."""
    if profile is None:
        raise Incomplete(
            f"operator {operator.name!r} has no registry profile (its LEI or EORI): run "
            f"`dbp registry profile {operator.name} --reo-id ...`"
        )
    commodity = profile.commodity_code or config.commodity_code
    if not commodity:
        raise Incomplete(
            "no commodity code: set DBP_REGISTRY_COMMODITY_CODE or the operator's profile"
        )
    if not config.backup_url:
        raise Incomplete(
            "no backup URL: set DBP_BACKUP_URL to the independent backup service's base URL"
        )
    live = claimed.upi
    entry = {
        "upi": claimed.upi,
        "reoId": profile.reo_id,
        "liveURL": live,
        "backupURL": backup_url_of(config.backup_url, live),
        "commodityCode": commodity,
        "granularityLevel": claimed.level,
    }
    if profile.facilities:
        entry["facilitiesId"] = list(profile.facilities)
    if claimed.level == outbox.ITEM:
        entry["deactivated"] = claimed.deactivated
    return entry


class RegistrySync:
    def __init__(
        self,
        engine: Engine,
        client: RegistryClient,
        config: SyncConfig,
        *,
        poll_s: float = 10.0,
    ) -> None:
        self.engine = engine
        self.client = client
        self.config = config
        self.poll_s = poll_s
        self.me = worker_id()
        self._loop = PollingThread("dbp-registry", self.run_once, poll_s)
        self._dead_checked_at = -DEAD_CHECK_S
        self._pool = ThreadPoolExecutor(config.concurrency, thread_name_prefix="dbp-registry")

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self._loop.start()

    def wake(self) -> None:
        self._loop.wake()

    def stop(self, timeout: float = 30.0) -> None:
        self._loop.stop(timeout)
        self._pool.shutdown(wait=True, cancel_futures=True)

    # --- one round ------------------------------------------------------------------------

    def run_once(self) -> int:
        """Renew proofs that run out soon, then send one batch of due entries; how many were
        settled (0: nothing was due)."""
        with Session(self.engine) as session:
            now = time.monotonic()
            if now >= self._dead_checked_at + DEAD_CHECK_S:
                freed = outbox.release_dead_local(session, self.me)
                if freed:
                    log.warning("registry: took over %d entries of a sync that died", freed)
                self._dead_checked_at = now
            renewed = outbox.renew_proofs(session, self.config.renew_before)
            session.commit()
            if renewed:
                log.info("registry: %d proofs of registration to renew", renewed)
            claimed = outbox.claim(session, self.me, self.config.batch, self.config.lease)
            if not claimed:
                return 0
            entries = self._build(session, claimed)
            session.commit()
        results = list(self._pool.map(self._send, entries))
        with Session(self.engine) as session:
            for claimed_entry, sent, outcome in results:
                self._settle(session, claimed_entry, sent, outcome)
            session.commit()
        return len(results)

    def run_until_idle(self, stop: threading.Event | None = None) -> int:
        """Rounds until nothing is due now (entries waiting for a retry later stay)."""
        total = 0
        while stop is None or not stop.is_set():
            n = self.run_once()
            if not n:
                break
            total += n
        return total

    def _build(
        self, session: Session, claimed: list[outbox.Claimed]
    ) -> list[tuple[outbox.Claimed, dict | None, Exception | None]]:
        ids = {c.battery_id for c in claimed}
        found = {b.id: b for b in session.exec(select(Battery).where(col(Battery.id).in_(ids)))}
        operator_ids = {c.operator_id for c in claimed}
        ops = {
            o.id: o
            for o in session.exec(select(Operator).where(col(Operator.id).in_(operator_ids)))
        }
        profiles = {
            p.operator_id: p
            for p in session.exec(
                select(RegistryProfile).where(col(RegistryProfile.operator_id).in_(operator_ids))
            )
        }
        out: list[tuple[outbox.Claimed, dict | None, Exception | None]] = []
        for c in claimed:
            battery = found.get(c.battery_id)
            operator = ops[c.operator_id]
            profile = profiles.get(c.operator_id)
            try:
                if battery is None:
                    raise Incomplete(f"battery {c.battery_id} is not known here")
                entry = metadata(c, battery, operator, profile, self.config)
            except Incomplete as exc:
                out.append((c, None, exc))
                continue
            if c.level == outbox.ITEM and profile is not None and profile.model_and_batch:
                outbox.ensure_upward(session, battery)
            out.append((c, entry, None))
        return out

    def _send(
        self, work: tuple[outbox.Claimed, dict | None, Exception | None]
    ) -> tuple[outbox.Claimed, dict | None, object]:
        claimed, entry, problem = work
        if problem is not None:
            return claimed, entry, problem
        assert entry is not None
        errors = metadata_errors(entry)
        if errors:
            # The registry validates with the same schema: refused here, nothing is sent.
            return (
                claimed,
                entry,
                RegistryRefused(
                    "the entry does not meet the registry's metadata schema: "
                    + "; ".join(f"{e['path']}: {e['message']}" for e in errors),
                    {"by": "dbp", "errors": errors},
                ),
            )
        try:
            return claimed, entry, self.client.register(entry)
        except (RegistryRefused, RegistryUnavailable) as exc:
            return claimed, entry, exc

    def _settle(
        self, session: Session, claimed: outbox.Claimed, sent: dict | None, outcome: object
    ) -> None:
        if isinstance(outcome, Incomplete):
            outbox.settle_refused(
                session,
                claimed,
                self.me,
                state=outbox.INCOMPLETE,
                sent=None,
                answer={"by": "dbp", "detail": str(outcome)},
                message=str(outcome),
            )
        elif isinstance(outcome, RegistryRefused):
            detail = f"{outcome}: {str(outcome.answer.get('body', outcome.answer))[:600]}"
            outbox.settle_refused(
                session,
                claimed,
                self.me,
                state=outbox.REFUSED,
                sent=sent,
                answer=outcome.answer,
                message=detail,
            )
        elif isinstance(outcome, RegistryUnavailable):
            attempts = self._attempts(session, claimed)
            delay = min(self.config.backoff_max_s, self.config.backoff_base_s * 2**attempts)
            delay *= random.uniform(0.5, 1.0)
            outbox.settle_failed(
                session,
                claimed,
                self.me,
                message=str(outcome),
                retry_at=utcnow() + timedelta(seconds=delay),
            )
        else:
            assert sent is not None
            outbox.settle_registered(
                session,
                claimed,
                self.me,
                sent=sent,
                registry_id=outcome.registry_id,  # type: ignore[attr-defined]
                registered_at=outcome.registered_at,  # type: ignore[attr-defined]
                valid_until=outcome.valid_until,  # type: ignore[attr-defined]
                answer=outcome.answer,  # type: ignore[attr-defined]
            )

    @staticmethod
    def _attempts(session: Session, claimed: outbox.Claimed) -> int:
        from issuer.dppregistry.tables import RegistryEntry

        row = session.get(RegistryEntry, claimed.id)
        return min(row.attempts if row else 0, 30)
