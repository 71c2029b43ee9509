"""Tables of the registry sync: each operator's registry profile and one row per registry entry
(the outbox: a row is due while `want_version` is ahead of `sent_version`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, DateTime, ForeignKey, Index, Integer, String
from sqlmodel import Field, SQLModel

from vocab.datetimes import utcnow


def _ts(nullable: bool = False) -> Column:
    return Column(DateTime(timezone=True), nullable=nullable)


class RegistryProfile(SQLModel, table=True):
    """What the registry needs to know about an operator that its DID does not say."""

    __tablename__ = "registry_profiles"

    operator_id: str = Field(
        sa_column=Column(String(36), ForeignKey("operators.id"), primary_key=True)
    )
    # The responsible economic operator's id in the registry: an LEI or an EORI number.
    reo_id: str = Field(max_length=50)
    # HS/TARIC code of the operator's batteries; None: DBP_REGISTRY_COMMODITY_CODE.
    commodity_code: str | None = Field(default=None, max_length=10)
    # Facility ids (GLNs) where the operator's batteries are made.
    facilities: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # Register model and batch entries too (the items link up to them), not only items.
    model_and_batch: bool = False
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class RegistryEntry(SQLModel, table=True):
    """One entry of the EU registry (a battery item, or a model or batch) and how far it got."""

    __tablename__ = "registry_entries"
    __table_args__ = (
        Index("ix_registry_entries_due", "state", "next_attempt_at"),
        Index("ix_registry_entries_battery", "battery_id"),
    )

    id: str = Field(primary_key=True, max_length=36)
    upi: str = Field(sa_column=Column(String(200), unique=True, nullable=False))
    level: str = Field(max_length=5)  # "ITEM", "BATCH" or "MODEL"
    operator_id: str = Field(
        sa_column=Column(String(36), ForeignKey("operators.id"), nullable=False, index=True)
    )
    # The battery the entry was made for (for a model or batch: the first one of it).
    battery_id: str = Field(max_length=36)
    deactivated: bool = False
    # "pending" (due or waiting to retry), "registered", "refused" (the registry's answer kept in
    # `answer`; sent again only after a change) or "incomplete" (something we must know is missing).
    state: str = Field(default="pending", max_length=12)
    want_version: int = Field(default=1, sa_column=Column(Integer, nullable=False))
    sent_version: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    attempts: int = 0  # failed attempts since the last success; drives the backoff
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_until: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    registry_id: str | None = Field(default=None, max_length=100)
    registered_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    proof_valid_until: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    last_error: str | None = Field(default=None, max_length=1000)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    # The metadata last sent, and the registry's last answer (its entry and proof, or its refusal).
    sent: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    answer: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
