"""issuer: batteries' model and chemistry, and an index for listing an operator's batteries
newest first (the company portal)

Revision ID: 3c8d5f1a9e42
Revises: d5e83b1f9a04
Create Date: 2026-12-05 07:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "3c8d5f1a9e42"
down_revision = "d5e83b1f9a04"  # 0009_battery_documents
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("batteries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("model", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.add_column(
            sa.Column("chemistry", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)
        )
    op.create_index(
        "ix_batteries_operator_created",
        "batteries",
        ["operator_id", "created_at", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_batteries_operator_created", table_name="batteries")
    with op.batch_alter_table("batteries", schema=None) as batch_op:
        batch_op.drop_column("chemistry")
        batch_op.drop_column("model")
