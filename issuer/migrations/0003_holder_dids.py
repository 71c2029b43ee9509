"""issuer: holder DIDs hosted for wallets

Revision ID: 5d0c8a3e71b2
Revises: 658a2f975eaa
Create Date: 2026-11-22 12:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "5d0c8a3e71b2"
down_revision = "658a2f975eaa"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "holder_dids",
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("did", sa.String(length=512), nullable=False),
        sa.Column("public_multibase", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("registered_by", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["registered_by"], ["operators.id"]),
        sa.PrimaryKeyConstraint("name"),
        sa.UniqueConstraint("did"),
    )
    with op.batch_alter_table("holder_dids", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_holder_dids_registered_by"), ["registered_by"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("holder_dids", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_holder_dids_registered_by"))
    op.drop_table("holder_dids")
