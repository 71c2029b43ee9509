"""Passport issuance: one credential per tier, exactly the tier's fields, versions, bad input."""

from __future__ import annotations

import copy

import pytest
from issuer_testkit import auth, issue, issued, passport, registered, verify
from sqlmodel import Session, func, select
from vocab_testkit import every_attribute_passport

from anchor.tables import AnchorLeaf
from issuer import views
from issuer.tables import Battery, IssuedCredential, Passport, StatusEntry
from resolver.tables import BatteryRoute
from vocab.catalogue import Tier, load_catalogue
from vocab.context import CREDENTIAL_CONTEXTS
from vocab.paths import resolve
from vocab.schemas import credential_schema
from vocab.tiers import credential_type


def _by_tier(credentials: list[dict]) -> dict[Tier, dict]:
    return {Tier(c["credentialSubject"]["accessTier"]): c for c in credentials}


def test_issue_one_verifiable_credential_per_tier(app_client, acme):
    result = issued(app_client, acme)
    battery = result["battery"]
    assert result["passportId"] == battery["passportId"]
    assert result["version"] == 1
    credentials = _by_tier(result["verifiableCredentials"])
    assert set(credentials) == set(Tier)
    ids = set()
    for tier, vc in credentials.items():
        assert vc["@context"] == list(CREDENTIAL_CONTEXTS)
        assert vc["type"] == [
            "VerifiableCredential",
            "BatteryPassportCredential",
            credential_type(tier),
        ]
        assert vc["id"].startswith("urn:uuid:")
        ids.add(vc["id"])
        assert vc["issuer"] == acme["did"]
        assert vc["credentialSubject"]["id"] == battery["did"]
        assert vc["credentialSubject"]["batteryIdentifier"] == battery["itemUri"]
        assert vc["credentialSubject"]["passportVersion"] == 1
        assert vc["credentialSchema"] == credential_schema(tier)
        assert vc["proof"]["cryptosuite"] == "eddsa-rdfc-2022"
        assert vc["proof"]["verificationMethod"] == acme["did"] + "#key-1"
        statuses = vc["credentialStatus"]
        assert [s["statusPurpose"] for s in statuses] == ["revocation", "suspension"]
        for s in statuses:
            assert set(s) == {
                "id",
                "type",
                "statusPurpose",
                "statusListIndex",
                "statusListCredential",
            }
            assert s["type"] == "BitstringStatusListEntry"
            assert s["statusListIndex"].isdigit()
            assert s["statusListCredential"].startswith("http://testserver/status-lists/")
            assert s["id"] == f"{s['statusListCredential']}#{s['statusListIndex']}"
        r = verify(app_client, vc)
        assert r.status_code == 200, r.text
        assert "status" in r.json()["checks"]
    assert len(ids) == 4
    with Session(app_client.app.state.runtime.engine) as s:  # queued for anchoring, same commit
        leaves = s.exec(select(AnchorLeaf)).all()
    assert {leaf.credential_id for leaf in leaves} == ids
    assert {leaf.kind for leaf in leaves} == {"credential"}


def _check_tiers_hold_exactly_their_fields(data: dict, credentials: dict[Tier, dict]) -> int:
    public = credentials[Tier.PUBLIC]["credentialSubject"]
    data = {
        **data,
        **{k: public[k] for k in ("batteryIdentifier", "passportId", "passportVersion")},
    }
    catalogue = load_catalogue()
    header = {h.text for h in catalogue.header}
    checked = 0
    for attribute in catalogue.attributes:
        for path in attribute.paths:
            expected = [value for _, value in resolve(data, path)]
            if not expected:
                continue
            for tier, vc in credentials.items():
                found = [value for _, value in resolve(vc["credentialSubject"], path)]
                if tier is attribute.tier or path.text in header:
                    assert found == expected, f"attribute {attribute.number} missing from {tier}"
                else:
                    assert found == [], f"attribute {attribute.number} ({path}) leaked to {tier}"
        checked += 1 if any(resolve(data, p) for p in attribute.paths) else 0
    return checked


def test_each_tier_holds_exactly_its_catalogue_fields(app_client, acme):
    data = passport("ev")
    data["general"]["operator"]["identifier"] = acme["did"]  # the signer (issue 13 item 1)
    result = issued(app_client, acme, data=data)
    credentials = _by_tier(result["verifiableCredentials"])
    assert _check_tiers_hold_exactly_their_fields(data, credentials) == 80


def test_all_93_attributes_land_in_their_tier(app_client, acme):
    data = every_attribute_passport()
    for field in ("batteryIdentifier", "passportId", "passportVersion"):
        data.pop(field)
    # a predecessor must be a passport that exists here (of a battery acme is responsible for)
    data["predecessor"] = [issued(app_client, acme, "SN-OLD")["passportId"]]
    data["general"]["operator"]["identifier"] = acme["did"]  # the signer (issue 13 item 1)
    result = issued(app_client, acme, data=data)
    credentials = _by_tier(result["verifiableCredentials"])
    assert _check_tiers_hold_exactly_their_fields(data, credentials) == 93
    for vc in credentials.values():
        assert verify(app_client, vc).status_code == 200


def test_reissue_supersedes_and_keeps_history(app_client, acme):
    first = issued(app_client, acme)
    battery_id = first["battery"]["id"]
    changed = passport()
    changed["general"]["warrantyPeriod"] = "P10Y"
    second = issue(app_client, acme, battery_id, changed)
    assert second.status_code == 201, second.text
    assert second.json()["version"] == 2
    assert second.json()["passportId"] == first["passportId"]
    with Session(app_client.app.state.runtime.engine) as s:
        versions = s.exec(select(Passport).order_by(Passport.version)).all()
        assert [(v.version, v.state) for v in versions] == [(1, "superseded"), (2, "active")]
        assert versions[0].superseded_at is not None
        assert s.exec(select(func.count()).select_from(IssuedCredential)).one() == 8
        view = views.battery_by_id(s, battery_id)
        assert (view.passport_version, view.passport_state) == (2, "active")
        public = views.public_credentials(s, battery_id)
        assert [c["credentialSubject"]["general"]["warrantyPeriod"] for c in public] == ["P10Y"]
        history = views.passport_history(s, battery_id)
    assert [(h["version"], h["event"]) for h in history] == [
        (1, "created"),
        (1, "superseded"),
        (2, "created"),
    ]
    assert all(h["actor"] == acme["did"] for h in history)
    # superseded is history, not revocation: the old credentials still verify
    for vc in first["verifiableCredentials"]:
        assert verify(app_client, vc).status_code == 200


def test_version_is_assigned_by_the_service(app_client, acme):
    battery = registered(app_client, acme)
    data = passport()
    data["passportVersion"] = 3
    r = issue(app_client, acme, battery["id"], data)
    assert r.status_code == 409
    assert r.json()["field"] == "passportVersion"
    data["passportVersion"] = 1
    assert issue(app_client, acme, battery["id"], data).status_code == 201


@pytest.mark.parametrize("field", ["batteryIdentifier", "passportId"])
def test_identifiers_must_match_the_battery(app_client, acme, field):
    battery = registered(app_client, acme)
    data = passport()
    data[field] = {
        "batteryIdentifier": "http://testserver/01/09520123456788/21/OTHER",
        "passportId": "urn:uuid:550e8400-e29b-41d4-a716-446655440000",
    }[field]
    r = issue(app_client, acme, battery["id"], data)
    assert r.status_code == 422
    assert r.json()["field"] == field
    assert r.json()["errors"][0]["path"] == field


def _rows(app_client) -> dict[str, int]:
    with Session(app_client.app.state.runtime.engine) as s:
        return {
            t.__name__: s.exec(select(func.count()).select_from(t)).one()
            for t in (Battery, Passport, IssuedCredential, StatusEntry, BatteryRoute, AnchorLeaf)
        }


def _broken(kind: str) -> dict:
    data = passport("ev")
    if kind == "mandatory":
        del data["general"]["manufacturingPlace"]
    elif kind == "negative-stage":
        data["carbonFootprint"]["lifecycleStages"][1]["value"] = -0.5
    elif kind == "stage-unit":
        data["carbonFootprint"]["lifecycleStages"][2]["unit"] = "%"
    elif kind == "unknown-field":
        data["general"]["colour"] = "red"
    return data


@pytest.mark.parametrize(
    ("kind", "path", "rule"),
    [
        ("mandatory", "general.manufacturingPlace", "mandatory"),
        ("negative-stage", "carbonFootprint.lifecycleStages[1].value", "non-negative"),
        ("stage-unit", "carbonFootprint.lifecycleStages[2].unit", "unit"),
        ("unknown-field", "general.colour", "unknown-field"),
    ],
)
def test_bad_passports_name_the_field_and_write_nothing(app_client, acme, kind, path, rule):
    battery = registered(app_client, acme)
    before = _rows(app_client)
    r = issue(app_client, acme, battery["id"], _broken(kind))
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["errors"][0]["path"] == path
    assert problem["errors"][0]["rule"] == rule
    assert problem["detail"].startswith(path)
    assert _rows(app_client) == before


def test_lmt_passport_missing_an_lmt_mandatory_attribute(app_client, acme):
    battery = registered(app_client, acme)
    data = passport("lmt")
    assert issue(app_client, acme, battery["id"], copy.deepcopy(data)).status_code == 201
    del data["general"]["batteryMass"]
    r = issue(app_client, acme, battery["id"], data)
    assert r.status_code == 422
    assert r.json()["errors"][0]["path"] == "general.batteryMass"
    assert "lmt" in r.json()["errors"][0]["message"]


def test_only_the_responsible_operator_issues(app_client, acme, globex):
    battery = registered(app_client, acme)
    r = issue(app_client, globex, battery["id"])
    assert r.status_code == 403
    assert r.json()["field"] == "operator"
    assert acme["did"] in r.json()["detail"]
    assert issue(app_client, acme, "no-such-battery").status_code == 404


def test_key_rotation_over_http(app_client, acme):
    before = issued(app_client, acme, "A")
    r = app_client.post("/operators/me/keys", headers=auth(acme))
    assert r.status_code == 201
    assert r.json()["verificationMethod"] == acme["did"] + "#key-2"
    after = issued(app_client, acme, "B")
    assert after["verifiableCredentials"][0]["proof"]["verificationMethod"].endswith("#key-2")
    for vc in before["verifiableCredentials"] + after["verifiableCredentials"]:
        assert verify(app_client, vc).status_code == 200, vc["proof"]["verificationMethod"]


def test_vc_api_credentials_are_stored(app_client, acme):
    cred = {
        "@context": [
            "https://www.w3.org/ns/credentials/v2",
            "https://www.w3.org/ns/credentials/examples/v2",
        ],
        "id": "urn:uuid:3978344f-8596-4c3a-a978-8fcaba3903c5",
        "type": ["VerifiableCredential"],
        "issuer": acme["did"],
        "credentialSubject": {"id": "did:example:b1"},
    }
    r = app_client.post("/credentials/issue", json={"credential": cred}, headers=auth(acme))
    assert r.status_code == 201
    # the same request again is answered with the credential issued the first time (issue 14
    # item 4); other content under the taken id is a 409
    again = app_client.post("/credentials/issue", json={"credential": cred}, headers=auth(acme))
    assert again.status_code == 201
    assert again.json()["verifiableCredential"] == r.json()["verifiableCredential"]
    other = {**cred, "credentialSubject": {"id": "did:example:b2"}}
    taken = app_client.post("/credentials/issue", json={"credential": other}, headers=auth(acme))
    assert taken.status_code == 409
    jwt = app_client.post(
        "/credentials/issue",
        json={
            "credential": {**cred, "id": "urn:uuid:00000000-0000-4000-8000-000000000001"},
            "options": {"format": "vc+jwt"},
        },
        headers=auth(acme),
    )
    assert jwt.status_code == 201
    with Session(app_client.app.state.runtime.engine) as s:
        rows = s.exec(select(IssuedCredential).order_by(IssuedCredential.issued_at)).all()
    assert [(r.kind, r.credential_id) for r in rows] == [
        ("vc-api", cred["id"]),
        ("vc-api", "urn:uuid:00000000-0000-4000-8000-000000000001"),
    ]
    assert rows[0].document == r.json()["verifiableCredential"]
