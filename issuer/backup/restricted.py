"""Restricted tiers on the backup, for its `/access` answers, when the backup was given the
snapshot key (DBP_BACKUP_SNAPSHOT_KEY_FILE).

At rest they stay what was pushed: ciphertext inside the newest envelope. On the first request
after a new snapshot, the envelope's signature is checked again, its restricted part decrypted
and the passport tables loaded into an in-memory SQLite database of this process; the issuer's own
release query (`issuer.views.released_credentials`) then answers from it, so the backup releases
exactly what the primary would have (the tier credentials of the latest version, then the events
whose data all belong to the released tiers). Nothing decrypted is written to disk.

Without the key the backup cannot read restricted tiers: a request for them gets a 503 problem.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from sqlalchemy import Engine, create_engine, insert
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, SQLModel

from issuer import views
from issuer.backup import snapshot as snap
from issuer.backup import store
from issuer.backup.errors import BackupError
from vocab.catalogue import Tier

# What the release query reads.
TABLES = ("operators", "batteries", "passports", "issued_credentials")


class RestrictedUnavailable(BackupError):
    code = "restricted-data-unavailable"
    status = 503


class RestrictedCopy:
    def __init__(self, key: bytes | None, trusted: frozenset[str]) -> None:
        self._key = key
        self._trusted = trusted
        self._lock = threading.Lock()
        self._digest: str | None = None
        self._engine: Engine | None = None

    def released(self, session: Session, battery_id: str, tiers: Iterable[Tier | str]) -> list:
        wanted = {Tier(t) for t in tiers}
        if wanted <= {Tier.PUBLIC}:
            return views.released_credentials(session, battery_id, wanted)
        if self._key is None:
            raise RestrictedUnavailable(
                "this backup keeps restricted tiers encrypted and holds no key for them; "
                "only the public tier is served here"
            )
        with Session(self._copy(session)) as copy:
            return views.released_credentials(copy, battery_id, wanted)

    def _copy(self, session: Session) -> Engine:
        row = store.envelope_of(session)
        with self._lock:
            if self._digest == row.digest and self._engine is not None:
                return self._engine
            assert self._key is not None
            opened = snap.open_envelope(row.envelope, self._trusted)
            tables = opened.restricted(self._key).get("tables") or {}
            engine = create_engine(
                "sqlite://",
                connect_args={"check_same_thread": False},
                poolclass=StaticPool,
            )
            metadata = SQLModel.metadata
            wanted = [metadata.tables[name] for name in TABLES]
            metadata.create_all(engine, tables=wanted)
            with engine.begin() as conn:
                for table in wanted:
                    rows = tables.get(table.name) or []
                    if rows:
                        conn.execute(insert(table), [snap.decode_row(table, r) for r in rows])
            if self._engine is not None:
                self._engine.dispose()
            self._engine, self._digest = engine, row.digest
            return engine
