"""Tables owned by the verifier: presentation challenges and the hash-chained access log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, String, Text
from sqlmodel import Field, SQLModel

from vocab.datetimes import utcnow


def _ts(nullable: bool = False, index: bool = False) -> Column:
    return Column(DateTime(timezone=True), nullable=nullable, index=index)


class Challenge(SQLModel, table=True):
    __tablename__ = "verifier_challenges"

    # The nonce itself: 256 random bits, base64url. Knowing it is not a credential, so it is
    # stored as is (it is handed to whoever asks and is worthless once used or expired).
    id: str = Field(sa_column=Column(String(64), primary_key=True))
    domain: str = Field(max_length=512)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    expires_at: datetime = Field(sa_column=_ts(index=True))
    # Set once, by the conditional UPDATE that spends the challenge.
    used_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class AccessLogEntry(SQLModel, table=True):
    """One access decision. Append-only: `row_hash` is SHA-256 over the JCS form of every other
    column (see `verifier.audit.row_digest`), and each row carries its predecessor's hash."""

    __tablename__ = "access_log"

    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    at: datetime = Field(sa_column=_ts())
    # "restricted-data" (a request for a battery's restricted tiers) or "access-log" (a read of
    # this log by an authority).
    action: str = Field(max_length=32)
    requester: str | None = Field(default=None, max_length=512)
    # What the requester presented: "legitimate-interest:recycling", "authority:commission",
    # "grant"; several are joined by ";".
    role: str | None = Field(default=None, max_length=256)
    credentials: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    battery: str | None = Field(default=None, max_length=1024)
    # The operator responsible for the battery when the decision was made: whose log it is.
    operator: str | None = Field(default=None, max_length=512, index=True)
    tiers: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    outcome: str = Field(max_length=16)  # "released" or "refused"
    reason: str | None = Field(default=None, max_length=64)
    prev_hash: str = Field(max_length=64)
    row_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
