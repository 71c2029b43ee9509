"""The service side of `dbp wallet init --did-method web`: an operator registers a holder's public
key, the instance serves `did:web:{host}:holders:{name}` and resolves it for its own verifier."""

from __future__ import annotations

import pytest
from wallet_testkit import Wallet, one_line_error

from proofs import dataintegrity
from proofs.keys import Ed25519Key

V2 = "https://www.w3.org/ns/credentials/v2"


@pytest.fixture
def acme(operator_token):
    return operator_token("acme")


def register(client, token: str | None, **body):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post("/holders", json=body, headers=headers)


def test_register_and_serve_a_holder_did(app_client, acme):
    key = Ed25519Key.generate()
    r = register(
        app_client, acme["token"], name="recycler", publicKeyMultibase=key.public_multibase
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["did"] == "did:web:testserver:holders:recycler"
    assert body["verificationMethod"] == body["did"] + "#key-1"
    assert r.headers["location"] == "/holders/recycler/did.json"

    r = app_client.get("/holders/recycler/did.json")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/did+json"
    document = r.json()
    assert document == body["didDocument"]
    assert document["id"] == body["did"]
    (vm,) = document["verificationMethod"]
    assert vm == {
        "id": body["verificationMethod"],
        "type": "Multikey",
        "controller": body["did"],
        "publicKeyMultibase": key.public_multibase,
    }
    assert document["authentication"] == [vm["id"]]

    r = app_client.get(
        f"/1.0/identifiers/{body['did']}", headers={"Accept": "application/did+json"}
    )
    assert r.status_code == 200 and r.json() == document


def test_the_instance_verifies_a_presentation_by_the_hosted_did(app_client, acme):
    key = Ed25519Key.generate()
    body = register(
        app_client, acme["token"], name="repairer", publicKeyMultibase=key.public_multibase
    ).json()
    challenge = app_client.post("/challenges").json()
    vp = dataintegrity.create_proof(
        {"@context": [V2], "type": ["VerifiablePresentation"], "holder": body["did"]},
        key,
        body["verificationMethod"],
        proof_purpose="authentication",
        challenge=challenge["challenge"],
        domain=challenge["domain"],
    )
    options = {"challenge": challenge["challenge"], "domain": challenge["domain"]}
    r = app_client.post(
        "/presentations/verify", json={"verifiablePresentation": vp, "options": options}
    )
    assert r.status_code == 200, r.text
    assert r.json()["verified"] is True
    # signed by another key under the same verification method id: refused
    forged = dataintegrity.create_proof(
        {k: v for k, v in vp.items() if k != "proof"},
        Ed25519Key.generate(),
        body["verificationMethod"],
        proof_purpose="authentication",
        challenge=challenge["challenge"],
        domain=challenge["domain"],
    )
    r = app_client.post(
        "/presentations/verify", json={"verifiablePresentation": forged, "options": options}
    )
    assert r.json()["verified"] is False


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"name": "Bad Name", "publicKeyMultibase": Ed25519Key.generate().public_multibase},
         400, "invalid-holder"),
        ({"name": "ok"}, 400, "invalid-holder"),
        ({"name": "ok", "publicKeyMultibase": "z3u2notakey"}, 400, "invalid-holder"),
        ({"name": "ok", "publicKeyMultibase": 5}, 400, "invalid-holder"),
        ({"name": "ok\n", "publicKeyMultibase": Ed25519Key.generate().public_multibase},
         400, "invalid-holder"),
    ],
)  # fmt: skip
def test_bad_registrations_are_problems(app_client, acme, body, status, code):
    r = register(app_client, acme["token"], **body)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("/" + code)
    assert app_client.get("/holders/ok/did.json").status_code == 404


def test_a_name_is_taken_once_and_needs_an_operator(app_client, acme):
    key = Ed25519Key.generate().public_multibase
    assert register(app_client, None, name="x", publicKeyMultibase=key).status_code == 401
    assert register(app_client, "dbp_wrong", name="x", publicKeyMultibase=key).status_code == 401
    assert register(app_client, acme["token"], name="x", publicKeyMultibase=key).status_code == 201
    other = Ed25519Key.generate().public_multibase
    r = register(app_client, acme["token"], name="x", publicKeyMultibase=other)
    assert r.status_code == 409
    assert r.json()["type"].endswith("/holder-exists")
    # the first key stays
    assert (
        app_client.get("/holders/x/did.json").json()["verificationMethod"][0]["publicKeyMultibase"]
        == key
    )
    r = app_client.get("/holders/nobody/did.json")
    assert r.status_code == 404 and r.json()["type"].endswith("/unknown-holder")


def test_wallet_init_web_refused_by_the_service_is_one_line(app_client, tmp_path):
    # No instance listens there: the wallet says so in one line and stores nothing.
    w = Wallet(tmp_path / "w")
    result = w.run(
        "init", "--did-method", "web", "--service", "http://127.0.0.1:9", "--name", "r",
        "--token", "dbp_x",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "cannot reach 127.0.0.1:9" in one_line_error(result)
    assert not (tmp_path / "w" / "wallet.dbpw").exists()
    result = w.run(
        "init", "--did-method", "web", "--service", "http://dbp.example", "--name", "r",
        "--token", "dbp_x",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "refusing plain HTTP to dbp.example" in one_line_error(result)
