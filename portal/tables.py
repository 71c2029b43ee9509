"""Tables owned by the portal: browser sessions and the flags authorities leave on passports."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, Index, String, Text
from sqlmodel import Field, SQLModel

from vocab.datetimes import utcnow


def _ts(nullable: bool = False) -> Column:
    return Column(DateTime(timezone=True), nullable=nullable)


class PortalSession(SQLModel, table=True):
    """A signed-in browser. The cookie holds a random secret; only its SHA-256 is stored, so a
    copy of the database opens no session."""

    __tablename__ = "portal_sessions"

    id_hash: str = Field(sa_column=Column(String(64), primary_key=True))
    kind: str = Field(max_length=16)  # "operator" or "authority"
    # operator id (kind "operator") or the authority's DID (kind "authority")
    subject: str = Field(sa_column=Column(String(512), nullable=False))
    # what the authority's credential entitles it to see (tiers), JSON text; none for operators
    grants: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    csrf: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    expires_at: datetime = Field(sa_column=_ts())


class PortalFlag(SQLModel, table=True):
    """A note an authority keeps on a passport for follow-up; the operator sees it."""

    __tablename__ = "portal_flags"
    __table_args__ = (Index("ix_portal_flags_battery", "battery_id"),)

    id: str = Field(primary_key=True, max_length=36)
    battery_id: str = Field(max_length=36)
    operator_did: str = Field(sa_column=Column(String(512), nullable=False))
    author_did: str = Field(sa_column=Column(String(512), nullable=False))
    note: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
