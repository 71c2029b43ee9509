"""Restricted data end to end with the issuer's real passports (`issuer.views` through the
runtime): registration and tiered issuance over HTTP, then access by role and by grant, with the
passport credentials' own status lists, schemas and trust checked on the way."""

from __future__ import annotations

import json

import pytest
from verifier_testkit import Holder

from vocab.catalogue import Tier
from vocab.examples import load_example

GTIN = "09520123456788"
PUBLIC, LI, LIC, AUTH = (t.value for t in Tier)


def auth(operator: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {operator['token']}"}


@pytest.fixture
def issued(app_client, operator_token):
    acme = operator_token("acme")
    r = app_client.post("/batteries", json={"gtin": GTIN, "serial": "SN-1"}, headers=auth(acme))
    assert r.status_code == 201, r.text
    battery = r.json()
    data = load_example("ev")
    for field in ("batteryIdentifier", "passportId", "passportVersion"):
        data.pop(field)
    r = app_client.post(f"/batteries/{battery['id']}/passport", json=data, headers=auth(acme))
    assert r.status_code == 201, r.text
    return {"acme": acme, "battery": battery, **r.json()}


def challenge(client) -> tuple[str, str]:
    body = client.post("/challenges").json()
    return body["challenge"], body["domain"]


def access(
    client, holder: Holder, credentials: list[dict], path: str = "/01/09520123456788/21/SN-1"
):
    nonce, domain = challenge(client)
    vp = holder.present(credentials, nonce, domain)
    return client.post(path + "/access", json={"verifiablePresentation": vp})


def accredit(client, subject: str, role: str) -> dict:
    from service.db import session_scope
    from verifier.accreditation import role_credential

    rt = client.app.state.runtime
    with session_scope(rt.engine) as session:
        return rt.sign_as_instance(
            session,
            role_credential(issuer=rt.settings.did_web_base, subject=subject, roles=[role]),
        )


def test_recycler_gets_the_issued_tiers(app_client, issued):
    recycler = Holder.new()
    r = access(app_client, recycler, [accredit(app_client, recycler.did, "recycling")])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["battery"] == issued["battery"]["itemUri"]
    released = [vc["credentialSubject"]["accessTier"] for vc in body["verifiableCredentials"]]
    assert released == [PUBLIC, LI, LIC]
    ids = {vc["id"] for vc in issued["verifiableCredentials"]}
    assert {vc["id"] for vc in body["verifiableCredentials"]} <= ids
    for vc in body["verifiableCredentials"]:
        v = app_client.post("/credentials/verify", json={"verifiableCredential": vc}).json()
        assert v["verified"] is True, v["errors"]
        assert {"schema", "trust", "status"} <= set(v["checks"])


def test_authority_via_the_battery_did_service(app_client, issued):
    officer = Holder.new()
    role = accredit(app_client, officer.did, "notified-body")
    r = access(app_client, officer, [role], path=f"/batteries/{issued['battery']['id']}")
    assert r.status_code == 200, r.text
    released = [vc["credentialSubject"]["accessTier"] for vc in r.json()["verifiableCredentials"]]
    assert released == [PUBLIC, LIC, AUTH]


def test_grant_from_the_responsible_operator(app_client, issued):
    acme = issued["acme"]
    aggregator = Holder.new()
    grant = {
        "@context": ["https://www.w3.org/ns/credentials/v2", "https://w3id.org/dbp/v1"],
        "type": ["VerifiableCredential", "AccessGrantCredential"],
        "issuer": acme["did"],
        "credentialSubject": {
            "grantee": aggregator.did,
            "batteries": [issued["battery"]["itemUri"]],
            "tiers": [LI],
            "expiry": "2099-01-01T00:00:00Z",
        },
    }
    r = app_client.post("/credentials/issue", json={"credential": grant}, headers=auth(acme))
    assert r.status_code == 201, r.text
    signed = r.json()["verifiableCredential"]
    # Issue 13 item 5: a grant issued through VC-API gets an id and status entries too.
    assert signed["id"].startswith("urn:uuid:")
    purposes = [e["statusPurpose"] for e in signed["credentialStatus"]]
    assert purposes == ["revocation", "suspension"]
    r = access(app_client, aggregator, [signed])
    assert r.status_code == 200, r.text
    released = [vc["credentialSubject"]["accessTier"] for vc in r.json()["verifiableCredentials"]]
    assert released == [PUBLIC, LI]
    log = app_client.get("/access-log", headers=auth(acme)).json()["entries"]
    assert [(e["role"], e["outcome"]) for e in log] == [("grant", "released")]
    assert json.dumps(log)  # serialisable as served


def set_status(client, operator: dict, credential_id: str, purpose: str, value: bool) -> None:
    body = {
        "credentialId": credential_id,
        "credentialStatus": {"type": "BitstringStatusListEntry", "statusPurpose": purpose},
        "status": value,
    }
    r = client.post("/credentials/status", json=body, headers=auth(operator))
    assert r.status_code == 200, r.text


def test_a_grant_is_suspended_and_revoked_by_its_operator(app_client, issued):
    """Issue 13 item 5: POST /grants signs a grant with revocation and suspension entries;
    GET /grants shows its state; a suspended or revoked grant is refused at /access."""
    acme = issued["acme"]
    aggregator = Holder.new()
    r = app_client.post(
        "/grants",
        json={
            "grantee": aggregator.did,
            "batteries": [issued["battery"]["id"]],
            "tiers": [LI, LI],
            "expiry": "2099-01-01T00:00:00Z",
        },
        headers=auth(acme),
    )
    assert r.status_code == 201, r.text
    grant = r.json()["verifiableCredential"]
    assert grant["credentialSubject"]["batteries"] == [issued["battery"]["itemUri"]]
    assert grant["credentialSubject"]["tiers"] == [LI]
    assert grant["validUntil"] == "2099-01-01T00:00:00Z"

    def state() -> str:
        [row] = app_client.get("/grants", headers=auth(acme)).json()["grants"]
        assert row["id"] == grant["id"] and row["grantee"] == aggregator.did
        return row["state"]

    assert state() == "active"
    assert access(app_client, aggregator, [grant]).status_code == 200

    set_status(app_client, acme, grant["id"], "suspension", True)
    assert state() == "suspended"
    r = access(app_client, aggregator, [grant])
    assert (r.status_code, r.json()["type"].rsplit("/", 1)[-1]) == (403, "credential-suspended")

    set_status(app_client, acme, grant["id"], "suspension", False)
    assert access(app_client, aggregator, [grant]).status_code == 200

    set_status(app_client, acme, grant["id"], "revocation", True)
    assert state() == "revoked"
    r = access(app_client, aggregator, [grant])
    assert (r.status_code, r.json()["type"].rsplit("/", 1)[-1]) == (403, "credential-revoked")
    log = app_client.get("/access-log", headers=auth(acme)).json()["entries"]
    assert [e["outcome"] for e in log][-1] == "refused"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"batteries": ["no-such-battery"]}, "batteries[0]"),
        ({"batteries": []}, "batteries"),
        ({"tiers": ["everything"]}, "tiers.0"),
        ({"expiry": "2001-01-01T00:00:00Z"}, "expiry"),
        ({"grantee": "https://not-a-did.example"}, "grantee"),
        ({"until": "2099-01-01T00:00:00Z"}, "until"),
    ],
)
def test_a_bad_grant_request_names_its_field(app_client, issued, change, field):
    body = {
        "grantee": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
        "batteries": [issued["battery"]["itemUri"]],
        "tiers": [LI],
        "expiry": "2099-01-01T00:00:00Z",
        **change,
    }
    r = app_client.post("/grants", json=body, headers=auth(issued["acme"]))
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field
    assert app_client.get("/grants", headers=auth(issued["acme"])).json()["grants"] == []


def test_another_operators_battery_cannot_be_granted(app_client, issued, operator_token):
    other = operator_token("other")
    body = {
        "grantee": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
        "batteries": [issued["battery"]["itemUri"]],
        "tiers": [LI],
        "expiry": "2099-01-01T00:00:00Z",
    }
    r = app_client.post("/grants", json=body, headers=auth(other))
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["rule"] == "responsible-operator"


def post_event(client, operator: dict, battery_id: str, event: dict) -> dict:
    r = client.post(f"/batteries/{battery_id}/events", json=event, headers=auth(operator))
    assert r.status_code == 201, r.text
    return r.json()["verifiableCredential"]


def test_condition_updates_are_released_with_their_tier(app_client, issued):
    """Issue 13 item 2: event credentials (Annex XIII point 4 readings, status changes) leave
    with the tier the catalogue gives their data (legitimate interest), oldest first, each one
    verifying; readers without that tier get none of them."""
    acme, battery_id = issued["acme"], issued["battery"]["id"]
    first = post_event(app_client, acme, battery_id, {
        "eventType": "condition-update", "occurredAt": "2027-03-01T10:00:00Z",
        "condition": {"stateOfCertifiedEnergy": {"value": 97.5,
                                                 "lastUpdate": "2027-03-01T09:00:00Z"}},
    })  # fmt: skip
    second = post_event(app_client, acme, battery_id, {
        "eventType": "status-change", "occurredAt": "2027-04-01T08:00:00Z",
        "batteryStatus": "re-used",
    })  # fmt: skip

    recycler = Holder.new()
    r = access(app_client, recycler, [accredit(app_client, recycler.did, "recycling")])
    assert r.status_code == 200, r.text
    released = r.json()["verifiableCredentials"]
    events = [vc for vc in released if "BatteryEventCredential" in vc["type"]]
    assert [vc["id"] for vc in events] == [first["id"], second["id"]]
    assert events[0]["credentialSubject"]["condition"]["stateOfCertifiedEnergy"]["value"] == 97.5
    for vc in events:
        v = app_client.post("/credentials/verify", json={"verifiableCredential": vc}).json()
        assert v["verified"] is True, v["errors"]

    # a notified body does not see Annex XIII point 4 (Art 77(2)(b)); nor does a public-only ask
    officer = Holder.new()
    r = access(app_client, officer, [accredit(app_client, officer.did, "notified-body")])
    assert r.status_code == 200, r.text
    assert not [vc for vc in r.json()["verifiableCredentials"] if "BatteryEventCredential" in
                vc["type"]]  # fmt: skip
    nonce, domain = challenge(app_client)
    role = accredit(app_client, recycler.did, "repair")
    r = app_client.post(
        "/01/09520123456788/21/SN-1/access",
        json={"verifiablePresentation": recycler.present([role], nonce, domain), "tiers": [PUBLIC]},
    )
    assert r.status_code == 200, r.text
    assert [vc["credentialSubject"].get("accessTier") for vc in
            r.json()["verifiableCredentials"]] == [PUBLIC]  # fmt: skip
