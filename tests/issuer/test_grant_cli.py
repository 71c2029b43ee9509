"""`dbp grant issue|list|revoke` (issue 13 item 5): an operator grants a named party access to a
battery's tiers until a date, sees its grants' states, and withdraws one."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from issuer import batteries, operators
from issuer.config import IssuerConfig
from service.cli import app as cli
from service.db import make_engine, session_scope
from service.settings import Settings
from vocab.gs1 import item_key

GRANTEE = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"


def test_grant_issue_list_revoke(tmp_path, monkeypatch):
    monkeypatch.setenv("DBP_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DBP_PUBLIC_URL", "https://dpp.example.com")
    monkeypatch.delenv("DBP_DATABASE_URL", raising=False)
    runner = CliRunner()
    assert runner.invoke(cli, ["operator", "create", "--name", "acme"]).exit_code == 0
    settings = Settings()
    engine = make_engine(settings.resolved_database_url)
    config = IssuerConfig(settings.public_url, settings.did_web_base, settings.load_keystore())
    with session_scope(engine) as s:
        acme = operators.by_name(s, "acme")
        battery = batteries.register(s, config, acme, item_key("09520123456788", "SN-1"))
        item_uri = battery.item_uri
    engine.dispose()

    issue = ["grant", "issue", "--operator", "acme", "--grantee", GRANTEE]
    r = runner.invoke(
        cli,
        [*issue, "--battery", item_uri, "--tier", "legitimate-interest",
         "--until", "2099-01-01T00:00:00Z"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    grant = json.loads(r.stdout)
    assert "AccessGrantCredential" in grant["type"]
    assert grant["credentialSubject"] == {
        "grantee": GRANTEE,
        "batteries": [item_uri],
        "tiers": ["legitimate-interest"],
        "expiry": "2099-01-01T00:00:00Z",
    }
    assert [e["statusPurpose"] for e in grant["credentialStatus"]] == ["revocation", "suspension"]

    def listed() -> list[dict]:
        r = runner.invoke(cli, ["grant", "list", "--operator", "acme", "--json"])
        assert r.exit_code == 0, r.output
        return json.loads(r.stdout)

    assert [(g["id"], g["state"]) for g in listed()] == [(grant["id"], "active")]
    table = runner.invoke(cli, ["grant", "list", "--operator", "acme"])
    assert grant["id"] in table.stdout and "active" in table.stdout

    r = runner.invoke(cli, ["grant", "revoke", grant["id"], "--operator", "acme", "--suspend"])
    assert r.exit_code == 0 and "suspended" in r.stdout, r.output
    assert listed()[0]["state"] == "suspended"
    r = runner.invoke(cli, ["grant", "revoke", grant["id"], "--operator", "acme"])
    assert r.exit_code == 0 and "revoked" in r.stdout, r.output
    assert listed()[0]["state"] == "revoked"
    again = runner.invoke(
        cli, ["grant", "revoke", grant["id"], "--operator", "acme", "--reinstate"]
    )
    assert again.exit_code == 0  # the suspension is lifted; the revocation stays
    assert listed()[0]["state"] == "revoked"

    unknown = runner.invoke(cli, ["grant", "revoke", "urn:uuid:nope", "--operator", "acme"])
    assert unknown.exit_code == 1 and "no grant 'urn:uuid:nope'" in unknown.stderr
    bad = runner.invoke(
        cli, [*issue, "--battery", item_uri, "--tier", "everything", "--until", "2099-01-01"]
    )
    assert bad.exit_code == 1 and "tiers" in bad.stderr, bad.output
    assert len(listed()) == 1
