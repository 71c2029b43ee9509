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
