"""Tables of the backup service (issuer/backup): on the primary, the change log and the push state
(the outbox); on the backup, the snapshot versions it accepted."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, Integer, LargeBinary, String
from sqlmodel import Field, SQLModel

from vocab.datetimes import utcnow


def _ts(nullable: bool = False) -> Column:
    return Column(DateTime(timezone=True), nullable=nullable)


class BackupChange(SQLModel, table=True):
    """One write transaction that changed data the backup copies (primary side). Rows are only
    inserted by writers, never updated, so concurrent writers do not queue for one row; the push
    worker deletes the rows a delivered snapshot covered."""

    __tablename__ = "backup_changes"

    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    )
    at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class BackupPush(SQLModel, table=True):
    """How far the pushes to the backup got (primary side; one row, id "backup")."""

    __tablename__ = "backup_push"

    id: str = Field(primary_key=True, max_length=16)
    # The highest change id the backup holds a snapshot of, and that snapshot's sequence/digest.
    sent_change: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    sequence: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    digest: str | None = Field(default=None, max_length=64)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_until: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    last_error: str | None = Field(default=None, max_length=1000)
    pushed_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class BackupSnapshot(SQLModel, table=True):
    """A snapshot version the backup accepted (backup side): the signed envelope exactly as
    pushed. Versions are kept; the newest is the one served."""

    __tablename__ = "backup_snapshots"

    sequence: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    digest: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    source: str = Field(max_length=1024)  # the primary's public URL
    signed_by: str = Field(max_length=600)  # the verification method that signed it
    received_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    size: int
    envelope: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
