"""Restore a new primary from a backup (`dbp backup restore --from URL`).

The envelope is fetched from the backup, its signature checked against the primary's key (the
restorer names it: the backup cannot have swapped in a snapshot of its own), its restricted part
decrypted with the snapshot key, and every row written back, unchanged, into an empty, migrated
database in one transaction. Document bytes go to the new primary's document store. The new
primary must run with the same DBP_PUBLIC_URL (the DIDs name it) and the same DBP_MASTER_KEY (or
key store) so that the restored sealed keys open.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from sqlalchemy import Engine, Integer, func, insert, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from issuer.backup import snapshot as snap
from issuer.backup.errors import NoSnapshot, RestoreRefused, SnapshotInvalid
from issuer.backup.tables import BackupPush
from issuer.documents.objectstore import ObjectStore
from issuer.tables import Operator

SNAPSHOT_PATH = "/backup/snapshots/"


def fetch_envelope(
    backup_url: str, sequence: int | None = None, *, http: httpx.Client | None = None
) -> bytes:
    url = backup_url.rstrip("/") + SNAPSHOT_PATH + (str(sequence) if sequence else "latest")
    client = http or httpx.Client(trust_env=False, timeout=120)
    try:
        answer = client.get(url)
    except httpx.HTTPError as exc:
        raise NoSnapshot(f"{url}: {exc.__class__.__name__}: {exc}") from None
    finally:
        if http is None:
            client.close()
    if answer.status_code != 200:
        raise NoSnapshot(f"{url} answered {answer.status_code}: {answer.text[:300]}")
    return answer.content


@dataclass(frozen=True)
class Restored:
    sequence: int
    digest: str
    source: str
    rows: dict[str, int]
    documents: int


def restore(
    engine: Engine,
    raw: bytes,
    *,
    trusted: frozenset[str],
    key: bytes,
    public_url: str,
    documents: Callable[[], ObjectStore],
) -> Restored:
    """Write the snapshot `raw` into the empty database behind `engine` (migrated already), in
    one transaction: all of it or nothing."""
    try:
        return _restore(
            engine, raw, trusted=trusted, key=key, public_url=public_url, documents=documents
        )
    except (KeyError, TypeError, ValueError, AttributeError, SQLAlchemyError) as exc:
        raise SnapshotInvalid(
            f"the snapshot cannot be restored: {exc.__class__.__name__}: {str(exc)[:300]}"
        ) from None


def _restore(
    engine: Engine,
    raw: bytes,
    *,
    trusted: frozenset[str],
    key: bytes,
    public_url: str,
    documents: Callable[[], ObjectStore],
) -> Restored:
    opened = snap.open_envelope(raw, trusted)
    if opened.source.rstrip("/") != public_url.rstrip("/"):
        raise RestoreRefused(
            f"the snapshot is of {opened.source}; set DBP_PUBLIC_URL to it (the DIDs and "
            f"credentials name it), not {public_url}"
        )
    content = opened.restricted(key)
    tables = content.get("tables") if isinstance(content, dict) else None
    if not isinstance(tables, dict):
        raise SnapshotInvalid("the restricted part holds no tables")
    known = {t.name: t for t in snap.copied_tables()}
    unknown = sorted(set(tables) - set(known))
    if unknown:
        raise SnapshotInvalid(f"the snapshot holds tables this version does not know: {unknown}")
    counts: dict[str, int] = {}
    with Session(engine) as session:
        if session.execute(select(func.count()).select_from(Operator)).scalar_one():
            raise RestoreRefused(
                "the target database is not empty (it has operators); restore into a new one"
            )
        for name, table in known.items():
            rows = tables.get(name) or []
            if not isinstance(rows, list):
                raise SnapshotInvalid(f"{name} is not a list of rows")
            if rows:
                session.execute(insert(table), [snap.decode_row(table, r) for r in rows])
            counts[name] = len(rows)
        # continue numbering above the backup's newest snapshot
        session.merge(BackupPush(id="backup", sequence=opened.sequence))
        if engine.dialect.name == "postgresql":
            _advance_sequences(session, list(known.values()))
        store = None
        blobs = content.get("documents") or {}
        for key_name, data in blobs.items():
            store = store or documents()
            try:
                data_bytes = base64.b64decode(data, validate=True)
            except (TypeError, ValueError):
                raise SnapshotInvalid(f"document {key_name} is not base64") from None
            if hashlib.sha256(data_bytes).hexdigest() != key_name.removeprefix("sha256/"):
                raise SnapshotInvalid(f"document {key_name} does not match its digest")
            store.put(key_name, data_bytes, "application/octet-stream")
        session.commit()
    return Restored(opened.sequence, opened.digest, opened.source, counts, len(blobs))


def _advance_sequences(session: Session, tables) -> None:
    """Serial columns continue after the restored ids (PostgreSQL sequences do not follow
    explicit inserts)."""
    for table in tables:
        for column in table.primary_key.columns:
            if isinstance(column.type, Integer) and len(table.primary_key.columns) == 1:
                seq = session.execute(
                    text("SELECT pg_get_serial_sequence(:t, :c)"),
                    {"t": table.name, "c": column.name},
                ).scalar()
                if seq:
                    session.execute(
                        text(
                            f'SELECT setval(:s, COALESCE((SELECT MAX("{column.name}") '
                            f'FROM "{table.name}"), 0) + 1, false)'
                        ),
                        {"s": seq},
                    )
