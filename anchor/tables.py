"""Tables owned by the anchor package.

* `anchor_leaves`: the outbox. One row per anchored document, written in the issuing transaction;
  a batch and an inclusion proof are filled in when the worker closes a batch.
* `anchor_batches`: one Merkle root each, with its state machine
  `closed -> sent -> mined -> confirmed` (see `anchor.worker`).
* `anchor_transactions`: every transaction dbp signed, recorded *before* it is broadcast (raw bytes
  included), so a restarted worker finds what it may already have sent, and the embedded chain can
  be rebuilt by replaying them.
* `anchor_accounts`: the anchoring account(s), private key sealed under the master key.
* `anchor_cursors`: the event listener's position (next block to read) per chain and contract.
* `anchor_leases`: who may run the worker / listener now (one sender per account keeps nonces sane).
* `anchor_chain_events`: `Anchored` events the listener saw at a safe depth, and webhook delivery.

Hex values (roots, leaves, hashes, addresses) are stored `0x`-prefixed, lowercase except addresses,
which keep their EIP-55 checksum spelling.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from vocab.datetimes import utcnow

# Batch states, in order. A batch never goes back past `sent` except when a reorg drops its block
# (mined -> sent) or its transaction reverted without the root being on chain (sent -> closed).
CLOSED = "closed"
SENT = "sent"
MINED = "mined"
CONFIRMED = "confirmed"
BATCH_STATES = (CLOSED, SENT, MINED, CONFIRMED)


def _ts(nullable: bool = False, index: bool = False) -> Column:
    return Column(DateTime(timezone=True), nullable=nullable, index=index)


class AnchorAccount(SQLModel, table=True):
    __tablename__ = "anchor_accounts"

    address: str = Field(sa_column=Column(String(42), primary_key=True))
    # AES-GCM sealed 32-byte secp256k1 private key; associated data names the address. None when
    # the key lives in a token (DBP_KEY_BACKEND=pkcs11): then key_ref says where.
    sealed_key: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    key_ref: str | None = Field(default=None, sa_column=Column(String(300), nullable=True))
    active: bool = Field(sa_column=Column(Boolean, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class AnchorBatch(SQLModel, table=True):
    __tablename__ = "anchor_batches"

    id: int | None = Field(
        default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True)
    )
    # The bytes32 `batchId` sent on chain: 16 random bytes (a UUID) followed by 16 zero bytes.
    chain_batch_id: str = Field(sa_column=Column(String(66), unique=True, nullable=False))
    root: str = Field(sa_column=Column(String(66), unique=True, nullable=False))
    leaf_count: int = Field(sa_column=Column(Integer, nullable=False))
    state: str = Field(sa_column=Column(String(16), nullable=False, index=True))
    closed_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    # Where it went: filled when the batch is sent (chain and contract) and mined (the rest).
    chain_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    contract: str | None = Field(default=None, sa_column=Column(String(42), nullable=True))
    tx_hash: str | None = Field(default=None, sa_column=Column(String(66), nullable=True))
    block_number: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    block_hash: str | None = Field(default=None, sa_column=Column(String(66), nullable=True))
    block_time: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    # Who paid for the anchoring transaction: our account, or someone who anchored the root first.
    anchored_by: str | None = Field(default=None, sa_column=Column(String(42), nullable=True))
    sent_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    mined_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    confirmed_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    last_error: str | None = Field(default=None, sa_column=Column(String(500), nullable=True))


class AnchorLeaf(SQLModel, table=True):
    __tablename__ = "anchor_leaves"
    __table_args__ = (Index("ix_anchor_leaves_batch_id_id", "batch_id", "id"),)

    id: int | None = Field(
        default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True)
    )
    # The credential's id (a URL such as urn:uuid:...), when it has one; not unique: a credential
    # re-issued under the same id gets a second leaf, and GET /anchors/{id} shows the newest.
    credential_id: str | None = Field(
        default=None, sa_column=Column(String(2048), nullable=True, index=True)
    )
    kind: str = Field(default="credential", sa_column=Column(String(32), nullable=False))
    leaf: str = Field(sa_column=Column(String(66), nullable=False, index=True))
    encoding: str = Field(sa_column=Column(String(8), nullable=False))  # "jcs" or "jws"
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    batch_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("anchor_batches.id"), nullable=True)
    )
    position: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    # Sibling hashes from the leaf to the batch root (0x hex), set when the batch is closed.
    proof: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class AnchorTransaction(SQLModel, table=True):
    __tablename__ = "anchor_transactions"
    __table_args__ = (Index("ix_anchor_transactions_sender_nonce", "chain_id", "sender", "nonce"),)

    # Insertion order is broadcast order: the embedded chain replays transactions by this id.
    id: int | None = Field(
        default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True)
    )
    tx_hash: str = Field(sa_column=Column(String(66), unique=True, nullable=False))
    kind: str = Field(sa_column=Column(String(8), nullable=False))  # "deploy" or "anchor"
    batch_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("anchor_batches.id"), nullable=True, index=True),
    )
    chain_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    sender: str = Field(sa_column=Column(String(42), nullable=False))
    nonce: int = Field(sa_column=Column(BigInteger, nullable=False))
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    # What the chain said, once mined (a reverted transaction is mined too, with status 0).
    block_number: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    block_time: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    status: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    contract: str | None = Field(
        default=None, sa_column=Column(String(42), nullable=True)
    )  # deploys
    # Set when a replacement (same nonce, higher fee) was signed for the same batch.
    replaced_by: str | None = Field(default=None, sa_column=Column(String(66), nullable=True))


class AnchorCursor(SQLModel, table=True):
    __tablename__ = "anchor_cursors"

    name: str = Field(sa_column=Column(String(200), primary_key=True))
    next_block: int = Field(sa_column=Column(BigInteger, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class AnchorLease(SQLModel, table=True):
    __tablename__ = "anchor_leases"

    name: str = Field(sa_column=Column(String(200), primary_key=True))
    holder: str = Field(sa_column=Column(String(200), nullable=False))
    expires_at: datetime = Field(sa_column=_ts())


class AnchorChainEvent(SQLModel, table=True):
    __tablename__ = "anchor_chain_events"
    __table_args__ = (UniqueConstraint("chain_id", "tx_hash", "log_index"),)

    id: int | None = Field(
        default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True)
    )
    chain_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    contract: str = Field(sa_column=Column(String(42), nullable=False))
    tx_hash: str = Field(sa_column=Column(String(66), nullable=False))
    log_index: int = Field(sa_column=Column(Integer, nullable=False))
    block_number: int = Field(sa_column=Column(BigInteger, nullable=False))
    block_hash: str = Field(sa_column=Column(String(66), nullable=False))
    block_time: datetime = Field(sa_column=_ts())
    root: str = Field(sa_column=Column(String(66), nullable=False, index=True))
    chain_batch_id: str = Field(sa_column=Column(String(66), nullable=False))
    leaf_count: int = Field(sa_column=Column(Integer, nullable=False))
    sender: str = Field(sa_column=Column(String(42), nullable=False))
    # The batch of ours this event anchors, if any (others may use the same contract).
    batch_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("anchor_batches.id"), nullable=True)
    )
    seen_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    notified_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    notify_attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    notify_error: str | None = Field(default=None, sa_column=Column(String(500), nullable=True))
