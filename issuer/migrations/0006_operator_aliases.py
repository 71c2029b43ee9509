"""issuer: operators' other identifiers (alsoKnownAs in their DID documents)

Revision ID: 3c7d21a9e4f0
Revises: b41f0c6e2d93
Create Date: 2026-12-05 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "3c7d21a9e4f0"
down_revision = "b41f0c6e2d93"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "operator_aliases",
        sa.Column("uri", sa.String(length=600), nullable=False),
        sa.Column("operator_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["operator_id"], ["operators.id"]),
        sa.PrimaryKeyConstraint("uri"),
    )
    with op.batch_alter_table("operator_aliases", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_operator_aliases_operator_id"), ["operator_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("operator_aliases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_operator_aliases_operator_id"))
    op.drop_table("operator_aliases")
