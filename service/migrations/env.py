"""Alembic environment: the engine handed in by `service.db.migrate`, else DBP_DATABASE_URL."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from service.db import import_tables, make_engine
from service.settings import Settings

import_tables()
target_metadata = SQLModel.metadata


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


engine = context.config.attributes.get("engine") or make_engine(Settings().resolved_database_url)
with engine.connect() as connection:
    _run(connection)
    connection.commit()
