"""VC-API issue/verify end to end over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import copy
import json

import pytest

from proofs import dataintegrity, jose
from proofs.didkey import did_key, did_key_verification_method_id
from proofs.errors import UndefinedTerm
from proofs.keys import Ed25519Key

V2 = "https://www.w3.org/ns/credentials/v2"
EXAMPLES = "https://www.w3.org/ns/credentials/examples/v2"


def credential(issuer: str, **extra) -> dict:
    return {
        "@context": [V2, EXAMPLES],
        "id": "urn:uuid:3978344f-8596-4c3a-a978-8fcaba3903c5",
        "type": ["VerifiableCredential", "ExampleBatteryCredential"],
        "issuer": issuer,
        "validFrom": "2025-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:battery-1", "stateOfHealth": 97},
        **extra,
    }


def issue(client, op, cred, **options):
    body = {"credential": cred}
    if options:
        body["options"] = options
    return client.post(
        "/credentials/issue", json=body, headers={"Authorization": f"Bearer {op['token']}"}
    )


def verify(client, vc):
    return client.post("/credentials/verify", json={"verifiableCredential": vc})


def failed(response) -> dict[str, str]:
    """{check name: problem code} for every failed check in a 400 verification answer."""
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["verified"] is False
    return {e["check"]: e["type"].rsplit("/", 1)[-1] for e in body["errors"]}


@pytest.fixture
def acme(operator_token):
    return operator_token("acme")


@pytest.mark.parametrize("cryptosuite", ["eddsa-rdfc-2022", "eddsa-jcs-2022"])
def test_issue_then_verify(app_client, acme, cryptosuite):
    r = issue(app_client, acme, credential(acme["did"]), cryptosuite=cryptosuite)
    assert r.status_code == 201, r.text
    vc = r.json()["verifiableCredential"]
    assert vc["proof"]["type"] == "DataIntegrityProof"
    assert vc["proof"]["cryptosuite"] == cryptosuite
    assert vc["proof"]["verificationMethod"] == acme["did"] + "#key-1"
    assert vc["proof"]["proofPurpose"] == "assertionMethod"
    assert vc["proof"]["proofValue"].startswith("z")
    r = verify(app_client, vc)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["verified"] is True
    assert {"dataModel", "proof", "issuer", "validity"} <= set(body["checks"])
    assert body["errors"] == []


def test_default_cryptosuite_is_rdfc(app_client, acme):
    vc = issue(app_client, acme, credential(acme["did"])).json()["verifiableCredential"]
    assert vc["proof"]["cryptosuite"] == "eddsa-rdfc-2022"


def test_issue_vc_jwt_enveloped(app_client, acme):
    r = issue(app_client, acme, credential(acme["did"]), format="vc+jwt")
    assert r.status_code == 201, r.text
    vc = r.json()["verifiableCredential"]
    assert vc["type"] == "EnvelopedVerifiableCredential"
    assert vc["id"].startswith("data:application/vc+jwt,")
    token = vc["id"].split(",", 1)[1]
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["alg"] == "EdDSA" and header["typ"] == "vc+jwt"
    assert header["kid"] == acme["did"] + "#key-1"
    r = verify(app_client, vc)
    assert r.status_code == 200, r.text
    assert r.json()["verified"] is True


def test_did_key_operator_issues(app_client, operator_token):
    op = operator_token("keyed", did_method="key")
    assert op["did"].startswith("did:key:z6Mk")
    vc = issue(app_client, op, credential(op["did"])).json()["verifiableCredential"]
    assert verify(app_client, vc).status_code == 200


def test_did_documents_served(app_client, acme):
    r = app_client.get("/operators/acme/did.json")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/did+json")
    doc = r.json()
    assert doc["id"] == acme["did"] == "did:web:testserver:operators:acme"
    assert doc["assertionMethod"] == [acme["did"] + "#key-1"]
    assert doc["verificationMethod"][0]["type"] == "Multikey"
    root = app_client.get("/.well-known/did.json").json()
    assert root["id"] == "did:web:testserver"
    assert app_client.get("/operators/nobody/did.json").status_code == 404


# --- tampering: each rejected with its own reason -------------------------------------------


@pytest.fixture
def signed(app_client, acme):
    return issue(app_client, acme, credential(acme["did"])).json()["verifiableCredential"]


def test_changed_subject_value(app_client, signed):
    vc = copy.deepcopy(signed)
    vc["credentialSubject"]["stateOfHealth"] = 99
    assert failed(verify(app_client, vc)) == {"proof": "invalid-signature"}


def test_changed_issuer(app_client, signed, operator_token):
    other = operator_token("other")
    vc = copy.deepcopy(signed)
    vc["issuer"] = other["did"]
    assert "proof" in failed(verify(app_client, vc))


def test_removed_proof(app_client, signed):
    vc = copy.deepcopy(signed)
    del vc["proof"]
    assert failed(verify(app_client, vc)) == {"proof": "missing-proof"}


def test_altered_proof_value(app_client, signed):
    vc = copy.deepcopy(signed)
    value = vc["proof"]["proofValue"]
    vc["proof"]["proofValue"] = value[:-3] + ("abc" if value[-3:] != "abc" else "abd")
    assert failed(verify(app_client, vc)) == {"proof": "invalid-signature"}


def test_wrong_key(app_client, acme, operator_token):
    """Signed by another key but claiming the issuer's verification method."""
    operator_token("mallory")
    intruder = Ed25519Key.generate()
    vc = dataintegrity.create_proof(credential(acme["did"]), intruder, acme["did"] + "#key-1")
    assert failed(verify(app_client, vc)) == {"proof": "invalid-signature"}


def test_signed_by_someone_else(app_client, acme):
    """A valid proof, but by a key that is not the issuer's."""
    key = Ed25519Key.generate()
    did = did_key(key.public)
    vc = dataintegrity.create_proof(
        credential(acme["did"]), key, did_key_verification_method_id(did)
    )
    assert failed(verify(app_client, vc)) == {"issuer": "issuer-mismatch"}


def test_valid_until_in_the_past(app_client, acme):
    vc = issue(app_client, acme, credential(acme["did"], validUntil="2025-06-01T00:00:00Z")).json()
    assert failed(verify(app_client, vc["verifiableCredential"])) == {"validity": "expired"}


def test_valid_from_in_the_future(app_client, acme):
    cred = credential(acme["did"], validFrom="2999-01-01T00:00:00Z")
    vc = issue(app_client, acme, cred).json()["verifiableCredential"]
    assert failed(verify(app_client, vc)) == {"validity": "not-yet-valid"}


def test_undefined_term_refused_at_issuance(app_client, acme):
    cred = credential(acme["did"])
    cred["@context"] = [V2]
    r = issue(app_client, acme, cred)
    assert r.status_code == 400
    assert r.json()["type"].endswith("/undefined-term")
    assert "stateOfHealth" in r.json()["detail"]


def test_undefined_term_refused_at_verification(app_client, acme):
    key = Ed25519Key.generate()
    did = did_key(key.public)
    cred = credential(did)
    cred["@context"] = [V2]
    with pytest.raises(UndefinedTerm):  # our own signer refuses too
        dataintegrity.create_proof(cred, key, did_key_verification_method_id(did))
    good = dataintegrity.create_proof(credential(did), key, did_key_verification_method_id(did))
    good["@context"] = [V2]  # now stateOfHealth is defined by nothing
    assert failed(verify(app_client, good)) == {"proof": "undefined-term"}


def test_unknown_context_url(app_client, acme, signed):
    cred = credential(acme["did"])
    cred["@context"].append("https://evil.example/context.jsonld")
    r = issue(app_client, acme, cred)
    assert r.status_code == 400
    assert r.json()["type"].endswith("/context-not-allowed")
    assert "https://evil.example/context.jsonld" in r.json()["detail"]
    vc = copy.deepcopy(signed)
    vc["@context"].append("https://evil.example/context.jsonld")
    assert failed(verify(app_client, vc)) == {"proof": "context-not-allowed"}


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_jwt_alg_none(app_client, acme):
    token = _b64({"alg": "none", "typ": "vc+jwt"}) + "." + _b64(credential(acme["did"])) + "."
    vc = jose.envelope(token, "vc+jwt")
    assert failed(verify(app_client, vc)) == {"proof": "algorithm-not-allowed"}


def test_jwt_kid_names_another_key(app_client, acme, operator_token):
    other = operator_token("other")
    key = Ed25519Key.generate()
    token = jose.sign_jwt(credential(acme["did"]), key, other["did"] + "#key-1")
    assert failed(verify(app_client, jose.envelope(token, "vc+jwt"))) == {"proof": "kid-mismatch"}


def test_jwt_tampered_payload(app_client, acme):
    vc = issue(app_client, acme, credential(acme["did"]), format="vc+jwt").json()[
        "verifiableCredential"
    ]
    token = vc["id"].split(",", 1)[1]
    header, _payload, signature = token.split(".")
    forged = credential(acme["did"])
    forged["credentialSubject"]["stateOfHealth"] = 10
    vc["id"] = "data:application/vc+jwt," + ".".join([header, _b64(forged), signature])
    assert failed(verify(app_client, vc)) == {"proof": "invalid-signature"}


# --- authorisation and malformed requests ---------------------------------------------------


def test_issue_requires_token(app_client, acme):
    r = app_client.post("/credentials/issue", json={"credential": credential(acme["did"])})
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    r = issue(app_client, {"token": "dbp_wrong"}, credential(acme["did"]))
    assert r.status_code == 401


def test_issue_for_another_issuer_is_refused(app_client, acme, operator_token):
    # VC-API: an issuer that does not match the configuration is a 400, not a 403
    other = operator_token("other")
    r = issue(app_client, acme, credential(other["did"]))
    assert r.status_code == 400
    assert r.json()["type"].endswith("/issuer-mismatch")


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b"{not json", "application/json", 400, "malformed-body"),
        (b"[1, 2]", "application/json", 400, "malformed-body"),
        (b"", "application/json", 400, "malformed-body"),
        (b'{"credential": 5}', "application/json", 400, "invalid-credential"),
        (b'{"nothing": 1}', "application/json", 400, "invalid-credential"),
        (b"credential=1", "application/x-www-form-urlencoded", 415, "unsupported-media-type"),
    ],
)
def test_malformed_issue_requests(app_client, acme, body, content_type, status, code):
    r = app_client.post(
        "/credentials/issue",
        content=body,
        headers={"Authorization": f"Bearer {acme['token']}", "Content-Type": content_type},
    )
    assert r.status_code == status, r.text
    assert r.json()["type"].endswith("/" + code)


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda c: c.pop("@context"), "@context"),
        (lambda c: c.update({"@context": ["https://example.org/x"]}), "@context[0]"),
        (lambda c: c.pop("type"), "type"),
        (lambda c: c.update({"type": ["ExampleBatteryCredential"]}), "type"),
        (lambda c: c.pop("credentialSubject"), "credentialSubject"),
        (lambda c: c.update({"credentialSubject": {}}), "credentialSubject"),
        (lambda c: c.update({"id": "not a url"}), "id"),
        (lambda c: c.update({"validFrom": "yesterday"}), "validFrom"),
        (lambda c: c.update({"validUntil": "2025-01-01T00:00:00"}), "validUntil"),
        (
            lambda c: c.update({"credentialStatus": {"id": "https://x.example/1"}}),
            "credentialStatus.type",
        ),
    ],
)
def test_malformed_credentials_name_the_path(app_client, acme, mutate, path):
    cred = credential(acme["did"])
    mutate(cred)
    r = issue(app_client, acme, cred)
    assert r.status_code == 400, r.text
    assert r.json()["type"].endswith("/malformed-credential")
    assert r.json()["detail"].startswith(path + ":")


@pytest.mark.parametrize(
    "options",
    [{"cryptosuite": "ecdsa-rdfc-2019"}, {"format": "cbor"}, {"unknownOption": True}, "x"],
)
def test_bad_issue_options(app_client, acme, options):
    r = app_client.post(
        "/credentials/issue",
        json={"credential": credential(acme["did"]), "options": options},
        headers={"Authorization": f"Bearer {acme['token']}"},
    )
    assert r.status_code == 400
    assert r.json()["type"].endswith("/invalid-credential")


def test_body_too_large(app_client, acme, make_settings):
    huge = {"credential": credential(acme["did"], description="x" * 2_000_000)}
    r = issue(app_client, acme, huge["credential"])
    assert r.status_code == 413
    assert r.json()["type"].endswith("/body-too-large")


def test_body_too_large_without_content_length(app_client, acme):
    def chunks():
        for _ in range(40):
            yield b"x" * 65536

    r = app_client.post(
        "/credentials/verify", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 413


@pytest.mark.parametrize(
    ("body", "problem", "detail"),
    [
        ({}, "invalid-verification-request", "must hold verifiableCredential"),
        ({"verifiableCredential": 5}, "verification-failed", "failed check(s): dataModel"),
        ({"verifiableCredential": []}, "verification-failed", "failed check(s): dataModel"),
        (
            {"verifiableCredential": {"type": "EnvelopedVerifiableCredential", "id": "data:,x"}},
            "verification-failed",
            "failed check(s): proof",
        ),
        (
            {"verifiableCredential": {"@context": V2}, "options": 5},
            "invalid-verification-request",
            "options must be a JSON object",
        ),
    ],
)
def test_malformed_verify_requests_are_4xx(app_client, body, problem, detail):
    r = app_client.post("/credentials/verify", json=body)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"] == f"https://w3id.org/dbp/problems/{problem}"
    assert detail in r.json()["detail"]


def test_unknown_route_is_a_problem(app_client):
    r = app_client.get("/nowhere")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"


# --- presentations ----------------------------------------------------------------------------


def _holder():
    key = Ed25519Key.generate()
    did = did_key(key.public)
    return key, did, did_key_verification_method_id(did)


def _presentation(holder_did: str, vcs: list[dict]) -> dict:
    return {
        "@context": [V2],
        "type": ["VerifiablePresentation"],
        "holder": holder_did,
        "verifiableCredential": vcs,
    }


def test_presentation_verifies_with_challenge(app_client, signed):
    key, did, vm = _holder()
    vp = dataintegrity.create_proof(
        _presentation(did, [signed]),
        key,
        vm,
        proof_purpose="authentication",
        challenge="c-123",
        domain="dbp.example",
    )
    r = app_client.post(
        "/presentations/verify",
        json={
            "verifiablePresentation": vp,
            "options": {"challenge": "c-123", "domain": "dbp.example"},
        },
    )
    assert r.status_code == 200, r.text
    checks = r.json()["checks"]
    assert "proof" in checks and "verifiableCredential[0].proof" in checks


def test_presentation_wrong_challenge_and_domain(app_client, signed):
    key, did, vm = _holder()
    vp = dataintegrity.create_proof(
        _presentation(did, [signed]),
        key,
        vm,
        proof_purpose="authentication",
        challenge="c-123",
        domain="dbp.example",
    )
    r = app_client.post(
        "/presentations/verify",
        json={
            "verifiablePresentation": vp,
            "options": {"challenge": "c-999", "domain": "dbp.example"},
        },
    )
    assert failed(r) == {"proof": "challenge-mismatch"}
    r = app_client.post(
        "/presentations/verify",
        json={
            "verifiablePresentation": vp,
            "options": {"challenge": "c-123", "domain": "evil.example"},
        },
    )
    assert failed(r) == {"proof": "domain-mismatch"}


def test_presentation_with_tampered_credential(app_client, signed):
    key, did, vm = _holder()
    tampered = copy.deepcopy(signed)
    tampered["credentialSubject"]["stateOfHealth"] = 100
    vp = dataintegrity.create_proof(
        _presentation(did, [tampered]), key, vm, proof_purpose="authentication", challenge="c"
    )
    r = app_client.post(
        "/presentations/verify", json={"verifiablePresentation": vp, "options": {"challenge": "c"}}
    )
    assert failed(r) == {"verifiableCredential[0].proof": "invalid-signature"}


def test_presentation_signed_by_someone_else_than_holder(app_client, signed):
    key, _did, vm = _holder()
    _k2, other_did, _vm2 = _holder()
    vp = dataintegrity.create_proof(
        _presentation(other_did, [signed]), key, vm, proof_purpose="authentication", challenge="c"
    )
    r = app_client.post(
        "/presentations/verify", json={"verifiablePresentation": vp, "options": {"challenge": "c"}}
    )
    assert failed(r) == {"holder": "holder-mismatch"}
