"""Fixtures shared by the whole suite: databases (SQLite and PostgreSQL) and a running app."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

POSTGRES_ADMIN_URL = os.environ.get(
    "DBP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
START_HINT = (
    "PostgreSQL is not reachable at {url}; start it with "
    "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` (or run .ci/run), "
    "or set DBP_TEST_SKIP_POSTGRES=1 to skip the PostgreSQL half of the suite"
)


def _create_pg_database() -> tuple[str, Callable[[], None]]:
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"dbp_t_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any connection failure means the server is missing
        admin.dispose()
        if os.environ.get("DBP_TEST_SKIP_POSTGRES") == "1":
            pytest.skip("PostgreSQL skipped (DBP_TEST_SKIP_POSTGRES=1)")
        pytest.fail(START_HINT.format(url=POSTGRES_ADMIN_URL) + f" ({exc.__class__.__name__})")

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

    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    return url, drop


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, then a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'dbp.sqlite3'}"
        return
    url, drop = _create_pg_database()
    try:
        yield url
    finally:
        drop()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'dbp.sqlite3'}"


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., object]:
    from service.settings import Settings

    def make(database_url: str, **overrides) -> Settings:
        values = {
            "data_dir": tmp_path / "var",
            "database_url": database_url,
            "public_url": "http://testserver",
            **overrides,
        }
        return Settings(**values)

    return make


@pytest.fixture
def app_client(database_url: str, make_settings) -> Iterator[TestClient]:
    """The service on a fresh database of each kind, reachable through a TestClient."""
    from service.app import create_app

    app = create_app(make_settings(database_url))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def operator_token(app_client: TestClient) -> Callable[..., dict]:
    """Create an operator in the running app's database; returns {name, did, token}."""
    from issuer import operators
    from service.db import session_scope

    def create(name: str = "acme", did_method: str = "web") -> dict:
        rt = app_client.app.state.runtime
        with session_scope(rt.engine) as session:
            operator, token = operators.create_operator(
                session,
                name=name,
                did_method=did_method,
                did_web_base=rt.settings.did_web_base,
                master_key=rt.master_key,
            )
            return {"name": operator.name, "did": operator.did, "token": token}

    return create
