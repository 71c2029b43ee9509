"""resolver: responsibility history (battery tenures)

Revision ID: 4b1d2e6f7a80
Revises: cd29599e041e
Create Date: 2026-11-22 12:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "4b1d2e6f7a80"
down_revision = "cd29599e041e"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "battery_tenures",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("battery_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("operator_did", sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("transfer_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("battery_tenures", schema=None) as batch_op:
        batch_op.create_index("ix_battery_tenures_battery", ["battery_id", "since"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("battery_tenures", schema=None) as batch_op:
        batch_op.drop_index("ix_battery_tenures_battery")
    op.drop_table("battery_tenures")
