"""VC-API request and response shapes the issuer/verifier suites rely on, over HTTP."""

from __future__ import annotations

import pytest
from conformance_testkit import V2, Signer, with_examples

from proofs import dataintegrity


@pytest.fixture
def acme(operator_token):
    return operator_token("acme")


def issue(client, op, credential, options=None):
    body = {"credential": credential}
    if options is not None:
        body["options"] = options
    return client.post(
        "/credentials/issue", json=body, headers={"Authorization": f"Bearer {op['token']}"}
    )


def test_issue_answers_201_with_the_credential_wrapped(app_client, acme):
    r = issue(app_client, acme, with_examples(acme["did"]), {"credentialId": "urn:ref:1"})
    assert r.status_code == 201, r.text
    assert set(r.json()) == {"verifiableCredential"}
    vc = r.json()["verifiableCredential"]
    assert isinstance(vc["proof"], dict) and vc["proof"]["proofValue"].startswith("z")
    assert "id" not in vc  # credentialId is a reference, not credential.id


@pytest.mark.parametrize(
    "credential",
    [
        {"@context": 4},
        {"@context": [V2, 123]},
        {"type": [None, True]},
        {"issuer": ["did:example:x"]},
        {"credentialSubject": "did:example:1234"},
        {"validFrom": "2024-01-01T00:00:00", "validUntil": "2023-01-01T00:00:00Z"},
    ],
)
def test_invalid_credentials_are_400_problems(app_client, acme, credential):
    r = issue(app_client, acme, {**with_examples(acme["did"]), **credential})
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == "application/problem+json"


def test_foreign_issuer_is_400_not_403(app_client, acme):
    r = issue(app_client, acme, with_examples("https://some-url.example/issuer/foo"))
    assert r.status_code == 400
    assert r.json()["type"].endswith("/issuer-mismatch")


def verify(client, vc, options=None):
    body = {"verifiableCredential": vc}
    if options is not None:
        body["options"] = options
    return client.post("/credentials/verify", json=body)


def test_verify_honours_the_suites_options(app_client, acme):
    vc = issue(app_client, acme, with_examples(acme["did"])).json()["verifiableCredential"]
    ok = verify(app_client, vc, {"checks": ["proof"]})
    assert ok.status_code == 200, ok.text
    assert ok.json()["verified"] is True and ok.json()["problemDetails"] == []
    assert "verifiableCredential" not in ok.json()
    returned = verify(app_client, vc, {"checks": ["proof"], "returnCredential": True})
    assert returned.json()["verifiableCredential"] == vc

    wrong = verify(app_client, vc, {"checks": ["proof"], "expectedProofPurpose": "authentication"})
    assert wrong.status_code == 400
    assert wrong.json()["verified"] is False
    assert wrong.json()["problemDetails"][0]["type"].endswith("/proof-purpose-mismatch")


@pytest.mark.parametrize(
    "options",
    [
        {"checks": "proof"},
        {"checks": [1]},
        {"challenge": 5},
        {"expectedProofPurpose": ["authentication"]},
        {"returnCredential": "yes"},
    ],
)
def test_malformed_verify_options_are_400(app_client, acme, options):
    vc = issue(app_client, acme, with_examples(acme["did"])).json()["verifiableCredential"]
    r = verify(app_client, vc, options)
    assert r.status_code == 400
    assert r.json()["type"].endswith("/invalid-verification-request")


def test_non_conforming_documents_are_errors(app_client):
    doc = {"type": ["NonconformingDocument"]}
    r = verify(app_client, doc)
    assert r.status_code == 400
    assert r.json()["type"].endswith("/verification-failed")
    assert "failed check(s): dataModel" in r.json()["detail"]
    r = app_client.post("/presentations/verify", json={"verifiablePresentation": doc})
    assert r.status_code == 400
    assert r.json()["type"].endswith("/verification-failed")
    assert "the presentation did not verify; failed check(s): dataModel" in r.json()["detail"]


def test_presentation_verify_with_the_suites_options(app_client):
    holder = Signer()
    issuer = Signer()
    vc = dataintegrity.create_proof(with_examples(issuer.did), issuer.key, issuer.vm)
    vp = dataintegrity.create_proof(
        {"@context": [V2], "type": ["VerifiablePresentation"], "verifiableCredential": [vc]},
        holder.key,
        holder.vm,
        proof_purpose="authentication",
        challenge="u-challenge",
        domain="github.com/w3c/vc-data-model-2.0-test-suite",
    )
    for options in ({"checks": []}, {"checks": ["proof"], "challenge": "u-challenge"}):
        r = app_client.post(
            "/presentations/verify", json={"verifiablePresentation": vp, "options": options}
        )
        assert r.status_code == 200, r.text
    r = app_client.post(
        "/presentations/verify",
        json={"verifiablePresentation": vp, "options": {"returnPresentation": True}},
    )
    assert r.json()["verifiablePresentation"] == vp
    r = app_client.post(
        "/presentations/verify",
        json={"verifiablePresentation": vp, "options": {"challenge": "another"}},
    )
    assert r.status_code == 400


def test_options_checks_decide_which_optional_checks_fail(app_client):
    # issue 14 item 3: the verifier suite's valid VC names an issuer other than its signer and
    # asks for ["proof"] only
    signer = Signer()
    vc = dataintegrity.create_proof(
        with_examples("https://vc.example/issuers/5678"), signer.key, signer.vm
    )
    everything = verify(app_client, vc)
    assert everything.status_code == 400
    assert everything.json()["errors"][0]["type"].endswith("/issuer-mismatch")
    assert verify(app_client, vc, {"checks": []}).status_code == 400  # empty: all decide
    proof_only = verify(app_client, vc, {"checks": ["proof"]})
    assert proof_only.status_code == 200, proof_only.text
    warned = {w["type"].rsplit("/", 1)[-1] for w in proof_only.json()["warnings"]}
    assert "issuer-mismatch" in warned
    assert verify(app_client, vc, {"checks": ["proof", "issuer"]}).status_code == 400
    # a broken signature fails whatever the caller asks for
    tampered = {**vc, "credentialSubject": {"id": "did:example:other"}}
    assert verify(app_client, tampered, {"checks": ["proof"]}).status_code == 400
