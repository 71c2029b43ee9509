"""The outbox: issuing a credential adds its leaf in the same database transaction.

`enqueue` only adds a row to the caller's session; it never flushes the caller's other work, never
commits and never talks to a chain, so issuance does not wait for anything and a credential that
is rolled back leaves no leaf behind. The worker (`anchor.worker`) picks leaves up later.

Lifecycle events (transfer, status change) are anchored the same way: enqueue the signed event
credential with `kind="lifecycle-event"` (or any short label).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import insert
from sqlmodel import Session, col, select

from anchor import leaves, merkle
from anchor.tables import AnchorLeaf
from vocab.datetimes import utcnow


def enqueue(
    session: Session,
    credential_id: str | None,
    signed_credential: object,
    *,
    kind: str = "credential",
) -> AnchorLeaf:
    """Queue a signed credential for anchoring, in the caller's transaction (not committed here).

    `credential_id` files the leaf for `GET /anchors/{credential_id}`; None takes the document's
    own `id` (the JWT payload's for a `vc+jwt` credential). The same document queued twice under
    the same id is queued once."""
    encoding, data = leaves.canonical_bytes(signed_credential)
    leaf = merkle.to_hex(merkle.leaf_hash(data))
    if credential_id is None:
        credential_id = leaves.document_id(signed_credential)
    same_id = (
        col(AnchorLeaf.credential_id).is_(None)
        if credential_id is None
        else AnchorLeaf.credential_id == credential_id
    )
    with session.no_autoflush:
        existing = session.exec(select(AnchorLeaf).where(AnchorLeaf.leaf == leaf, same_id)).first()
    if existing is not None:
        return existing
    row = AnchorLeaf(
        credential_id=credential_id,
        kind=kind,
        leaf=leaf,
        encoding=encoding,
        created_at=utcnow(),
    )
    session.add(row)
    return row


def leaf_row(signed_credential: object) -> tuple[str, str]:
    """(encoding, leaf as hex) of a signed credential: the CPU part of queuing it. Bulk issuance
    computes it in its signing processes (`issuer.passports.prepare`): RFC 8785 (rfc8785, pure
    Python) of the four ~9 KiB tier credentials took ~12-30 ms per passport in the worker's one
    committing thread, half or more of its time (cProfile of the committing thread, issue 15)."""
    encoding, data = leaves.canonical_bytes(signed_credential)
    return encoding, merkle.to_hex(merkle.leaf_hash(data))


def enqueue_many(
    session: Session, items: Iterable[tuple[str | None, object]], *, kind: str = "credential"
) -> int:
    """Queue many signed credentials at once (bulk issuance), in the caller's transaction.

    `items` are `(credential_id, signed_credential)` pairs. Skips what is already queued under the
    same id; returns how many leaves were added. One query for duplicates, one bulk insert."""
    rows = []
    for credential_id, document in items:
        cid = credential_id if credential_id is not None else leaves.document_id(document)
        rows.append((cid, *leaf_row(document)))
    return enqueue_leaves(session, rows, kind=kind)


def enqueue_leaves(
    session: Session, items: Iterable[tuple[str | None, str, str]], *, kind: str = "credential"
) -> int:
    """`enqueue_many` with the leaves computed already: `(credential_id, encoding, leaf hex)`
    as `leaf_row` gives them."""
    now = utcnow()
    rows: dict[tuple[str, str | None], dict] = {}
    for cid, encoding, leaf in items:
        rows.setdefault(
            (leaf, cid),
            {
                "credential_id": cid,
                "kind": kind,
                "leaf": leaf,
                "encoding": encoding,
                "created_at": now,
            },
        )
    if not rows:
        return 0
    digests = sorted({leaf for leaf, _ in rows})
    with session.no_autoflush:
        for start in range(0, len(digests), 500):
            chunk = digests[start : start + 500]
            for leaf, cid in session.exec(
                select(AnchorLeaf.leaf, AnchorLeaf.credential_id).where(
                    col(AnchorLeaf.leaf).in_(chunk)
                )
            ):
                rows.pop((leaf, cid), None)
    if rows:
        session.execute(insert(AnchorLeaf), list(rows.values()))
    return len(rows)
