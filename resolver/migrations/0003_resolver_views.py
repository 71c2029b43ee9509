"""resolver: materialized scan answers per battery (resolver_views, issue 16)

Revision ID: 9c3f5a1d7e21
Revises: 4b1d2e6f7a80
Create Date: 2026-12-05 08:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "9c3f5a1d7e21"
down_revision = "4b1d2e6f7a80"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "resolver_views",
        sa.Column("battery_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.Column("built_generation", sa.BigInteger(), nullable=True),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stale_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("anchor", sa.String(length=1024), nullable=True),
        sa.Column("link_header", sa.Text(), nullable=True),
        sa.Column("linkset_etag", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("passport_etag", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("page_etag", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("linkset", sa.LargeBinary(), nullable=True),
        sa.Column("passport", sa.LargeBinary(), nullable=True),
        sa.Column("page", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("battery_id"),
    )


def downgrade() -> None:
    op.drop_table("resolver_views")
