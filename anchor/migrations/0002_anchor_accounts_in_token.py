"""anchor: anchoring accounts held in a PKCS#11 token (key_ref; sealed_key may be empty)

Revision ID: 9d41b6e0c7a2
Revises: a7c3e1f0b2d4
Create Date: 2026-12-05 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "9d41b6e0c7a2"
down_revision = "a7c3e1f0b2d4"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("anchor_accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("key_ref", sa.String(length=300), nullable=True))
        batch_op.alter_column("sealed_key", existing_type=sa.LargeBinary(), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM anchor_accounts WHERE sealed_key IS NULL")
    with op.batch_alter_table("anchor_accounts", schema=None) as batch_op:
        batch_op.alter_column("sealed_key", existing_type=sa.LargeBinary(), nullable=False)
        batch_op.drop_column("key_ref")
