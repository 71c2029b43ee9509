"""Tables owned by the resolver: the routing registry (battery -> who holds its passport now) and
its history (who was responsible when)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from vocab.datetimes import utcnow


class BatteryRoute(SQLModel, table=True):
    __tablename__ = "battery_routes"
    __table_args__ = (UniqueConstraint("gtin", "serial", name="uq_battery_routes_gtin_serial"),)

    # The battery's id: the issuer's battery id, also the last segment of its DID.
    id: str = Field(primary_key=True, max_length=36)
    gtin: str = Field(max_length=14)
    serial: str = Field(max_length=20)
    did: str = Field(sa_column=Column(String(512), unique=True, nullable=False))
    # The operator responsible now: the controller of the battery DID.
    holder_did: str = Field(max_length=512)
    # Base URL of the dbp instance that holds the passport now; None means this instance.
    endpoint: str | None = Field(default=None, max_length=1024)
    # "active" here, "moved" to another instance, or "archived" (end of life / operator gone).
    state: str = Field(default="active", max_length=16)
    # Where readers go when the holder left the market: a successor instance or a backup copy.
    successor: str | None = Field(default=None, max_length=1024)
    backup_url: str | None = Field(default=None, max_length=1024)
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


class BatteryTenure(SQLModel, table=True):
    """A period in which one operator was responsible for a battery (Art 77(4), 77(7)).

    Written when a battery is handed over: the tenure that ends and the one that starts. The
    verifier reads it so that credentials an operator issued while it was responsible keep
    verifying as history; a battery never handed over has no rows (its operator is in the
    routing registry)."""

    __tablename__ = "battery_tenures"
    __table_args__ = (Index("ix_battery_tenures_battery", "battery_id", "since"),)

    id: str = Field(primary_key=True, max_length=36)
    battery_id: str = Field(max_length=36)
    operator_did: str = Field(max_length=512)
    since: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    until: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    # The transfer that started this tenure (None for the first operator).
    transfer_id: str | None = Field(default=None, max_length=36)


class ResolverView(SQLModel, table=True):
    """What a scan of a battery returns, kept as bytes (resolver.views): the linkset, the JSON
    passport presentation and the consumer page at its canonical item URI, with their ETags.

    `generation` is bumped by every write that changes the battery's answers; the bytes are
    served only while `built_generation` equals it (and before `stale_at`)."""

    __tablename__ = "resolver_views"

    battery_id: str = Field(primary_key=True, max_length=36)
    generation: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    built_generation: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    built_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    stale_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    # The item URI (own base URL + canonical path) the bytes were built for.
    anchor: str | None = Field(default=None, sa_column=Column(String(1024), nullable=True))
    link_header: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    linkset_etag: str | None = Field(default=None, max_length=40)
    passport_etag: str | None = Field(default=None, max_length=40)
    page_etag: str | None = Field(default=None, max_length=40)
    # Large columns last. `passport` is None when no public credential exists (a 404 answer).
    linkset: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    passport: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    page: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
