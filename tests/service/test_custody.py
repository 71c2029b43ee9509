"""Key custody (issue 20): the service with its keys in a SoftHSM2 token (DBP_KEY_BACKEND=pkcs11),
on both databases: credentials and status lists signed in the token, no private key material in
the database or the data directory, the anchoring account's transactions signed in the token on
the embedded chain and on anvil, `dbp keys migrate` moving sealed keys into the token, /readyz
and /metrics reporting the signer."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from hsm_testkit import settings_overrides, softhsm_token
from sqlalchemy import text
from sqlmodel import Session, select
from typer.testing import CliRunner

from anchor import ethlibs
from anchor.tables import AnchorAccount
from anchor.worker import AnchorWorker
from issuer.tables import OperatorKey
from proofs.pkcs11 import Pkcs11Keystore
from service.db import session_scope

V2 = "https://www.w3.org/ns/credentials/v2"
EXAMPLES = "https://www.w3.org/ns/credentials/examples/v2"
MASTER_KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="

ethlibs.load()


def credential(issuer: str, n: int = 1) -> dict:
    return {
        "@context": [V2, EXAMPLES],
        "id": f"urn:uuid:{uuid.uuid4()}",
        "type": ["VerifiableCredential"],
        "issuer": issuer,
        "credentialSubject": {"id": f"did:example:battery-{n}", "note": "in the token"},
    }


def create_operator(client: TestClient, name: str, did_method: str = "web") -> dict:
    from issuer import operators

    rt = client.app.state.runtime
    with session_scope(rt.engine) as session:
        op, token = operators.create_operator(
            session,
            name=name,
            did_method=did_method,
            did_web_base=rt.settings.did_web_base,
            master_key=rt.master_key,
        )
        return {"did": op.did, "token": token, "name": name}


def issue(client: TestClient, op: dict, **options) -> dict:
    body = {"credential": credential(op["did"]), **({"options": options} if options else {})}
    r = client.post(
        "/credentials/issue", json=body, headers={"Authorization": f"Bearer {op['token']}"}
    )
    assert r.status_code == 201, r.text
    return r.json()["verifiableCredential"]


def verified(client: TestClient, vc: dict) -> dict:
    r = client.post("/credentials/verify", json={"verifiableCredential": vc})
    assert r.status_code == 200, r.text
    return r.json()


def no_private_keys_outside_the_token(engine, data_dir) -> None:
    with engine.connect() as conn:
        sealed = conn.execute(
            text("select count(*) from operator_keys where sealed_private is not null")
        ).scalar_one()
        refs = conn.execute(
            text("select count(*) from operator_keys where key_ref like 'pkcs11:id=%'")
        ).scalar_one()
        accounts = conn.execute(
            text("select count(*) from anchor_accounts where sealed_key is not null")
        ).scalar_one()
    assert (sealed, accounts) == (0, 0) and refs > 0
    assert not (data_dir / "master.key").exists()


def test_issuing_and_verifying_with_keys_in_the_token(database_url, make_settings, tmp_path):
    from service.app import create_app

    settings = make_settings(database_url, **settings_overrides())
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        web = create_operator(client, "acme")
        key = create_operator(client, "keyed", did_method="key")
        for op in (web, key):
            for options in ({}, {"cryptosuite": "eddsa-jcs-2022"}, {"format": "vc+jwt"}):
                vc = issue(client, op, **options)
                assert verified(client, vc)["verified"] is True
        old = issue(client, web)
        # rotation through the signer: the new key is made in the token, the old one verifies
        r = client.post("/operators/me/keys", headers={"Authorization": f"Bearer {web['token']}"})
        assert r.status_code == 201, r.text
        new = issue(client, web)
        assert new["proof"]["verificationMethod"].endswith("#key-2")
        assert verified(client, old)["verified"] and verified(client, new)["verified"]

        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["checks"]["signer"] == "ok"
        metrics = client.get("/metrics").text
        assert 'dbp_signing_duration_seconds_count{algorithm="ed25519",backend="pkcs11"}' in (
            metrics
        )
        no_private_keys_outside_the_token(client.app.state.runtime.engine, settings.data_dir)


def test_readyz_names_an_unreachable_token(make_settings, sqlite_url):
    from service.app import create_app

    settings = make_settings(sqlite_url, role="resolver", **settings_overrides())
    token = softhsm_token()
    with TestClient(create_app(settings)) as client:
        client.app.state.runtime.master_key = Pkcs11Keystore(token["module"], "gone", "0000")
        r = client.get("/readyz")
    assert r.status_code == 503
    assert r.json()["checks"]["signer"] == f"no PKCS#11 token labelled 'gone' in {token['module']}"


@pytest.mark.parametrize("rotate", [False, True], ids=["import", "rotate"])
def test_keys_migrate_moves_sealed_keys_into_the_token(
    database_url, make_settings, tmp_path, monkeypatch, rotate
):
    from service.app import create_app
    from service.cli import app

    sealed = make_settings(database_url, master_key=MASTER_KEY, key_backend="sealed")
    with TestClient(create_app(sealed), raise_server_exceptions=False) as client:
        acme = create_operator(client, "acme")
        keyed = create_operator(client, "keyed", did_method="key")
        before = [issue(client, acme), issue(client, keyed)]
        client.app.state.runtime.anchor.signer()  # the embedded chain's account, sealed
        with Session(client.app.state.runtime.engine) as session:
            (address,) = [a.address for a in session.exec(select(AnchorAccount))]

    for name, value in {
        **settings_overrides(),
        "database_url": database_url,
        "data_dir": str(sealed.data_dir),
        "master_key": MASTER_KEY,
        "public_url": "http://testserver",
    }.items():
        monkeypatch.setenv(f"DBP_{name.upper()}", value)
    args = ["keys", "migrate", "--json"] + (["--rotate"] if rotate else [])
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    import json

    moved = {(m["name"], m["action"]) for m in json.loads(result.output)}
    instance = "did:web:testserver#key-1"
    if rotate:
        assert {
            ("did:web:testserver:operators:acme#key-2", "rotated"),
            ("did:web:testserver:operators:acme#key-1", "erased"),
            (instance, "erased"),
        } <= moved
    else:
        assert {
            ("did:web:testserver:operators:acme#key-1", "imported"),
            (instance, "imported"),
        } <= (moved)
    assert (before[1]["proof"]["verificationMethod"], "imported") in moved  # did:key
    assert (address, "imported") in moved
    # a second run has nothing left to move
    again = CliRunner().invoke(app, ["keys", "migrate", "--json"])
    assert again.exit_code == 0 and json.loads(again.output) == []

    in_token = make_settings(database_url, **settings_overrides())
    with TestClient(create_app(in_token), raise_server_exceptions=False) as client:
        rt = client.app.state.runtime
        with Session(rt.engine) as session:
            rows = session.exec(select(OperatorKey)).all()
            assert all(r.sealed_private is None for r in rows)
            assert all(r.key_ref for r in rows if r.retired_at is None)
        after = issue(client, acme)
        expected = "#key-2" if rotate else "#key-1"
        assert after["proof"]["verificationMethod"].endswith(expected)
        for vc in [*before, after, issue(client, keyed)]:
            assert verified(client, vc)["verified"] is True
        assert rt.anchor.signer().address == address  # the same account, now in the token
        AnchorWorker(rt.anchor).run_once(force=True)


def test_keys_migrate_needs_a_token(database_url, make_settings, monkeypatch):
    from service.cli import app

    monkeypatch.setenv("DBP_DATABASE_URL", database_url)
    monkeypatch.setenv("DBP_MASTER_KEY", MASTER_KEY)
    monkeypatch.setenv("DBP_KEY_BACKEND", "sealed")
    result = CliRunner().invoke(app, ["keys", "migrate"])
    assert result.exit_code == 1
    assert "set DBP_KEY_BACKEND=pkcs11" in result.output
    monkeypatch.setenv("DBP_KEY_BACKEND", "pkcs11")
    monkeypatch.delenv("DBP_PKCS11_PIN", raising=False)
    result = CliRunner().invoke(app, ["keys", "migrate"])
    assert result.exit_code == 1 and "DBP_PKCS11_PIN" in result.output
