"""The push worker (primary side): builds a snapshot when one is due, signs it with the instance
key and sends it to the backup (DBP_BACKUP_PUSH_URL), retrying with exponential backoff.

A snapshot is read in one REPEATABLE READ transaction on PostgreSQL, so its tables agree with
each other and with the newest change id it covers. On SQLite (the embedded shape) the driver
reads table after table without one read transaction: a write landing between two reads can give
a snapshot that does not hold together; the backup then refuses it (422, nothing kept), and since
that write logged a newer change id, the next snapshot is due and consistent.
"""

from __future__ import annotations

import base64
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import httpx
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from infra.polling import PollingThread
from issuer import operators
from issuer.backup import outbox
from issuer.backup import snapshot as snap
from issuer.backup.tables import BackupChange
from issuer.documents.objectstore import ObjectMissing, ObjectStore
from issuer.documents.tables import BatteryDocument
from issuer.dppregistry.sync import worker_id
from proofs.signer import Keystore
from vocab.catalogue import Tier
from vocab.datetimes import utcnow

log = logging.getLogger("dbp.backup")

PUSH_PATH = "/backup/snapshots"


@dataclass(frozen=True)
class PushConfig:
    push_url: str  # the backup's base URL
    public_url: str  # this primary's
    snapshot_key: bytes
    token: str | None = None  # DBP_BACKUP_PUSH_TOKEN, sent as a bearer token when set
    timeout_s: float = 60.0
    backoff_base_s: float = 1.0
    backoff_max_s: float = 300.0
    poll_s: float = 2.0


class BackupPusher:
    def __init__(
        self,
        engine: Engine,
        keystore: bytes | Keystore,
        documents: Callable[[], ObjectStore],
        config: PushConfig,
        *,
        http: httpx.Client | None = None,
    ) -> None:
        self.engine = engine
        self.keystore = keystore
        self.documents = documents
        self.config = config
        self.http = http or httpx.Client(trust_env=False, timeout=config.timeout_s)
        self.me = worker_id()
        self._loop = PollingThread("dbp-backup-push", self.run_once, config.poll_s)

    def start(self) -> None:
        self._loop.start()

    def wake(self) -> None:
        self._loop.wake()

    def stop(self, timeout: float = 30.0) -> None:
        self._loop.stop(timeout)

    # --- one round --------------------------------------------------------------------------

    def run_once(self) -> int:
        """Push one snapshot if one is due; 1 when the backup took it, else 0."""
        lease = timedelta(seconds=self.config.timeout_s * 2 + 60)
        with Session(self.engine) as session:
            due = outbox.claim(session, self.me, lease)
        if due is None:
            return 0
        try:
            envelope, change, digest = self.build(due.sequence)
        except Exception as exc:
            with Session(self.engine) as session:
                outbox.settle_failed(
                    session, self.me, message=f"building: {exc}", retry_at=self._retry(due)
                )
            raise
        outcome = self._send(envelope)
        with Session(self.engine) as session:
            if outcome is None:
                outbox.settle_pushed(
                    session, self.me, change=change, sequence=due.sequence, digest=digest,
                    at=utcnow(),
                )  # fmt: skip
                log.info("backup: snapshot %d pushed (%d bytes)", due.sequence, len(envelope))
                return 1
            status, message, held = outcome
            if status == 409 and held is not None:
                outbox.settle_stale(session, self.me, held=held, message=message)
            else:
                log.warning("backup: push of snapshot %d failed: %s", due.sequence, message)
                outbox.settle_failed(session, self.me, message=message, retry_at=self._retry(due))
        return 0

    def run_until_idle(self, rounds: int = 10) -> int:
        total = 0
        for _ in range(rounds):
            n = self.run_once()
            if not n:
                break
            total += n
        return total

    def _retry(self, due: outbox.Due):
        config = self.config
        delay = min(config.backoff_max_s, config.backoff_base_s * 2 ** min(due.attempts, 20))
        return utcnow() + timedelta(seconds=delay * random.uniform(0.5, 1.0))

    def _send(self, envelope: bytes) -> tuple[int, str, int | None] | None:
        headers = {"Content-Type": "application/json"}
        if self.config.token:
            headers["Authorization"] = f"Bearer {self.config.token}"
        url = self.config.push_url.rstrip("/") + PUSH_PATH
        try:
            answer = self.http.post(url, content=envelope, headers=headers)
        except httpx.HTTPError as exc:
            return 0, f"{url}: {exc.__class__.__name__}: {exc}", None
        if answer.status_code in (200, 201):
            return None
        held = None
        try:
            body = answer.json()
            held = body.get("latestSequence") if isinstance(body, dict) else None
            detail = body.get("detail") if isinstance(body, dict) else answer.text
        except ValueError:
            detail = answer.text
        return answer.status_code, f"{url} answered {answer.status_code}: {detail}"[:1000], held

    # --- the snapshot -----------------------------------------------------------------------

    def build(self, sequence: int) -> tuple[bytes, int, str]:
        """(envelope, newest change covered, digest) of the snapshot numbered `sequence`."""
        with self.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                change = conn.execute(select(func.max(BackupChange.__table__.c.id))).scalar() or 0
                full = snap.dump_full(conn)
                public = snap.dump_public(conn)
        store = None
        all_documents: dict[str, str] = {}
        public_documents: dict[str, str] = {}
        docs = BatteryDocument.__table__  # type: ignore[attr-defined]
        for row in full.get(docs.name, []):
            key = f"sha256/{row['sha256']}"
            if key in all_documents:
                if row["tier"] == Tier.PUBLIC.value:
                    public_documents[key] = all_documents[key]
                continue
            store = store or self.documents()
            try:
                data = base64.b64encode(store.get(key)).decode()
            except ObjectMissing:
                log.warning("backup: the bytes of document %s are missing", row["id"])
                continue
            all_documents[key] = data
            if row["tier"] == Tier.PUBLIC.value:
                public_documents[key] = data
        payload = snap.build_payload(
            source=self.config.public_url,
            sequence=sequence,
            change=change,
            public=public,
            public_documents=public_documents,
            full=full,
            all_documents=all_documents,
            key=self.config.snapshot_key,
        )
        with Session(self.engine) as session:
            instance = operators.by_name(session, operators.INSTANCE_NAME)
            signing = operators.signing_key(session, instance, self.keystore)
        envelope = snap.envelope(payload, signing.key, signing.verification_method)
        return envelope, change, snap.digest(payload)
