"""Settings from files and aliases, the JSON log format, request ids, and refusing to start on
a schema that `dbp migrate` has not brought up to date."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient

from service import logs
from service.app import create_app
from service.db import SchemaNotCurrent, make_engine, migrate
from service.settings import Settings, SettingsError


@pytest.fixture
def clean_env(monkeypatch):
    for name in ("DATABASE_URL", "CHAIN_RPC_URL", "DBP_DATABASE_URL", "DBP_CHAIN_RPC_URL"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_values_from_files_and_docker_secrets(clean_env, tmp_path):
    key = tmp_path / "master_key"
    key.write_text("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n")
    password = tmp_path / "pw"
    password.write_text("s3cret\n")
    clean_env.setenv("DBP_MASTER_KEY_FILE", str(key))
    clean_env.setenv("DBP_DATABASE_URL", "postgresql+psycopg://dbp@db:5432/dbp")
    clean_env.setenv("DBP_DATABASE_PASSWORD_FILE", str(password))
    s = Settings()
    assert s.master_key == "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="  # newline dropped
    assert s.load_master_key() == bytes(32)
    assert s.resolved_database_url == "postgresql+psycopg://dbp:s3cret@db:5432/dbp"
    clean_env.setenv("DBP_MASTER_KEY", "direct")  # a value set directly wins over its file
    assert Settings().master_key == "direct"


def test_a_missing_secret_file_is_named(clean_env, tmp_path):
    clean_env.setenv("DBP_MASTER_KEY_FILE", str(tmp_path / "nope"))
    with pytest.raises(SettingsError, match="DBP_MASTER_KEY_FILE=.*nope: cannot read"):
        Settings()


def test_architecture_names_are_aliases(clean_env):
    clean_env.setenv("DATABASE_URL", "postgres://u@h/db")
    clean_env.setenv("CHAIN_RPC_URL", "http://node:8545")
    s = Settings()
    assert s.database_url == "postgresql+psycopg://u@h/db"
    assert s.chain_rpc_url == "http://node:8545"
    clean_env.setenv("DBP_DATABASE_URL", "sqlite:///x.db")  # the DBP_ name wins
    assert Settings().database_url == "sqlite:///x.db"


def test_json_formatter_writes_one_object_with_the_request_id():
    record = logging.LogRecord("dbp.request", logging.INFO, __file__, 1, "GET %s", ("/x",), None)
    record.status, record.duration_ms = 200, 1.5
    token = logs.request_id.set("rid-1")
    try:
        logs.RequestIdFilter().filter(record)
    finally:
        logs.request_id.reset(token)
    line = logs.JsonFormatter().format(record)
    assert "\n" not in line
    out = json.loads(line)
    assert out["message"] == "GET /x" and out["request_id"] == "rid-1"
    assert (out["level"], out["status"], out["duration_ms"]) == ("info", 200, 1.5)
    assert logs.logging_config("text")["handlers"]["stderr"]["formatter"] == "text"
    assert logs.logging_config("json")["handlers"]["stderr"]["formatter"] == "json"


def test_request_ids_kept_or_replaced(database_url, make_settings, caplog):
    app = create_app(make_settings(database_url, role="resolver"))
    with TestClient(app) as client, caplog.at_level(logging.INFO, logger="dbp.request"):
        kept = client.get("/healthz", headers={"X-Request-ID": "edge-42.a"})
        assert kept.headers["x-request-id"] == "edge-42.a"
        odd = client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
        assert odd.headers["x-request-id"] != "bad id\twith spaces"
        assert len(odd.headers["x-request-id"]) == 32
        missing = client.get("/no/such/path")
    lines = [r for r in caplog.records if r.name == "dbp.request"]
    assert [(r.request_id, r.status, r.route) for r in lines] == [
        ("edge-42.a", 200, "/healthz"),
        (odd.headers["x-request-id"], 200, "/healthz"),
        (missing.headers["x-request-id"], 404, "(unmatched)"),
    ]


def test_copies_refuse_a_schema_that_is_not_current(database_url, make_settings):
    settings = make_settings(database_url, migrate_on_start=False, role="verifier")
    with (
        pytest.raises(SchemaNotCurrent, match="run `dbp migrate` first"),
        TestClient(create_app(settings)),
    ):
        pass
    engine = make_engine(database_url)
    migrate(engine)
    engine.dispose()
    with TestClient(create_app(settings)) as client:
        assert client.get("/readyz").status_code == 200


def test_readyz_names_an_unreachable_database(make_settings, tmp_path):
    settings = make_settings(
        f"sqlite:///{tmp_path / 'db.sqlite3'}", role="resolver", readiness_timeout_s=1
    )
    with TestClient(create_app(settings)) as client:
        client.app.state.runtime.engine.dispose()
        (tmp_path / "db.sqlite3").unlink()
        (tmp_path / "db.sqlite3").mkdir()  # a directory: SQLite cannot open it
        r = client.get("/readyz")
    assert r.status_code == 503
    body = r.json()
    assert body["checks"]["chain"] == "ok"  # embedded
    assert body["checks"]["database"].startswith("unreachable")
    assert body["detail"].startswith("not ready: database: unreachable")
