"""issuer: battery transfers (offers and completed hand-overs)

Revision ID: 7e29ffe8fe1d
Revises: 5d0c8a3e71b2
Create Date: 2026-11-22 12:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "7e29ffe8fe1d"
down_revision = "5d0c8a3e71b2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "transfers",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("credential_id", sqlmodel.sql.sqltypes.AutoString(length=600), nullable=False),
        sa.Column("direction", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("battery_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("passport_id", sqlmodel.sql.sqltypes.AutoString(length=45), nullable=False),
        sa.Column("from_did", sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
        sa.Column("to_did", sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
        sa.Column("endpoint", sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=True),
        sa.Column("origin", sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=True),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("offer", sa.JSON(), nullable=False),
        sa.Column("completed", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("credential_id", "direction", name="uq_transfers_credential_direction"),
    )
    with op.batch_alter_table("transfers", schema=None) as batch_op:
        batch_op.create_index("ix_transfers_battery", ["battery_id"], unique=False)
        batch_op.create_index("ix_transfers_passport", ["passport_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("transfers", schema=None) as batch_op:
        batch_op.drop_index("ix_transfers_passport")
        batch_op.drop_index("ix_transfers_battery")
    op.drop_table("transfers")
