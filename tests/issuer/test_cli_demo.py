"""The command line: key rotation, and the demo data `make run` creates."""

from __future__ import annotations

import json

from sqlmodel import Session, select
from typer.testing import CliRunner

from issuer import views
from issuer.tables import Battery
from service.cli import app as cli
from service.db import make_engine


def test_cli_rotate_key(tmp_path, monkeypatch):
    monkeypatch.setenv("DBP_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DBP_PUBLIC_URL", "https://dpp.example.com")
    monkeypatch.delenv("DBP_DATABASE_URL", raising=False)
    runner = CliRunner()
    assert runner.invoke(cli, ["operator", "create", "--name", "acme"]).exit_code == 0
    r = runner.invoke(cli, ["operator", "rotate-key", "--name", "acme", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["verificationMethod"] == (
        "did:web:dpp.example.com:operators:acme#key-2"
    )
    missing = runner.invoke(cli, ["operator", "rotate-key", "--name", "nobody"])
    assert missing.exit_code == 1 and "no operator" in missing.stderr


def test_demo_creates_batteries_with_passports(database_url, make_settings):
    from service.demo import seed_demo

    settings = make_settings(database_url)
    first = seed_demo(settings)
    second = seed_demo(settings)  # running again adds nothing
    assert [b["itemUri"] for b in first["batteries"]] == [b["itemUri"] for b in second["batteries"]]
    assert len(first["batteries"]) == 3
    engine = make_engine(database_url)
    with Session(engine) as s:
        assert len(s.exec(select(Battery)).all()) == 3
        for battery in first["batteries"]:
            assert battery["itemUri"].startswith("http://testserver/01/")
            view = views.battery_by_id(s, battery["id"])
            assert view.passport_version == 1 and view.passport_state == "active"
            assert len(views.public_credentials(s, battery["id"])) == 1
    engine.dispose()


def test_demo_data_of_another_public_url_is_a_one_line_error(tmp_path, monkeypatch):
    """`make run` on another port with the same ./var: the demo operator's did:web names the old
    host, so the service refuses to start with a plain message instead of a traceback."""
    from service import cli as service_cli

    monkeypatch.setattr("uvicorn.run", lambda *a, **k: None)  # seeding is what is under test
    monkeypatch.setenv("DBP_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("DBP_DATABASE_URL", raising=False)
    runner = CliRunner()
    monkeypatch.setenv("DBP_PUBLIC_URL", "http://127.0.0.1:8765")
    r = runner.invoke(service_cli.app, ["serve", "--demo"])
    assert r.exit_code == 0, r.output
    monkeypatch.setenv("DBP_PUBLIC_URL", "http://127.0.0.1:8766")
    r = runner.invoke(service_cli.app, ["serve", "--demo"])
    assert r.exit_code == 1
    assert "did:web:127.0.0.1%3A8765:operators:demo-manufacturer" in r.stderr
    assert "http://127.0.0.1:8766" in r.stderr and "Traceback" not in r.output
