"""Issue 14 item 2: status entries on VC-API issuance (options.credentialStatus, or every
credential with DBP_VC_API_STATUS), status changes through POST /credentials/status and
POST /status-lists/{id}/publish, as the Bitstring Status List suite drives them."""

from __future__ import annotations

import base64
import gzip

import pytest
from fastapi.testclient import TestClient
from issuer_testkit import auth, failed_checks

from vocab import bitstring

V2 = "https://www.w3.org/ns/credentials/v2"


def credential(issuer: str, **extra) -> dict:
    return {
        "@context": [V2],
        "type": ["VerifiableCredential"],
        "issuer": issuer,
        "credentialSubject": {"id": "did:example:subject-1"},
        **extra,
    }


def issue(client: TestClient, operator: dict, cred: dict, options: dict | None = None):
    body = {"credential": cred, **({"options": options} if options is not None else {})}
    return client.post("/credentials/issue", json=body, headers=auth(operator))


def path_of(url: str) -> str:
    return url.removeprefix("http://testserver")


def bit(client: TestClient, entry: dict) -> bool:
    listed = client.get(path_of(entry["statusListCredential"])).json()
    encoded = listed["credentialSubject"]["encodedList"]
    raw = gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))
    index = int(entry["statusListIndex"])
    return bool(raw[index // 8] & (0x80 >> (index % 8)))


def verify(client: TestClient, vc: dict):
    body = {"verifiableCredential": vc, "options": {"checks": ["proof", "credentialStatus"]}}
    return client.post("/credentials/verify", json=body)


def test_status_asked_for_is_added_and_can_be_set_and_published(app_client, acme):
    r = issue(
        app_client,
        acme,
        credential(acme["did"]),
        {"credentialStatus": {"type": bitstring.ENTRY_TYPE}},
    )
    assert r.status_code == 201, r.text
    vc = r.json()["verifiableCredential"]
    # the credential had no id: it gets one, so POST /credentials/status can name it
    assert vc["id"].startswith("urn:uuid:")
    entries = vc["credentialStatus"]
    assert [e["statusPurpose"] for e in entries] == ["revocation", "suspension"]
    for entry in entries:
        assert entry["type"] == "BitstringStatusListEntry"
        assert entry["statusListIndex"] == str(int(entry["statusListIndex"]))
        assert entry["id"] != entry["statusListCredential"]
        listed = app_client.get(path_of(entry["statusListCredential"])).json()
        assert "BitstringStatusListCredential" in listed["type"]
        assert listed["credentialSubject"]["statusPurpose"] == entry["statusPurpose"]
        assert not bit(app_client, entry)
    assert verify(app_client, vc).status_code == 200

    # the suite's request has no `status`: it sets the status
    body = {
        "credentialId": vc["id"],
        "credentialStatus": {"type": bitstring.ENTRY_TYPE, "statusPurpose": "revocation"},
    }
    r = app_client.post("/credentials/status", json=body, headers=auth(acme))
    assert r.status_code == 200, r.text
    published = app_client.post(
        path_of(entries[0]["statusListCredential"]) + "/publish", json={}, headers=auth(acme)
    )
    assert published.status_code == 204
    assert bit(app_client, entries[0]) and not bit(app_client, entries[1])
    assert failed_checks(verify(app_client, vc)) == {"status": "revoked"}


def test_one_purpose_and_the_credential_id_option(app_client, acme):
    options = {
        "credentialStatus": {"type": bitstring.ENTRY_TYPE, "statusPurpose": "suspension"},
        "credentialId": "example.com/7f0c",
    }
    r = issue(app_client, acme, credential(acme["did"]), options)
    assert r.status_code == 201, r.text
    vc = r.json()["verifiableCredential"]
    assert "id" not in vc  # credentialId names it, the credential keeps no id
    assert vc["credentialStatus"]["statusPurpose"] == "suspension"
    body = {
        "credentialId": "example.com/7f0c",
        "credentialStatus": {"type": bitstring.ENTRY_TYPE, "statusPurpose": "suspension"},
        "status": True,
    }
    assert app_client.post("/credentials/status", json=body, headers=auth(acme)).status_code == 200
    assert failed_checks(verify(app_client, vc)) == {"status": "suspended"}


@pytest.mark.parametrize(
    ("options", "cred_extra", "message"),
    [
        ({"credentialStatus": {"type": "StatusList2021Entry"}}, {}, "BitstringStatusListEntry"),
        (
            {"credentialStatus": {"type": bitstring.ENTRY_TYPE, "statusPurpose": "x"}},
            {},
            "statusPurpose",
        ),
        ({"credentialStatus": {"type": bitstring.ENTRY_TYPE, "size": 2}}, {}, "size"),
        ({"credentialStatus": []}, {}, "must not be empty"),
        (
            {"credentialStatus": {"type": bitstring.ENTRY_TYPE}},
            {"credentialStatus": {"id": "https://example.org/s#1", "type": "ExampleStatus"}},
            "already has a credentialStatus",
        ),
    ],
)
def test_bad_status_requests_are_400_and_write_nothing(
    app_client, acme, options, cred_extra, message
):
    r = issue(app_client, acme, credential(acme["did"], **cred_extra), options)
    assert r.status_code == 400, r.text
    assert message in r.json()["detail"]


def test_publish_needs_the_lists_operator(app_client, acme, globex):
    vc = issue(
        app_client,
        acme,
        credential(acme["did"]),
        {"credentialStatus": {"type": bitstring.ENTRY_TYPE}},
    ).json()["verifiableCredential"]
    url = path_of(vc["credentialStatus"][0]["statusListCredential"]) + "/publish"
    assert app_client.post(url, json={}, headers=auth(globex)).status_code == 403
    assert app_client.post(url, json={}).status_code == 401
    assert (
        app_client.post("/status-lists/nope/publish", json={}, headers=auth(acme)).status_code
        == 404
    )


@pytest.fixture
def status_by_default_client(sqlite_url, make_settings):
    from service.app import create_app

    app = create_app(make_settings(sqlite_url, vc_api_status=True))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_configured_issuer_adds_status_without_being_asked(status_by_default_client):
    from issuer import operators
    from service.db import session_scope

    client = status_by_default_client
    rt = client.app.state.runtime
    with session_scope(rt.engine) as session:
        operator, token = operators.create_operator(
            session, name="acme", did_method="key", did_web_base=rt.settings.did_web_base,
            master_key=rt.master_key,
        )  # fmt: skip
        acme = {"did": operator.did, "token": token}
    vc = issue(client, acme, credential(acme["did"])).json()["verifiableCredential"]
    assert [e["statusPurpose"] for e in vc["credentialStatus"]] == ["revocation", "suspension"]
    # a credential that brings its own status keeps it, and VC 1.1 gets none
    own = {"id": "https://example.org/s#1", "type": "ExampleStatus"}
    cred = credential(acme["did"], credentialStatus=own)
    cred["@context"] = [V2, "https://www.w3.org/ns/credentials/examples/v2"]
    r = issue(client, acme, cred)
    assert r.status_code == 201, r.text
    assert r.json()["verifiableCredential"]["credentialStatus"] == own
    v11 = {
        "@context": ["https://www.w3.org/2018/credentials/v1"],
        "type": ["VerifiableCredential"],
        "issuer": acme["did"],
        "issuanceDate": "2024-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:subject-1"},
    }
    r = issue(client, acme, v11)
    assert r.status_code == 201, r.text
    assert "credentialStatus" not in r.json()["verifiableCredential"]
