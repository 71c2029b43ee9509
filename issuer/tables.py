"""Tables owned by the issuer: operators and their keys, batteries, passport versions, every issued
credential, Bitstring Status Lists with their allocated entries, and bulk jobs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from vocab.datetimes import utcnow


def _ts(nullable: bool = False) -> Column:
    return Column(DateTime(timezone=True), nullable=nullable)


class Operator(SQLModel, table=True):
    __tablename__ = "operators"

    id: str = Field(primary_key=True, max_length=36)
    name: str = Field(sa_column=Column(String(63), unique=True, nullable=False))
    did: str = Field(sa_column=Column(String(512), unique=True, nullable=False))
    did_method: str = Field(max_length=8)  # "web" or "key"
    kind: str = Field(default="operator", max_length=16)  # "operator" or "instance"
    # SHA-256 of the bearer token; the token itself is shown once and never stored.
    token_hash: str | None = Field(
        default=None, sa_column=Column(String(64), unique=True, nullable=True)
    )
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    removed_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class OperatorKey(SQLModel, table=True):
    __tablename__ = "operator_keys"

    # The full verification method id, e.g. did:web:host:operators:acme#key-1
    id: str = Field(sa_column=Column(String(600), primary_key=True))
    operator_id: str = Field(
        sa_column=Column(String(36), ForeignKey("operators.id"), nullable=False, index=True)
    )
    public_multibase: str = Field(max_length=64)
    # AES-GCM sealed Ed25519 seed; associated data is the verification method id. None when the
    # key lives in a token (DBP_KEY_BACKEND=pkcs11): then key_ref says where.
    sealed_private: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    key_ref: str | None = Field(default=None, sa_column=Column(String(300), nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    # A retired key signs nothing new but stays in the DID document so old credentials verify.
    retired_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class OperatorAlias(SQLModel, table=True):
    """Another identifier of an operator (an EORI, LEI or GLN as a URI), listed as `alsoKnownAs`
    in its DID document. A passport may name the operator by it (issuer.operator_identity)."""

    __tablename__ = "operator_aliases"

    # One identifier names one operator of this instance.
    uri: str = Field(sa_column=Column(String(600), primary_key=True))
    operator_id: str = Field(
        sa_column=Column(String(36), ForeignKey("operators.id"), nullable=False, index=True)
    )
    position: int = 0  # the order the operator gave them in
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


def _json(nullable: bool = False) -> Column:
    return Column(JSON, nullable=nullable)


class Battery(SQLModel, table=True):
    """A registered battery. Its id is also the routing registry's id and its DID's last segment."""

    __tablename__ = "batteries"
    __table_args__ = (
        UniqueConstraint("gtin", "serial", name="uq_batteries_gtin_serial"),
        # the portal's battery list: an operator's newest first, paged by (created_at, id)
        Index("ix_batteries_operator_created", "operator_id", "created_at", "id"),
    )

    id: str = Field(primary_key=True, max_length=36)
    gtin: str = Field(max_length=14)
    serial: str = Field(max_length=20)
    variant: str | None = Field(default=None, max_length=20)
    batch: str | None = Field(default=None, max_length=20)
    item_uri: str = Field(sa_column=Column(String(1024), unique=True, nullable=False))
    did: str = Field(sa_column=Column(String(512), unique=True, nullable=False))
    # The economic operator responsible for the battery now (Art 77(4), 77(7)).
    operator_id: str = Field(
        sa_column=Column(String(36), ForeignKey("operators.id"), nullable=False, index=True)
    )
    # The id every version of the current passport shares; a second life gets a new one.
    passport_id: str = Field(sa_column=Column(String(45), unique=True, nullable=False))
    # Known once a passport is issued (battery category, Annex XIII 4(c) status).
    category: str | None = Field(default=None, max_length=16)
    status: str | None = Field(default=None, max_length=16)
    # of the latest passport version (general.model, materials.batteryChemistry.shortName):
    # what the portals search by
    model: str | None = Field(default=None, max_length=64)
    chemistry: str | None = Field(default=None, max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class Passport(SQLModel, table=True):
    """One version of a passport. Versions are never deleted: a new one supersedes the last."""

    __tablename__ = "passports"

    id: str = Field(sa_column=Column(String(45), primary_key=True))  # urn:uuid:...
    version: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    battery_id: str = Field(
        sa_column=Column(String(36), ForeignKey("batteries.id"), nullable=False, index=True)
    )
    # The operator that issued this version.
    operator_id: str = Field(
        sa_column=Column(String(36), ForeignKey("operators.id"), nullable=False)
    )
    # "active", "superseded" (a newer version exists), "inactive" (a successor passport exists,
    # Art 77(7)) or "archived" (recycled, Art 77(8)).
    state: str = Field(default="active", max_length=16)
    predecessor_ids: list[str] | None = Field(default=None, sa_column=_json(nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    superseded_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    # Who made the last state change (a DID), for the public passport history.
    state_changed_by: str | None = Field(default=None, max_length=512)


class IssuedCredential(SQLModel, table=True):
    """Every credential this service signed, as signed."""

    __tablename__ = "issued_credentials"
    __table_args__ = (Index("ix_issued_credentials_passport", "passport_id", "passport_version"),)

    # Our row id; the credential's own `id` is optional in VC 2.0 (VC-API issue).
    id: str = Field(primary_key=True, max_length=36)
    credential_id: str | None = Field(
        default=None, sa_column=Column(String(600), unique=True, nullable=True)
    )
    operator_id: str = Field(
        sa_column=Column(String(36), ForeignKey("operators.id"), nullable=False, index=True)
    )
    battery_id: str | None = Field(
        default=None,
        sa_column=Column(String(36), ForeignKey("batteries.id"), nullable=True, index=True),
    )
    passport_id: str | None = Field(default=None, max_length=45)
    passport_version: int | None = None
    kind: str = Field(max_length=16)  # "passport-tier", "event", "vc-api", "grant"
    tier: str | None = Field(default=None, max_length=40)
    issued_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    document: dict = Field(sa_column=_json())  # last: the large column


class StatusList(SQLModel, table=True):
    """A Bitstring Status List of one operator for one purpose, with its last signed credential."""

    __tablename__ = "status_lists"

    # Random, not sequential: the list URL tells nothing about how many lists an issuer has.
    id: str = Field(primary_key=True, max_length=36)
    operator_id: str = Field(
        sa_column=Column(String(36), ForeignKey("operators.id"), nullable=False, index=True)
    )
    purpose: str = Field(max_length=16)  # "revocation" or "suspension"
    size: int  # entries (bits)
    full: bool = False  # no free index left: new entries go to a new list
    version: int = 1  # bumped with every change; also serialises concurrent writers
    etag: str = Field(max_length=66)  # of credential_json
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    # Large columns last. The bits uncompressed; the signed BitstringStatusListCredential exactly
    # as served.
    bits: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    credential_json: str = Field(sa_column=Column(Text, nullable=False))


class StatusEntry(SQLModel, table=True):
    """An index of a status list given to a credential. The primary key makes reuse impossible."""

    __tablename__ = "status_entries"

    list_id: str = Field(
        sa_column=Column(String(36), ForeignKey("status_lists.id"), primary_key=True)
    )
    list_index: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    credential_row_id: str = Field(
        sa_column=Column(
            String(36), ForeignKey("issued_credentials.id"), nullable=False, index=True
        )
    )
    purpose: str = Field(max_length=16)
    updated_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    updated_by: str | None = Field(default=None, max_length=512)


class BulkJob(SQLModel, table=True):
    __tablename__ = "bulk_jobs"
    __table_args__ = (
        UniqueConstraint("operator_id", "idempotency_key", name="uq_bulk_jobs_operator_key"),
    )

    id: str = Field(primary_key=True, max_length=36)
    operator_id: str = Field(
        sa_column=Column(String(36), ForeignKey("operators.id"), nullable=False, index=True)
    )
    idempotency_key: str = Field(max_length=255)
    request_hash: str = Field(max_length=64)  # SHA-256 of the canonical request body
    total: int
    state: str = Field(default="queued", max_length=16)  # "queued", "running", "finished"
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    finished_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class BulkItem(SQLModel, table=True):
    __tablename__ = "bulk_items"
    __table_args__ = (
        Index("ix_bulk_items_job_state", "job_id", "state"),
        # Covers the claim query (pending items in job order, free or expired claims) so that it
        # never reads the large payloads of the rows it skips.
        Index("ix_bulk_items_claim", "state", "job_id", "position", "claimed_until", "claimed_by"),
    )

    job_id: str = Field(sa_column=Column(String(36), ForeignKey("bulk_jobs.id"), primary_key=True))
    position: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    state: str = Field(default="pending", max_length=16)  # "pending", "done", "failed"
    battery_id: str | None = Field(default=None, max_length=36)
    passport_id: str | None = Field(default=None, max_length=45)
    # A worker's claim on the item; an expired claim may be taken over (the worker died).
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_until: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    finished_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    error: dict | None = Field(default=None, sa_column=_json(nullable=True))
    # Large columns last: SQLite reads a row's columns in order, through its overflow pages.
    payload: dict = Field(sa_column=_json())


class HolderDid(SQLModel, table=True):
    """A holder's `did:web:{host}:holders:{name}` hosted here for a wallet (`dbp wallet init
    --did-method web`). Only the public key is kept: the wallet holds the private key."""

    __tablename__ = "holder_dids"

    name: str = Field(sa_column=Column(String(63), primary_key=True))
    did: str = Field(sa_column=Column(String(512), unique=True, nullable=False))
    public_multibase: str = Field(max_length=64)
    # The operator whose bearer token registered it (accountability, not control of the key).
    registered_by: str = Field(
        sa_column=Column(String(36), ForeignKey("operators.id"), nullable=False, index=True)
    )
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class Transfer(SQLModel, table=True):
    """A hand-over of a battery to another operator: an offer signed by the responsible operator
    (`out`, on the instance holding the battery), completed once the new operator countersigned.
    The receiving instance keeps an `in` row for the battery that arrived."""

    __tablename__ = "transfers"
    __table_args__ = (
        UniqueConstraint("credential_id", "direction", name="uq_transfers_credential_direction"),
        Index("ix_transfers_battery", "battery_id"),
        Index("ix_transfers_passport", "passport_id"),
    )

    id: str = Field(primary_key=True, max_length=36)
    credential_id: str = Field(max_length=600)
    direction: str = Field(max_length=3)  # "out" (offered here) or "in" (arrived here)
    battery_id: str = Field(max_length=36)
    # The passport handed over: predecessor of the new passport the new operator issues.
    passport_id: str = Field(max_length=45)
    from_did: str = Field(max_length=512)
    to_did: str = Field(max_length=512)
    # Base URL of the instance holding the battery afterwards; None: the offering instance.
    endpoint: str | None = Field(default=None, max_length=1024)
    # "in" rows: the instance the battery came from.
    origin: str | None = Field(default=None, max_length=1024)
    state: str = Field(default="pending", max_length=16)  # "pending" or "completed"
    expires_at: datetime = Field(sa_column=_ts())
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    completed_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    # The offer as signed by the transferor; then the credential signed by both.
    offer: dict = Field(sa_column=_json())
    completed: dict | None = Field(default=None, sa_column=_json(nullable=True))
    # "in" rows: the public credentials of the passport handed over, as the offering instance
    # served them, so the QR keeps showing that passport here until the new operator issues its
    # own (a JSON list; None for hand-overs recorded before it was kept).
    handed_over: list | None = Field(default=None, sa_column=_json(nullable=True))


# The registry sync's and the documents' tables live beside their code; imported here so that
# every place that loads the issuer's tables (migrations, create_all in tests) sees them.
from issuer.backup import tables as _backup_tables  # noqa: E402, F401
from issuer.documents import tables as _documents_tables  # noqa: E402, F401
from issuer.dppregistry import tables as _dppregistry_tables  # noqa: E402, F401
