"""Tables owned by the issuer: operators (economic operators and this instance) and their keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, ForeignKey, LargeBinary, String
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
    # AES-GCM sealed Ed25519 seed; associated data is the verification method id.
    sealed_private: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    # A retired key signs nothing new but stays in the DID document so old credentials verify.
    retired_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
