"""Hand-over on one instance (both operators here), through the HTTP API on SQLite and
PostgreSQL: offers, refusals, the doubly signed transfer credential, responsibility history, the
new passport of the battery's next life, and the end of life."""

from __future__ import annotations

import copy
import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from issuer_testkit import auth, failed_checks, issued, passport, verify
from sqlmodel import Session, select

from issuer import operators, transfers
from issuer.errors import InvalidTransferRequest
from issuer.tables import Passport
from proofs import dataintegrity
from proofs.didkey import did_key, did_key_verification_method_id
from proofs.keys import Ed25519Key
from resolver.tables import BatteryTenure
from service.app import create_app
from vocab.datetimes import format_datetime, parse_datetime, utcnow


@pytest.fixture
def acme(operator_token):
    return operator_token("acme")


@pytest.fixture
def second(operator_token):
    return operator_token("second-life")


def offer(client, operator, battery_id, to, **extra):
    return client.post(
        f"/batteries/{battery_id}/transfers", json={"to": to, **extra}, headers=auth(operator)
    )


def accept(client, operator, credential):
    return client.post(
        "/transfers/accept", json={"verifiableCredential": credential}, headers=auth(operator)
    )


def problem(response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return response.json()["type"].rsplit("/", 1)[-1]


def repurposed(predecessor: list[str] | None = None, category: str = "stationary") -> dict:
    data = passport()
    data["general"]["batteryCategory"] = category
    data["lifecycle"] = {"batteryStatus": "repurposed"}
    if predecessor is not None:
        data["predecessor"] = predecessor
    return data


@pytest.mark.parametrize(
    "to", ["did:web:second.example\n", "did:web:second.example:operators:second-life\n"]
)
def test_an_offer_to_a_did_with_a_trailing_newline_is_refused(to):
    # `$` in a Python regex also matches before a final "\n": the recipient is the whole text.
    with pytest.raises(InvalidTransferRequest) as caught:
        transfers.parse_offer_request({"to": to}, own_url="https://dbp.example", now=utcnow())
    assert caught.value.field == "to"
    assert caught.value.problem_extensions["errors"][0]["rule"] == "did"


def test_offer_accept_and_history(app_client, acme, second, operator_token):
    battery = issued(app_client, acme, "HO-1")
    battery_id = battery["battery"]["id"]
    old_passport = battery["passportId"]

    # only the responsible operator may offer
    other = operator_token("other")
    assert problem(offer(app_client, other, battery_id, second["did"]), 403) == (
        "not-responsible-operator"
    )
    assert problem(offer(app_client, acme, battery_id, acme["did"]), 400) == (
        "invalid-transfer-request"
    )
    assert problem(offer(app_client, acme, battery_id, "nobody"), 400) == (
        "invalid-transfer-request"
    )
    r = offer(app_client, acme, battery_id, second["did"], ttlSeconds=3600)
    assert r.status_code == 201, r.text
    made = r.json()
    credential = made["verifiableCredential"]
    assert credential["type"] == ["VerifiableCredential", "BatteryTransferCredential"]
    assert credential["issuer"] == acme["did"]
    assert credential["validUntil"] == made["expires"]
    subject = credential["credentialSubject"]
    assert subject["id"] == battery["battery"]["did"]
    assert subject["battery"] == battery["battery"]["itemUri"]
    assert subject["passportId"] == old_passport
    assert (subject["transferor"], subject["transferee"]) == (acme["did"], second["did"])
    assert subject["transferEndpoint"] == "http://testserver"
    assert credential["proof"]["cryptosuite"] == "eddsa-rdfc-2022"

    # refused: the wrong DID, a tampered offer
    assert problem(accept(app_client, other, credential), 403) == "not-transferee"
    tampered = copy.deepcopy(credential)
    tampered["credentialSubject"]["transferee"] = other["did"]
    assert problem(accept(app_client, other, tampered), 422) == "invalid-offer"
    assert "do not verify" in accept(app_client, other, tampered).json()["detail"]

    # accepted: completed, re-pointed, controller changed
    r = accept(app_client, second, credential)
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["state"] == "completed"
    signed = done["verifiableCredential"]
    assert [p["verificationMethod"].split("#")[0] for p in signed["proof"]] == [
        acme["did"],
        second["did"],
    ]
    assert done["battery"]["predecessor"] == [old_passport]
    doc = app_client.get(f"/batteries/{battery_id}/did.json").json()
    assert doc["controller"] == second["did"]

    # accepting twice changes nothing and answers the same
    again = accept(app_client, second, credential)
    assert again.status_code == 200, again.text
    assert again.json()["verifiableCredential"] == signed
    assert again.json()["completedAt"] == done["completedAt"]
    rt = app_client.app.state.runtime
    with Session(rt.engine) as session:
        rows = session.exec(select(BatteryTenure).where(BatteryTenure.battery_id == battery_id))
        tenures = sorted((t.operator_did, t.until is None) for t in rows.all())
    assert tenures == sorted([(acme["did"], False), (second["did"], True)])
    # The tenures the receiving instance gets cover a credential the transferor issued in the
    # hand-over's own second (credentials state whole seconds): an end rounded down made such a
    # passport fail the trust check at the receiving instance (the CI failure of
    # tests/wallet/test_handover_instances.py).
    completed = parse_datetime(done["completedAt"])
    (old,) = [t for t in done["tenures"] if t["operator"] == acme["did"]]
    assert parse_datetime(old["since"]) <= completed < parse_datetime(old["until"]), done["tenures"]

    # the doubly signed credential is queued for anchoring like every credential
    receipt = app_client.get(f"/anchors/{signed['id']}")
    assert receipt.status_code == 200, receipt.text
    # the transfer credential verifies with both proofs (a proof set) ...
    r = verify(app_client, signed)
    assert r.status_code == 200, r.text
    assert "countersigned by " + second["did"] in str(r.json())
    # ... and fails when either proof is changed
    for index in (0, 1):
        broken = copy.deepcopy(signed)
        value = broken["proof"][index]["proofValue"]
        broken["proof"][index]["proofValue"] = (
            value[:-2] + ("a" if value[-2] != "a" else "b") + value[-1]
        )
        assert "proof" in failed_checks(verify(app_client, broken))
    # the old operator's credentials still verify, as history
    for old in battery["verifiableCredentials"]:
        r = verify(app_client, old)
        assert r.status_code == 200, r.text
        assert "when the credential was issued" in str(r.json())

    # responsibility moved: the old operator may not post, the new one may
    event = {"eventType": "status-change", "batteryStatus": "repurposed",
             "occurredAt": "2031-05-02T00:00:00Z"}  # fmt: skip
    r = app_client.post(f"/batteries/{battery_id}/events", json=event, headers=auth(acme))
    assert problem(r, 403) == "not-responsible-operator"
    assert problem(offer(app_client, acme, battery_id, other["did"]), 403) == (
        "not-responsible-operator"
    )


def test_new_life_and_end_of_life(app_client, acme, second, operator_token):
    battery = issued(app_client, acme, "NL-1")
    battery_id = battery["battery"]["id"]
    old_passport = battery["passportId"]
    # a new passport for a battery not transferred to you
    r = app_client.post(
        f"/batteries/{battery_id}/passport", json=repurposed(), headers=auth(second)
    )
    assert problem(r, 403) == "not-responsible-operator"
    credential = offer(app_client, acme, battery_id, second["did"]).json()["verifiableCredential"]
    assert accept(app_client, second, credential).status_code == 200

    # a predecessor that does not exist / is not yours
    missing = "urn:uuid:00000000-0000-4000-8000-000000000000"
    r = app_client.post(
        f"/batteries/{battery_id}/passport", json=repurposed([missing]), headers=auth(second)
    )
    assert problem(r, 422) == "unknown-predecessor"
    assert r.json()["field"] == "predecessor[0]"
    foreign = issued(app_client, acme, "NL-OTHER")["passportId"]
    r = app_client.post(
        f"/batteries/{battery_id}/passport",
        json=repurposed([old_passport, foreign]),
        headers=auth(second),
    )
    assert problem(r, 403) == "predecessor-not-yours"

    # the repurposed passport: a new id, linked to the old one, new category
    r = app_client.post(
        f"/batteries/{battery_id}/passport", json=repurposed(), headers=auth(second)
    )
    assert r.status_code == 201, r.text
    new = r.json()
    assert new["passportId"] != old_passport
    assert new["version"] == 1
    public = next(
        c for c in new["verifiableCredentials"] if "PublicBatteryPassportCredential" in c["type"]
    )
    assert public["issuer"] == second["did"]
    assert public["credentialSubject"]["predecessor"] == [old_passport]
    assert verify(app_client, public).status_code == 200
    rt = app_client.app.state.runtime
    with Session(rt.engine) as session:
        old = session.exec(select(Passport).where(Passport.id == old_passport)).one()
        assert (old.state, old.state_changed_by) == ("inactive", second["did"])
    # the old passport stays readable and verifiable as history
    view = app_client.get(f"/batteries/{battery_id}/passport", headers=auth(second)).json()
    assert view["battery"]["passport_id"] == new["passportId"]
    assert view["battery"]["operator_did"] == second["did"]
    assert view["passport"]["general"]["batteryCategory"] == "stationary"
    events = [(h["passportId"], h["event"]) for h in view["history"]]
    assert (old_passport, "inactive") in events and (new["passportId"], "created") in events
    assert (old_passport, "transferred") in events
    for credential in battery["verifiableCredentials"]:
        assert verify(app_client, credential).status_code == 200
    path = battery["battery"]["itemUri"].removeprefix("http://testserver")
    page = app_client.get(path, headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert new["passportId"] in page.text and old_passport in page.text

    # waste, then recycled: the passport is archived and the QR shows the archive
    for status, day in (("waste", 3), ("recycled", 4)):
        r = app_client.post(
            f"/batteries/{battery_id}/events",
            json={
                "eventType": "status-change",
                "batteryStatus": status,
                "occurredAt": f"2031-06-0{day}T00:00:00Z",
            },  # fmt: skip
            headers=auth(second),
        )
        assert r.status_code == 201, r.text
    page = app_client.get(path, headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "archived" in page.text.lower()
    # an ended passport cannot be handed over any more
    assert problem(offer(app_client, second, battery_id, acme["did"]), 409) == "transfer-stale"


def test_expired_offer_is_refused(app_client, acme, second):
    battery = issued(app_client, acme, "EXP-1")
    rt = app_client.app.state.runtime
    past = utcnow() - timedelta(days=2)
    with Session(rt.engine, expire_on_commit=False) as session:
        operator = operators.by_name(session, "acme")
        request = transfers.OfferRequest(second["did"], None, past + timedelta(hours=1))
        row = transfers.offer(
            session, rt.issuer_config, operator, battery["battery"]["id"], request, now=past
        )
        session.commit()
    r = accept(app_client, second, row.offer)
    assert problem(r, 410) == "offer-expired"
    assert "expired at" in r.json()["detail"]
    # nothing changed
    doc = app_client.get(f"/batteries/{battery['battery']['id']}/did.json").json()
    assert doc["controller"] == acme["did"]


def foreign_offer(to: str, origin: str) -> dict:
    """An offer made on another instance (`origin`) by a did:key operator, to this instance."""
    key = Ed25519Key.generate()
    did = did_key(key.public)
    now = utcnow().replace(microsecond=0)
    unsigned = {
        "@context": ["https://www.w3.org/ns/credentials/v2", "https://w3id.org/dbp/v1"],
        "id": f"{origin}/transfers/{uuid.uuid4()}",
        "type": ["VerifiableCredential", "BatteryTransferCredential"],
        "issuer": did,
        "validFrom": format_datetime(now),
        "validUntil": format_datetime(now + timedelta(hours=1)),
        "credentialSubject": {
            "id": "did:web:elsewhere.example:batteries:1",
            "battery": "https://elsewhere.example/01/09520123456788/21/FAR-1",
            "passportId": f"urn:uuid:{uuid.uuid4()}",
            "transferor": did,
            "transferee": to,
            "transferredAt": format_datetime(now),
            "transferEndpoint": "http://testserver",
        },
    }
    return dataintegrity.create_proof(unsigned, key, did_key_verification_method_id(did))


def test_completion_only_at_allowed_reachable_instances(app_client, second, make_settings):
    offer_made = foreign_offer(second["did"], "http://127.0.0.1:9")
    r = accept(app_client, second, offer_made)
    assert problem(r, 422) == "peer-not-allowed"
    assert "DBP_DID_WEB_ALLOWED_HOSTS" in r.json()["detail"]
    settings = app_client.app.state.runtime.settings
    allowing = make_settings(
        settings.resolved_database_url, did_web_allowed_hosts="http://127.0.0.1:9"
    )
    with TestClient(create_app(allowing), raise_server_exceptions=False) as client:
        r = accept(client, second, offer_made)
        assert problem(r, 502) == "peer-unreachable"
        assert "did not answer" in r.json()["detail"]
    # nothing was written: the battery is unknown here
    assert app_client.get("/01/09520123456788/21/FAR-1").status_code == 404


def test_a_second_offer_for_a_battery_handed_over_is_stale(
    app_client, acme, second, operator_token
):
    battery = issued(app_client, acme, "TWO-1")
    battery_id = battery["battery"]["id"]
    other = operator_token("other")
    first = offer(app_client, acme, battery_id, second["did"]).json()["verifiableCredential"]
    rival = offer(app_client, acme, battery_id, other["did"]).json()["verifiableCredential"]
    assert accept(app_client, second, first).status_code == 200
    r = accept(app_client, other, rival)
    assert problem(r, 409) == "transfer-stale"
    assert "changed hands" in r.json()["detail"]
    doc = app_client.get(f"/batteries/{battery_id}/did.json").json()
    assert doc["controller"] == second["did"]


def test_the_qr_shows_the_passport_handed_over_until_the_new_one(app_client, acme, second):
    """Issue 13 item 3: between the hand-over and the new operator's first passport, the QR
    (page, linkset, JSON) shows the passport handed over, marked "handed over to X on D"; the
    new operator's passport then takes its place, unmarked."""
    battery = issued(app_client, acme, "HO-QR")
    battery_id = battery["battery"]["id"]
    path = battery["battery"]["itemUri"].removeprefix("http://testserver")
    credential = offer(app_client, acme, battery_id, second["did"]).json()["verifiableCredential"]
    done = accept(app_client, second, credential).json()
    day = done["completedAt"][:10]

    page = app_client.get(path, headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "No public passport yet" not in page.text
    assert f"Handed over to second-life on {day}" in page.text
    assert battery["passportId"] in page.text and "Authentic" in page.text
    assert "VX75 battery pack" in page.text  # the data of the passport handed over
    linkset = app_client.get(path + "?linkType=linkset").json()["linkset"][0]
    (dpp,) = linkset["https://gs1.org/voc/dpp"]
    assert f"Handed over to {second['did']} on {day}" in dpp["title"]
    answer = app_client.get(path, headers={"Accept": "application/ld+json"})
    assert answer.status_code == 200
    assert answer.json()["description"].startswith(f"Handed over to {second['did']} on {day}")
    public = [c["id"] for c in battery["verifiableCredentials"]
              if "PublicBatteryPassportCredential" in c["type"]]  # fmt: skip
    assert [c["id"] for c in answer.json()["verifiableCredential"]] == public

    # the new operator's passport replaces it, unmarked
    r = app_client.post(
        f"/batteries/{battery_id}/passport", json=repurposed(), headers=auth(second)
    )
    assert r.status_code == 201, r.text
    page = app_client.get(path, headers={"Accept": "text/html"})
    assert "Handed over to" not in page.text and r.json()["passportId"] in page.text
    answer = app_client.get(path, headers={"Accept": "application/ld+json"}).json()
    assert "description" not in answer
    assert answer["verifiableCredential"][0]["issuer"] == second["did"]
