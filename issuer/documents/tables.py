"""The documents table: what was uploaded for which battery, and where its bytes are."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, ForeignKey, Index, String
from sqlmodel import Field, SQLModel

from vocab.datetimes import utcnow


class BatteryDocument(SQLModel, table=True):
    __tablename__ = "battery_documents"
    __table_args__ = (Index("ix_battery_documents_battery", "battery_id", "created_at"),)

    # Random: the stable URL {public_url}/documents/{id} tells nothing about other documents.
    id: str = Field(primary_key=True, max_length=36)
    battery_id: str = Field(
        sa_column=Column(String(36), ForeignKey("batteries.id"), nullable=False)
    )
    operator_id: str = Field(
        sa_column=Column(String(36), ForeignKey("operators.id"), nullable=False)
    )
    doc_type: str = Field(max_length=40)  # DOCUMENT_TYPES
    title: str = Field(max_length=200)
    language: str = Field(max_length=35)  # BCP 47
    tier: str = Field(max_length=40)  # an access tier (vocab.catalogue.Tier)
    media_type: str = Field(max_length=60)
    size: int
    # The object store key is "sha256/<hex>": identical bytes are stored once.
    sha256: str = Field(max_length=64, index=True)
    digest_sri: str = Field(max_length=80)  # sha384-<base64>, as relatedResource carries it
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
