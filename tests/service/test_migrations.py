"""The Alembic revisions build exactly the tables the models declare, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

from service.db import alembic_config, import_tables, make_engine, migrate


def test_migrations_match_models(database_url):
    engine = make_engine(database_url)
    migrate(engine)
    migrate(engine)  # running again is a no-op
    import_tables()
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata
        )
    engine.dispose()
    assert diff == []


def test_each_package_branch_has_one_head():
    script = ScriptDirectory.from_config(alembic_config())
    heads = script.get_heads()
    branches = [script.get_revision(h).branch_labels for h in heads]
    labels = [label for group in branches for label in group]
    assert len(labels) == len(set(labels)) == len(heads)
