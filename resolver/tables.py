"""Tables owned by the resolver: the routing registry (battery -> who holds its passport now)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, String, UniqueConstraint
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
