"""Anchor receipts: everything needed to check a credential's anchor without trusting dbp.

`GET /anchors/{credential-id}` returns one. With the credential itself, a receipt lets anyone
recompute the leaf, fold the proof up to the root, and ask the chain (any node, not ours) when
that root was anchored and in which transaction:

    {
      "credentialId": "urn:uuid:…",            "status": "confirmed",
      "leaf": "0x…",  "leafEncoding": "jcs",   "hashAlgorithm": "sha-256",
      "merkleTree": "sorted-pair; leaf = sha256(0x00||bytes), node = sha256(0x01||min||max)",
      "proof": ["0x…", …],  "root": "0x…",  "batchId": "0x…",  "leafCount": 5000,
      "chainId": 31337,  "contract": "0x…",  "transaction": "0x…",  "block": 12,
      "blockHash": "0x…",  "time": "2026-…Z",  "anchoredBy": "0x…",  "confirmations": 1
    }

Status: `queued` (waiting for a batch), `batched` (in a closed batch, not sent), `sent`,
`included` (mined, fewer than the required confirmations) or `confirmed`.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from anchor import merkle
from anchor.tables import CLOSED, CONFIRMED, MINED, SENT, AnchorBatch, AnchorLeaf
from vocab.datetimes import format_datetime

TREE = "sorted-pair; leaf = sha256(0x00||bytes), node = sha256(0x01||min(a,b)||max(a,b))"
STATUS = {
    None: "queued",
    CLOSED: "batched",
    SENT: "sent",
    MINED: "included",
    CONFIRMED: "confirmed",
}


def find(
    session: Session, *, leaf: str | None = None, credential_id: str | None = None
) -> tuple[AnchorLeaf, AnchorBatch | None] | None:
    """The newest leaf row with this digest (or else for this credential id), and its batch."""
    row = None
    if leaf is not None:
        row = _best(session, AnchorLeaf.leaf == leaf)
    if row is None and credential_id is not None:
        row = _best(session, AnchorLeaf.credential_id == credential_id)
    if row is None:
        return None
    batch = session.get(AnchorBatch, row.batch_id) if row.batch_id is not None else None
    return row, batch


def _best(session: Session, condition) -> AnchorLeaf | None:
    """Among matching rows prefer one that is anchored (lowest batch id), else the newest."""
    rows = session.exec(
        select(AnchorLeaf).where(condition).order_by(col(AnchorLeaf.id).desc()).limit(20)
    ).all()
    if not rows:
        return None
    batched = [r for r in rows if r.batch_id is not None]
    return min(batched, key=lambda r: r.batch_id) if batched else rows[0]


def build(leaf: AnchorLeaf, batch: AnchorBatch | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "credentialId": leaf.credential_id,
        "kind": leaf.kind,
        "status": STATUS.get(batch.state if batch else None, "queued"),
        "leaf": leaf.leaf,
        "leafEncoding": leaf.encoding,
        "hashAlgorithm": "sha-256",
        "merkleTree": TREE,
        "queuedAt": format_datetime(leaf.created_at),
    }
    if batch is None:
        return out
    out.update(
        {
            "proof": ["0x" + p for p in (leaf.proof or [])],
            "root": batch.root,
            "batchId": batch.chain_batch_id,
            "leafCount": batch.leaf_count,
            "position": leaf.position,
        }
    )
    if batch.chain_id is not None:
        out["chainId"] = batch.chain_id
        out["contract"] = batch.contract
    if batch.tx_hash is not None and batch.state in (SENT, MINED, CONFIRMED):
        out["transaction"] = batch.tx_hash
    if batch.block_number is not None and batch.state in (MINED, CONFIRMED):
        out["block"] = batch.block_number
        out["blockHash"] = batch.block_hash
        out["time"] = format_datetime(batch.block_time) if batch.block_time else None
        out["anchoredBy"] = batch.anchored_by
    return out


def proof_bytes(receipt: dict[str, Any]) -> list[bytes]:
    return [merkle.from_hex(p) for p in receipt.get("proof", [])]
