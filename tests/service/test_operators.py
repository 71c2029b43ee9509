"""Operators: creation, tokens stored hashed, keys sealed at rest, rotation, the CLI."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from issuer import operators
from issuer.errors import InvalidOperatorName, NotAuthenticated, OperatorExists
from issuer.tables import Operator, OperatorKey
from proofs.dataintegrity import create_proof
from proofs.sealing import SealError, unseal
from service.cli import app as cli
from service.db import make_engine, migrate, session_scope
from vocab.datetimes import parse_datetime


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    migrate(engine)
    yield engine
    engine.dispose()


MASTER = b"\x01" * 32


def test_token_is_stored_hashed_and_key_sealed(engine):
    with session_scope(engine) as s:
        op, token = operators.create_operator(
            s, name="acme", did_method="web", did_web_base="did:web:example.com", master_key=MASTER
        )
    with Session(engine) as s:
        row = s.exec(select(Operator).where(Operator.name == "acme")).one()
        assert token not in (row.token_hash or "")
        assert row.token_hash == operators.token_hash(token)
        key = s.exec(select(OperatorKey)).one()
        assert key.id == "did:web:example.com:operators:acme#key-1"
        seed = unseal(MASTER, key.sealed_private, key.id.encode())
        assert len(seed) == 32
        with pytest.raises(SealError):
            unseal(b"\x02" * 32, key.sealed_private, key.id.encode())
        with pytest.raises(SealError):  # a blob moved to another row does not open
            unseal(MASTER, key.sealed_private, b"did:web:example.com:operators:other#key-1")
        assert operators.authenticate(s, token).name == "acme"
        with pytest.raises(NotAuthenticated):
            operators.authenticate(s, token + "x")
        with pytest.raises(NotAuthenticated):
            operators.authenticate(s, None)


@pytest.mark.parametrize("name", ["", "Acme", "a_b", "-x", "x-", "instance", "a" * 64, "acme\n"])
def test_bad_operator_names(engine, name):
    with session_scope(engine) as s, pytest.raises(InvalidOperatorName):
        operators.create_operator(
            s, name=name, did_method="web", did_web_base="did:web:h", master_key=MASTER
        )


def test_duplicate_operator(engine):
    with session_scope(engine) as s:
        operators.create_operator(
            s, name="acme", did_method="web", did_web_base="did:web:h", master_key=MASTER
        )
    with session_scope(engine) as s, pytest.raises(OperatorExists):
        operators.create_operator(
            s, name="acme", did_method="key", did_web_base="did:web:h", master_key=MASTER
        )


def test_key_rotation_keeps_old_credentials_verifiable(app_client, operator_token):
    acme = operator_token("acme")
    cred = {
        "@context": [
            "https://www.w3.org/ns/credentials/v2",
            "https://www.w3.org/ns/credentials/examples/v2",
        ],
        "type": ["VerifiableCredential"],
        "issuer": acme["did"],
        "credentialSubject": {"id": "did:example:b1", "note": "before rotation"},
    }
    headers = {"Authorization": f"Bearer {acme['token']}"}
    old = app_client.post("/credentials/issue", json={"credential": cred}, headers=headers).json()
    rt = app_client.app.state.runtime
    with session_scope(rt.engine) as s:
        operators.rotate_key(s, operators.by_name(s, "acme"), rt.master_key)
    new = app_client.post("/credentials/issue", json={"credential": cred}, headers=headers).json()
    assert old["verifiableCredential"]["proof"]["verificationMethod"].endswith("#key-1")
    assert new["verifiableCredential"]["proof"]["verificationMethod"].endswith("#key-2")
    doc = app_client.get("/operators/acme/did.json").json()
    assert doc["assertionMethod"] == [acme["did"] + "#key-1", acme["did"] + "#key-2"]
    for vc in (old, new):
        r = app_client.post("/credentials/verify", json=vc)
        assert r.status_code == 200, r.text
    [key1, key2] = doc["verificationMethod"]
    assert "revoked" in key1 and "revoked" not in key2
    assert key1["revoked"] > old["verifiableCredential"]["proof"]["created"]


def test_a_retired_key_cannot_sign_after_its_retirement(app_client, operator_token):
    """Whoever still holds the old key cannot make credentials that verify: the DID document
    marks it `revoked` at its retirement and the verifier refuses proofs created after it."""
    acme = operator_token("acme")
    rt = app_client.app.state.runtime
    with session_scope(rt.engine) as s:
        operator = operators.by_name(s, "acme")
        old = operators.signing_key(s, operator, rt.master_key)
        operators.rotate_key(s, operator, rt.master_key)
    [key1, _] = app_client.get("/operators/acme/did.json").json()["verificationMethod"]
    revoked = parse_datetime(key1["revoked"])
    cred = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential"],
        "issuer": acme["did"],
        "credentialSubject": {"id": "did:example:b1"},
    }
    before = create_proof(
        cred, old.key, old.verification_method, created=revoked - timedelta(seconds=5)
    )
    after = create_proof(
        cred, old.key, old.verification_method, created=revoked + timedelta(seconds=1)
    )
    ok = app_client.post("/credentials/verify", json={"verifiableCredential": before})
    assert ok.status_code == 200, ok.text
    refused = app_client.post("/credentials/verify", json={"verifiableCredential": after})
    assert refused.status_code != 200, refused.text
    assert "revoked at " + key1["revoked"] in refused.text


def test_cli_operator_create_json(tmp_path, monkeypatch):
    monkeypatch.setenv("DBP_KEY_BACKEND", "sealed")  # the master key file is the point here
    monkeypatch.setenv("DBP_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DBP_PUBLIC_URL", "https://dpp.example.com")
    monkeypatch.delenv("DBP_DATABASE_URL", raising=False)
    runner = CliRunner()
    result = runner.invoke(cli, ["operator", "create", "--name", "acme", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["did"] == "did:web:dpp.example.com:operators:acme"
    assert out["token"].startswith("dbp_")
    assert (tmp_path / "var" / "master.key").exists()
    assert oct((tmp_path / "var" / "master.key").stat().st_mode & 0o777) == "0o600"
    again = runner.invoke(cli, ["operator", "create", "--name", "acme"])
    assert again.exit_code == 1
    assert "already exists" in again.stderr
    keyed = runner.invoke(
        cli, ["operator", "create", "--name", "k", "--did-method", "key", "--json"]
    )
    assert json.loads(keyed.stdout)["did"].startswith("did:key:z6Mk")
    listed = json.loads(runner.invoke(cli, ["operator", "list", "--json"]).stdout)
    assert [o["name"] for o in listed] == ["acme", "instance", "k"]
