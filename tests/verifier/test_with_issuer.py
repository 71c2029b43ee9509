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
    r = access(app_client, aggregator, [r.json()["verifiableCredential"]])
    assert r.status_code == 200, r.text
    released = [vc["credentialSubject"]["accessTier"] for vc in r.json()["verifiableCredentials"]]
    assert released == [PUBLIC, LI]
    log = app_client.get("/access-log", headers=auth(acme)).json()["entries"]
    assert [(e["role"], e["outcome"]) for e in log] == [("grant", "released")]
    assert json.dumps(log)  # serialisable as served
