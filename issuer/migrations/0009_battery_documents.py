"""issuer: battery documents (content-addressed in the object store)

Revision ID: d5e83b1f9a04
Revises: c7a19e40d5b2
Create Date: 2026-12-05 08:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "d5e83b1f9a04"
down_revision = "c7a19e40d5b2"
branch_labels = None
depends_on = None


def _s(n: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=n)


def upgrade() -> None:
    op.create_table(
        "battery_documents",
        sa.Column("id", _s(36), nullable=False),
        sa.Column("battery_id", sa.String(length=36), nullable=False),
        sa.Column("operator_id", sa.String(length=36), nullable=False),
        sa.Column("doc_type", _s(40), nullable=False),
        sa.Column("title", _s(200), nullable=False),
        sa.Column("language", _s(35), nullable=False),
        sa.Column("tier", _s(40), nullable=False),
        sa.Column("media_type", _s(60), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", _s(64), nullable=False),
        sa.Column("digest_sri", _s(80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["battery_id"], ["batteries.id"]),
        sa.ForeignKeyConstraint(["operator_id"], ["operators.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("battery_documents", schema=None) as batch_op:
        batch_op.create_index("ix_battery_documents_battery", ["battery_id", "created_at"])
        batch_op.create_index(batch_op.f("ix_battery_documents_sha256"), ["sha256"], unique=False)


def downgrade() -> None:
    op.drop_table("battery_documents")
