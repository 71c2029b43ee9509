"""portal: browser sessions and authority flags

Revision ID: 5e1a9c2d7b30
Revises:
Create Date: 2026-12-05 07:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "5e1a9c2d7b30"
down_revision = None
branch_labels = ("portal",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "portal_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("subject", sa.String(length=512), nullable=False),
        sa.Column("grants", sa.Text(), nullable=True),
        sa.Column("csrf", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id_hash"),
    )
    op.create_table(
        "portal_flags",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("battery_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("operator_did", sa.String(length=512), nullable=False),
        sa.Column("author_did", sa.String(length=512), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_portal_flags_battery", "portal_flags", ["battery_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_portal_flags_battery", table_name="portal_flags")
    op.drop_table("portal_flags")
    op.drop_table("portal_sessions")
