"""The backup side: accept a pushed snapshot, keep every version, and put the public part of the
newest into this process's own tables, where the read-only handlers of the resolver and the
issuer's status lists and DID documents serve it.

Accepting is idempotent: the same snapshot (same digest) pushed again answers as the first time
and changes nothing; a different snapshot with a sequence number the backup already holds (or an
older one) is refused as stale with the newest sequence held, so the primary continues above it.
All of it happens in one transaction: a snapshot is kept and served whole, or not at all.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass

import orjson
from sqlalchemy import delete, func, insert, text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from issuer import operators
from issuer.backup import snapshot as snap
from issuer.backup.errors import (
    NoSnapshot,
    SnapshotInvalid,
    SnapshotSignatureInvalid,
    SnapshotStale,
)
from issuer.backup.tables import BackupSnapshot
from issuer.documents.objectstore import ObjectStore
from issuer.tables import IssuedCredential, StatusList
from proofs.controller import verification_method_for_purpose
from proofs.dataintegrity import verify_proof
from proofs.errors import ProofError
from resolver.tables import ResolverView

DocumentStore = Callable[[], ObjectStore]

# One accept at a time: in this process (a lock), across backup processes on PostgreSQL (an
# advisory lock held until the transaction ends), so an older snapshot can never be written into
# the served tables after a newer one.
_accepting = threading.Lock()
ADVISORY_LOCK = 0x19_B4C0  # issue 19, "backup"


@dataclass(frozen=True)
class Accepted:
    sequence: int
    digest: str
    duplicate: bool  # held already: nothing changed
    verified_credentials: int

    def as_json(self) -> dict:
        return {
            "sequence": self.sequence,
            "digest": self.digest,
            "duplicate": self.duplicate,
            "verifiedCredentials": self.verified_credentials,
        }


def latest(session: Session) -> BackupSnapshot | None:
    return session.exec(
        select(BackupSnapshot).order_by(col(BackupSnapshot.sequence).desc()).limit(1)
    ).first()


def versions(session: Session, limit: int = 100) -> list[BackupSnapshot]:
    return list(
        session.exec(
            select(BackupSnapshot).order_by(col(BackupSnapshot.sequence).desc()).limit(limit)
        )
    )


def describe(row: BackupSnapshot) -> dict:
    return {
        "sequence": row.sequence,
        "digest": row.digest,
        "source": row.source,
        "signedBy": row.signed_by,
        "receivedAt": row.received_at.isoformat(),
        "size": row.size,
    }


def envelope_of(session: Session, sequence: int | None = None) -> BackupSnapshot:
    row = latest(session) if sequence is None else session.get(BackupSnapshot, sequence)
    if row is None:
        raise NoSnapshot(
            "this backup holds no snapshot yet"
            if sequence is None
            else f"this backup holds no snapshot {sequence}"
        )
    return row


def accept(
    session: Session,
    raw: bytes,
    trusted: frozenset[str],
    *,
    source: str,
    documents: DocumentStore,
) -> Accepted:
    """Verify and keep the envelope `raw`, then serve its public part. Commits."""
    opened = snap.open_envelope(raw, trusted)
    with _accepting:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": ADVISORY_LOCK})
        try:
            return _accept(session, raw, opened, source, documents)
        except (KeyError, TypeError, ValueError, AttributeError, SQLAlchemyError) as exc:
            # signed, but not a snapshot this version can apply: nothing of it is kept
            session.rollback()
            raise SnapshotInvalid(
                f"the snapshot cannot be applied: {exc.__class__.__name__}: {str(exc)[:300]}"
            ) from None
        except BaseException:
            session.rollback()
            raise


def _accept(
    session: Session, raw: bytes, opened: snap.Opened, source: str, documents: DocumentStore
) -> Accepted:
    if opened.source.rstrip("/") != source.rstrip("/"):
        raise SnapshotInvalid(
            f"the snapshot is of {opened.source}; this backup serves {source} (DBP_PUBLIC_URL)"
        )
    held = select(BackupSnapshot).where(BackupSnapshot.digest == opened.digest)
    same = session.exec(held).first()
    if same is not None:
        return Accepted(same.sequence, same.digest, True, 0)
    newest = session.exec(select(func.max(BackupSnapshot.sequence))).one() or 0
    if opened.sequence <= newest:
        raise SnapshotStale(
            f"snapshot {opened.sequence} is not newer than the newest held ({newest})", newest
        )
    verified = materialize(session, opened, documents)
    session.add(
        BackupSnapshot(
            sequence=opened.sequence,
            digest=opened.digest,
            source=opened.source,
            signed_by=opened.signed_by,
            size=len(raw),
            envelope=raw,
        )
    )
    session.commit()
    return Accepted(opened.sequence, opened.digest, False, verified)


def _fingerprint(document: object) -> str:
    data = document.encode() if isinstance(document, str) else orjson.dumps(document)
    return hashlib.sha256(data).hexdigest()


def materialize(session: Session, opened: snap.Opened, documents: DocumentStore) -> int:
    """Replace the public tables' rows with the snapshot's and check every credential and status
    list that is new or changed since the last snapshot against the operator keys it carries.
    Returns how many proofs were checked. Does not commit."""
    tables = opened.public_tables()
    if set(tables) != set(snap.PUBLIC_TABLES):
        raise SnapshotInvalid("the snapshot's public part does not hold the expected tables")
    known = {
        *(_fingerprint(d) for d in session.exec(select(IssuedCredential.document))),
        *(_fingerprint(c) for c in session.exec(select(StatusList.credential_json))),
    }
    ordered = snap.public_tables()
    for table in reversed(ordered):
        session.execute(delete(table))
    session.execute(delete(ResolverView))
    for table in ordered:
        rows = tables[table.name]
        if not isinstance(rows, list):
            raise SnapshotInvalid(f"{table.name} is not a list of rows")
        if rows:
            session.execute(insert(table), [snap.decode_row(table, r) for r in rows])
    session.flush()

    def resolve(vm_id: str, purpose: str) -> dict:
        did = vm_id.split("#", 1)[0]
        operator = operators.by_did(session, did)
        if operator is None:
            raise ProofError(f"{did} is not an operator of this snapshot")
        return verification_method_for_purpose(
            operators.did_document(session, operator), vm_id, purpose
        )

    checked = 0
    signed: list[tuple[str, dict]] = [
        (f"credential {r['id']}", r["document"]) for r in tables["issued_credentials"]
    ]
    for row in tables["status_lists"]:
        try:
            signed.append((f"status list {row['id']}", orjson.loads(row["credential_json"])))
        except (KeyError, TypeError, orjson.JSONDecodeError):
            raise SnapshotInvalid(f"status list {row.get('id')!r} is not JSON") from None
    for label, document in signed:
        if _fingerprint(document) in known:
            continue
        if isinstance(document, dict) and "proof" not in document:
            continue  # a credential secured as vc+jwt elsewhere keeps no embedded proof
        try:
            verify_proof(document, resolve)
        except ProofError as exc:
            raise SnapshotSignatureInvalid(f"{label} does not verify: {exc}") from None
        checked += 1
    store = None
    for key, data in opened.public_documents().items():
        store = store or documents()
        try:
            content = base64.b64decode(data, validate=True)
        except (TypeError, ValueError):
            raise SnapshotInvalid(f"document {key} is not base64") from None
        if hashlib.sha256(content).hexdigest() != key.removeprefix("sha256/"):
            raise SnapshotInvalid(f"document {key} does not match its digest")
        store.put(key, content, "application/octet-stream")
    return checked
