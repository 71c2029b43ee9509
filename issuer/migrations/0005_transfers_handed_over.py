"""issuer: the public credentials of a passport handed over, kept on the receiving instance

Revision ID: b41f0c6e2d93
Revises: 7e29ffe8fe1d
Create Date: 2026-12-04 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "b41f0c6e2d93"
down_revision = "7e29ffe8fe1d"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("transfers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("handed_over", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("transfers", schema=None) as batch_op:
        batch_op.drop_column("handed_over")
