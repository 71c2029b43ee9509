"""issuer: EU DPP registry profiles and entries (the registry sync's outbox)

Revision ID: c7a19e40d5b2
Revises: 3c5e9a7d20f1
Create Date: 2026-12-05 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "c7a19e40d5b2"
down_revision = "3c5e9a7d20f1"  # 0007_operator_keys_in_token
branch_labels = None
depends_on = None


def _s(n: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=n)


def upgrade() -> None:
    op.create_table(
        "registry_profiles",
        sa.Column("operator_id", sa.String(length=36), nullable=False),
        sa.Column("reo_id", _s(50), nullable=False),
        sa.Column("commodity_code", _s(10), nullable=True),
        sa.Column("facilities", sa.JSON(), nullable=True),
        sa.Column("model_and_batch", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["operator_id"], ["operators.id"]),
        sa.PrimaryKeyConstraint("operator_id"),
    )
    op.create_table(
        "registry_entries",
        sa.Column("id", _s(36), nullable=False),
        sa.Column("upi", sa.String(length=200), nullable=False),
        sa.Column("level", _s(5), nullable=False),
        sa.Column("operator_id", sa.String(length=36), nullable=False),
        sa.Column("battery_id", _s(36), nullable=False),
        sa.Column("deactivated", sa.Boolean(), nullable=False),
        sa.Column("state", _s(12), nullable=False),
        sa.Column("want_version", sa.Integer(), nullable=False),
        sa.Column("sent_version", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", _s(64), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("registry_id", _s(100), nullable=True),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("proof_valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", _s(1000), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent", sa.JSON(), nullable=True),
        sa.Column("answer", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["operator_id"], ["operators.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("upi"),
    )
    with op.batch_alter_table("registry_entries", schema=None) as batch_op:
        batch_op.create_index("ix_registry_entries_due", ["state", "next_attempt_at"])
        batch_op.create_index("ix_registry_entries_battery", ["battery_id"])
        batch_op.create_index(
            batch_op.f("ix_registry_entries_operator_id"), ["operator_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("registry_entries")
    op.drop_table("registry_profiles")
