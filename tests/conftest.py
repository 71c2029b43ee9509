"""Fixtures shared by the whole suite: databases (SQLite and PostgreSQL) and a running app."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

# Test helpers at the top of tests/ (pg_testkit); --import-mode=importlib puts no test directory
# on sys.path.
sys.path.insert(0, str(Path(__file__).parent))
# pytest-xdist workers export COLUMNS=80; rich consoles created at import would keep that width
# for good and ignore the COLUMNS a CLI test passes to the command it runs.
os.environ.pop("COLUMNS", None)

# No silent skips in CI: with CI=true a skip fails the run unless its reason starts with
# "not_applicable:" (a designed backend combination). The hooks live in ci_skips.py, the rule is
# in tests/README.md.
from ci_skips import pytest_make_collect_report, pytest_runtest_makereport  # noqa: E402, F401
from pg_testkit import create_database  # noqa: E402

# DBP_TEST_KEY_BACKEND=pkcs11: every service the suite starts keeps its keys in a SoftHSM2 token
# (issue 20), through the environment, so processes the tests start inherit it too.
if os.environ.get("DBP_TEST_KEY_BACKEND") == "pkcs11":
    from hsm_testkit import settings_overrides  # noqa: E402

    for _name, _value in settings_overrides().items():
        os.environ[f"DBP_{_name.upper()}"] = _value


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked slow run first: with pytest-xdist (`make test` runs two workers) the longest
    ones then overlap the rest of the suite instead of finishing it alone."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(autouse=True)
def one_pooled_connection_per_request() -> Iterator[None]:
    """No request handled in this process holds two pooled database connections at once
    (infra/db.py: that deadlocks under load); each second checkout is recorded there."""
    from infra.db import second_checkouts

    second_checkouts.clear()
    yield
    found = list(second_checkouts)
    second_checkouts.clear()
    assert not found, f"{len(found)} second pooled connection(s) in a request:\n" + found[0]


# The postgres half carries the `postgres` marker, so `-m "not postgres"` means what it says.
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, then a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'dbp.sqlite3'}"
        return
    url, drop = create_database()
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

    settings = make_settings(database_url)
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
        if settings.key_backend == "pkcs11":
            no_private_key_outside_the_token(client.app.state.runtime.engine, settings.data_dir)


def no_private_key_outside_the_token(engine, data_dir: Path) -> None:
    """Under DBP_TEST_KEY_BACKEND=pkcs11 (issue 20): whatever the test did, no private key is
    sealed in the database and no master key file was made."""
    from sqlalchemy import text

    with engine.connect() as conn:
        sealed = conn.execute(
            text("select count(*) from operator_keys where sealed_private is not null")
        ).scalar_one()
        accounts = conn.execute(
            text("select count(*) from anchor_accounts where sealed_key is not null")
        ).scalar_one()
    assert (sealed, accounts) == (0, 0), "private keys sealed in the database under pkcs11"
    assert not (data_dir / "master.key").exists(), "a master key file was made under pkcs11"


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
