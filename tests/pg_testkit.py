"""New, empty PostgreSQL databases for tests: the suite's `database_url` fixture, the wallet's
module-scoped instances and the production-shape processes all make them the same way."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ADMIN_URL = os.environ.get(
    "DBP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
START_HINT = (
    "PostgreSQL is not reachable at {url}; start it with "
    "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` (or run .ci/run), "
    "or set DBP_TEST_SKIP_POSTGRES=1 to skip the PostgreSQL half of the suite"
)


def create_database(prefix: str = "dbp_t") -> tuple[str, Callable[[], None]]:
    """A new database's URL and a function that drops it (ending its sessions first).
    pytest.skip when the server is missing and DBP_TEST_SKIP_POSTGRES=1, pytest.fail otherwise."""
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any connection failure means the server is missing
        admin.dispose()
        if os.environ.get("DBP_TEST_SKIP_POSTGRES") == "1":
            pytest.skip("PostgreSQL skipped (DBP_TEST_SKIP_POSTGRES=1)")
        pytest.fail(START_HINT.format(url=ADMIN_URL) + f" ({exc.__class__.__name__})")

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :n AND pid <> pg_backend_pid()"
                ),
                {"n": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()

    return make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False), drop
