"""One JSON, one meaning (issue 13 item 8): wherever a signed document or a presentation enters,
JSON text naming a member twice is refused with 400, because a parser that keeps the first value
would see another issuer than the one verified. Real keys and signatures, both databases."""

from __future__ import annotations

import json

import pytest
from verifier_testkit import V2, Holder

from proofs import jose

DUPLICATE = "https://w3id.org/dbp/problems/duplicate-json-key"


def twice(document: dict, name: str, first_value: str) -> str:
    """`document` as JSON text with `name` given first `first_value`, then its real value; a
    parser keeping the last value (orjson, json) reads the document as signed."""
    text = json.dumps(document)
    assert text.startswith("{")
    return "{" + json.dumps(name) + ": " + json.dumps(first_value) + ", " + text[1:]


def post_text(client, path: str, text: str, **headers):
    return client.post(
        path, content=text.encode(), headers={"Content-Type": "application/json", **headers}
    )


def assert_refused(response, name: str) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == DUPLICATE
    assert repr(name) in problem["detail"]


def signed_credential(holder: Holder) -> dict:
    return holder.sign(
        {
            "@context": [V2, "https://www.w3.org/ns/credentials/examples/v2"],
            "type": ["VerifiableCredential", "ExampleCredential"],
            "issuer": holder.did,
            "validFrom": "2025-01-01T00:00:00Z",
            "credentialSubject": {"id": "did:example:battery-1", "name": "x"},
        }
    )


def test_a_verified_credential_with_a_second_issuer_is_refused(world):
    issuer = Holder.new()
    vc = signed_credential(issuer)
    body = {"verifiableCredential": vc}
    assert post_text(world.client, "/credentials/verify", json.dumps(body)).status_code == 200
    inner = twice(vc, "issuer", "did:example:someone-else")
    r = post_text(world.client, "/credentials/verify", '{"verifiableCredential": ' + inner + "}")
    assert_refused(r, "issuer")


def test_a_presentation_with_a_second_holder_is_refused(world):
    holder = Holder.new()
    vp = holder.present([signed_credential(holder)], "c-1", "example.org")
    body = {"verifiablePresentation": vp, "options": {"challenge": "c-1", "domain": "example.org"}}
    assert post_text(world.client, "/presentations/verify", json.dumps(body)).status_code == 200
    text = twice(vp, "holder", "did:example:someone-else")
    r = post_text(
        world.client,
        "/presentations/verify",
        '{"verifiablePresentation": ' + text + ', "options": {"challenge": "c-1", '
        '"domain": "example.org"}}',
    )
    assert_refused(r, "holder")


def test_an_access_request_with_a_second_holder_is_refused(world):
    recycler = Holder.new()
    role = world.accredit(recycler.did, "recycling")
    nonce, domain = world.challenge()
    vp = recycler.present([role], nonce, domain)
    path = world.b1.item_uri.removeprefix("http://testserver") + "/access"
    text = '{"verifiablePresentation": ' + twice(vp, "holder", "did:example:other") + "}"
    assert_refused(post_text(world.client, path, text), "holder")
    # the same presentation, unambiguous, is accepted: the refusal was the duplicate alone
    assert world.access(world.b1, {"verifiablePresentation": vp}).status_code == 200


def test_issuing_a_credential_with_a_second_issuer_is_refused(world):
    credential = {
        "@context": [V2, "https://www.w3.org/ns/credentials/examples/v2"],
        "type": ["VerifiableCredential", "ExampleCredential"],
        "issuer": world.acme["did"],
        "credentialSubject": {"id": "did:example:battery-1", "name": "x"},
    }
    text = '{"credential": ' + twice(credential, "issuer", "did:example:other") + "}"
    auth = {"Authorization": f"Bearer {world.acme['token']}"}
    assert_refused(post_text(world.client, "/credentials/issue", text, **auth), "issuer")


@pytest.mark.parametrize(
    "path",
    ["/transfers/accept", "/transfers/t-1/complete", "/passports/successors", "/batteries"],
)
def test_transfers_and_registrations_refuse_duplicates(world, path):
    auth = {"Authorization": f"Bearer {world.acme['token']}"}
    text = '{"credential": {"id": "urn:x", "type": "A", "type": "B"}}'
    assert_refused(post_text(world.client, path, text, **auth), "type")


def test_a_vc_jwt_whose_payload_names_the_issuer_twice_does_not_verify(world):
    issuer = Holder.new()
    payload = twice(
        {
            "@context": [V2],
            "type": ["VerifiableCredential"],
            "issuer": issuer.did,
            "credentialSubject": {"id": "did:example:battery-1"},
        },
        "issuer",
        "did:example:someone-else",
    )
    header = {"alg": "EdDSA", "typ": "vc+jwt", "cty": "vc", "kid": issuer.vm}
    token = jose.sign_jws(payload.encode(), issuer.key, header)
    r = world.client.post(
        "/credentials/verify", json={"verifiableCredential": jose.envelope(token)}
    )
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["verified"] is False
    assert any(
        e["type"].endswith("/malformed-jws") and "'issuer' twice" in e["detail"]
        for e in body["errors"]
    ), body
