"""Battery DID documents and `GET /1.0/identifiers/{did}` (W3C DID Resolution HTTP binding), on
SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from resolver_testkit import register_battery

from proofs.didkey import did_key
from proofs.keys import Ed25519Key

RESULT = "application/did-resolution"


@pytest.fixture
def acme(operator_token):
    return operator_token("acme")


@pytest.fixture
def battery(app_client, acme):
    return register_battery(app_client.app.state.runtime, acme["did"], "SN-D1")


def test_battery_did_document(app_client, acme, battery):
    r = app_client.get(f"/batteries/{battery['id']}/did.json")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/did+json"
    doc = r.json()
    assert doc["id"] == battery["did"] == f"did:web:testserver:batteries:{battery['id']}"
    assert doc["controller"] == acme["did"]
    assert doc["alsoKnownAs"] == [battery["uri"]]
    passport = next(s for s in doc["service"] if s["type"] == "BatteryPassport")
    assert passport == {
        "id": battery["did"] + "#passport",
        "type": "BatteryPassport",
        "serviceEndpoint": battery["uri"],
    }
    linkset = next(s for s in doc["service"] if s["id"].endswith("#linkset"))
    assert linkset["serviceEndpoint"] == battery["uri"] + "?linkType=linkset"
    restricted = next(s for s in doc["service"] if s["type"] == "BatteryPassportRestrictedData")
    assert restricted == {
        "id": battery["did"] + "#restricted-data",
        "type": "BatteryPassportRestrictedData",
        "serviceEndpoint": battery["uri"] + "/access",
    }
    tag = r.headers["etag"]
    again = app_client.get(f"/batteries/{battery['id']}/did.json", headers={"If-None-Match": tag})
    assert again.status_code == 304


def test_unknown_battery_did_document_is_404(app_client):
    r = app_client.get("/batteries/no-such-battery/did.json")
    assert r.status_code == 404
    assert r.json()["type"].endswith("/unknown-battery")


def test_resolve_battery_did(app_client, acme, battery):
    r = app_client.get(f"/1.0/identifiers/{battery['did']}")
    assert r.status_code == 200
    assert r.headers["content-type"] == RESULT
    body = r.json()
    assert body["@context"] == "https://w3id.org/did-resolution/v1"
    assert body["didDocument"]["controller"] == acme["did"]
    assert body["didResolutionMetadata"]["contentType"] == "application/did+ld+json"
    assert body["didDocumentMetadata"] == {}
    assert r.headers["etag"].startswith('W/"')
    cached = app_client.get(
        f"/1.0/identifiers/{battery['did']}", headers={"If-None-Match": r.headers["etag"]}
    )
    assert cached.status_code == 304


def test_resolve_operator_did_web_and_did_key(app_client, acme):
    r = app_client.get(f"/1.0/identifiers/{acme['did']}")
    assert r.status_code == 200
    assert r.json()["didDocument"]["assertionMethod"] == [acme["did"] + "#key-1"]
    key_did = did_key(Ed25519Key.generate().public)
    r = app_client.get(f"/1.0/identifiers/{key_did}")
    assert r.status_code == 200
    assert r.json()["didDocument"]["id"] == key_did
    instance = app_client.get("/1.0/identifiers/did:web:testserver").json()
    assert instance["didDocument"]["id"] == "did:web:testserver"


@pytest.mark.parametrize(
    ("accept", "media_type", "whole"),
    [
        (None, RESULT, True),
        ("*/*", RESULT, True),
        (RESULT, RESULT, True),
        (
            'application/ld+json;profile="https://w3id.org/did-resolution"',
            'application/ld+json;profile="https://w3id.org/did-resolution"',
            True,
        ),
        ("application/json", "application/json", True),
        ("application/did+ld+json", "application/did+ld+json", False),
        ("application/did+json", "application/did+json", False),
        ("application/did", "application/did", False),
    ],
)
def test_representations(app_client, battery, accept, media_type, whole):
    headers = {"Accept": accept} if accept else {}
    r = app_client.get(f"/1.0/identifiers/{battery['did']}", headers=headers)
    assert r.status_code == 200
    assert r.headers["content-type"] == media_type
    body = r.json()
    assert ("didDocument" in body) is whole
    assert (body["didDocument"] if whole else body)["id"] == battery["did"]


def test_percent_encoded_did_in_path(app_client, battery):
    encoded = battery["did"].replace(":", "%3A")
    r = app_client.get(f"/1.0/identifiers/{encoded}")
    assert r.status_code == 200
    assert r.json()["didDocument"]["id"] == battery["did"]


@pytest.mark.parametrize(
    ("did", "status", "error"),
    [
        ("not-a-did", 400, "invalidDid"),
        ("did:key:zNotAKey", 400, "invalidDid"),
        ("did:web:a%2Fb", 400, "invalidDid"),
        ("did:web:testserver:batteries:unknown", 404, "notFound"),
        ("did:web:testserver:operators:nobody", 404, "notFound"),
        ("did:web:elsewhere.example:operators:x", 403, "didWebHostNotAllowed"),
        ("did:ethr:0xb9c5714089478a327f09197987f16f9e5d936e8a", 501, "methodNotSupported"),
    ],
)
def test_resolution_errors(app_client, did, status, error):
    r = app_client.get(f"/1.0/identifiers/{did}")
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == RESULT
    body = r.json()
    assert body["didDocument"] is None
    assert body["didResolutionMetadata"]["error"] == error
    assert body["didResolutionMetadata"]["errorMessage"]


def test_unsupported_representation_is_406(app_client, battery):
    r = app_client.get(f"/1.0/identifiers/{battery['did']}", headers={"Accept": "text/html"})
    assert r.status_code == 406
    assert r.json()["didResolutionMetadata"]["error"] == "representationNotSupported"


def test_verification_resolves_battery_dids_locally(app_client, battery):
    """The runtime's own DID resolver (the one proofs use) knows battery DIDs."""
    from sqlmodel import Session

    runtime = app_client.app.state.runtime
    with Session(runtime.engine) as session:
        resolved = runtime.resolver(session).resolve(battery["did"])
    assert resolved.document["service"][0]["serviceEndpoint"] == battery["uri"]
