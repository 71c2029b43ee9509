"""issuer: operator keys held in a PKCS#11 token (key_ref; sealed_private may be empty)

Revision ID: 3c5e9a7d20f1
Revises: 3c7d21a9e4f0
Create Date: 2026-12-05 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "3c5e9a7d20f1"
down_revision = "3c7d21a9e4f0"  # 0006_operator_aliases
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("operator_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("key_ref", sa.String(length=300), nullable=True))
        batch_op.alter_column("sealed_private", existing_type=sa.LargeBinary(), nullable=True)


def downgrade() -> None:
    # Keys held only in a token have nothing to put back into sealed_private.
    op.execute("DELETE FROM operator_keys WHERE sealed_private IS NULL")
    with op.batch_alter_table("operator_keys", schema=None) as batch_op:
        batch_op.alter_column("sealed_private", existing_type=sa.LargeBinary(), nullable=False)
        batch_op.drop_column("key_ref")
