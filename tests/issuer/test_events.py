"""Dynamic data and status changes: event credentials by the responsible operator only."""

from __future__ import annotations

from issuer_testkit import auth, issue, issued, passport, registered, verify
from sqlmodel import Session, select

from anchor.tables import AnchorLeaf
from issuer import views


def post(client, operator, battery_id, body):
    return client.post(f"/batteries/{battery_id}/events", json=body, headers=auth(operator))


CONDITION = {
    "eventType": "condition-update",
    "occurredAt": "2027-03-01T10:00:00+01:00",
    "condition": {
        "stateOfCertifiedEnergy": {"value": 97.5, "lastUpdate": "2027-03-01T09:00:00Z"},
        "numberOfFullCycles": {"value": 120, "lastUpdate": "2027-03-01T09:00:00Z"},
        "negativeEvents": [{"eventType": "deep-discharge", "occurredAt": "2027-02-11T04:00:00Z"}],
    },
}
STATUS = {
    "eventType": "status-change",
    "occurredAt": "2027-04-01T08:00:00Z",
    "batteryStatus": "re-used",
}


def test_events_are_credentials_and_update_the_view(app_client, acme):
    result = issued(app_client, acme)
    battery = result["battery"]
    r = post(app_client, acme, battery["id"], CONDITION)
    assert r.status_code == 201, r.text
    vc = r.json()["verifiableCredential"]
    assert vc["type"] == ["VerifiableCredential", "BatteryEventCredential"]
    assert vc["issuer"] == acme["did"]
    subject = vc["credentialSubject"]
    assert subject["id"] == battery["did"]
    assert subject["battery"] == battery["itemUri"]
    assert subject["passportId"] == battery["passportId"]
    assert [s["statusPurpose"] for s in vc["credentialStatus"]] == ["revocation", "suspension"]
    assert verify(app_client, vc).status_code == 200
    with Session(app_client.app.state.runtime.engine) as s:
        leaf = s.exec(select(AnchorLeaf).where(AnchorLeaf.credential_id == vc["id"])).one()
    assert leaf.kind == "lifecycle-event"
    assert post(app_client, acme, battery["id"], STATUS).status_code == 201

    view = app_client.get(f"/batteries/{battery['id']}/passport", headers=auth(acme))
    assert view.status_code == 200
    body = view.json()
    condition = body["passport"]["performance"]["condition"]
    assert condition["stateOfCertifiedEnergy"]["value"] == 97.5
    assert condition["numberOfFullCycles"]["value"] == 120
    assert {"eventType": "deep-discharge", "occurredAt": "2027-02-11T04:00:00Z"} in condition[
        "negativeEvents"
    ]
    # values the events did not touch keep the passport's
    assert condition["remainingCapacity"]["value"] == 190.8
    assert body["passport"]["lifecycle"]["batteryStatus"] == "re-used"
    assert body["passport"]["lifecycle"]["updatedBy"] == acme["did"]
    assert [e["credentialSubject"]["eventType"] for e in body["events"]] == [
        "condition-update",
        "status-change",
    ]
    assert [v["version"] for v in body["versions"]] == [1]
    assert body["battery"]["status"] == "re-used"
    with Session(app_client.app.state.runtime.engine) as s:
        assert views.battery_by_id(s, battery["id"]).status == "re-used"


def test_older_readings_do_not_overwrite_newer_ones(app_client, acme):
    battery = issued(app_client, acme)["battery"]
    old = {
        "eventType": "condition-update",
        "occurredAt": "2026-01-01T00:00:00Z",
        "condition": {"stateOfCharge": {"value": 10.0, "lastUpdate": "2026-01-01T00:00:00Z"}},
    }
    assert post(app_client, acme, battery["id"], old).status_code == 201
    view = app_client.get(f"/batteries/{battery['id']}/passport", headers=auth(acme)).json()
    assert view["passport"]["performance"]["condition"]["stateOfCharge"]["value"] == 64.0


def test_only_the_responsible_operator_posts_or_reads(app_client, acme, globex):
    battery = issued(app_client, acme)["battery"]
    r = post(app_client, globex, battery["id"], STATUS)
    assert r.status_code == 403
    assert r.json()["field"] == "operator"
    view = app_client.get(f"/batteries/{battery['id']}/passport", headers=auth(globex))
    assert view.status_code == 403
    assert app_client.get(f"/batteries/{battery['id']}/passport").status_code == 401


def test_bad_events_name_the_field(app_client, acme):
    battery = issued(app_client, acme)["battery"]
    cases = [
        (
            {
                "eventType": "status-change",
                "occurredAt": "2027-01-01T00:00:00Z",
                "batteryStatus": "broken",
            },
            "batteryStatus",
        ),
        ({"eventType": "status-change", "occurredAt": "2027-01-01T00:00:00Z"}, ""),
        (
            {"eventType": "condition-update", "occurredAt": "2027-01-01", "condition": {}},
            "occurredAt",
        ),
        (
            {
                **CONDITION,
                "condition": {
                    "numberOfFullCycles": {"value": -1, "lastUpdate": "2027-01-01T00:00:00Z"}
                },
            },
            "condition.numberOfFullCycles.value",
        ),
        ({**STATUS, "battery": "http://testserver/01/09520123456788/21/OTHER"}, "battery"),
    ]
    for body, field in cases:
        r = post(app_client, acme, battery["id"], body)
        assert r.status_code == 422, (field, r.text)
        assert r.json()["errors"][0]["path"] == field, r.json()


def test_events_need_an_issued_passport(app_client, acme):
    battery = registered(app_client, acme)
    assert post(app_client, acme, battery["id"], STATUS).status_code == 409


def test_recycled_archives_the_passport(app_client, acme):
    battery = issued(app_client, acme)["battery"]
    # a battery is waste before it is recycled (the lifecycle rules, Art 77(8))
    waste = {**STATUS, "batteryStatus": "waste"}
    assert post(app_client, acme, battery["id"], waste).status_code == 201
    recycled = {**STATUS, "batteryStatus": "recycled"}
    assert post(app_client, acme, battery["id"], recycled).status_code == 201
    with Session(app_client.app.state.runtime.engine) as s:
        view = views.battery_by_id(s, battery["id"])
        assert view.passport_state == "archived"
        assert [e["event"] for e in views.passport_history(s, battery["id"])] == [
            "created",
            "archived",
        ]
        assert len(views.public_credentials(s, battery["id"])) == 1  # history stays readable
        assert views.battery_by_key(s, battery["gtin"][1:], battery["serial"]).id == battery["id"]
        assert views.battery_by_key(s, "123", battery["serial"]) is None


def status_change(status: str, day: int = 1) -> dict:
    return {
        "eventType": "status-change",
        "occurredAt": f"2027-05-{day:02d}T08:00:00Z",
        "batteryStatus": status,
    }


def refused(response, current: str, requested: str | None) -> None:
    assert response.status_code == 409, response.text
    problem = response.json()
    assert problem["type"].endswith("/status-transition-refused")
    assert (problem["currentStatus"], problem["requestedStatus"]) == (current, requested)
    assert repr(current) in problem["detail"]
    if requested is not None:
        assert repr(requested) in problem["detail"]


def test_the_battery_status_only_moves_forward(app_client, acme):
    """Issue 13 item 3 (Art 77(7)-(8)): original -> re-used | repurposed | remanufactured |
    waste; those -> waste; waste -> recycled; nothing after recycled. A refused transition is a
    409 naming both states and changes nothing."""
    battery_id = issued(app_client, acme)["battery"]["id"]
    refused(post(app_client, acme, battery_id, status_change("recycled")), "original", "recycled")
    # staying where it is is no transition
    assert post(app_client, acme, battery_id, status_change("original")).status_code == 201
    assert post(app_client, acme, battery_id, status_change("repurposed")).status_code == 201
    for backwards in ("original", "re-used", "remanufactured", "recycled"):
        refused(post(app_client, acme, battery_id, status_change(backwards)), "repurposed",
                backwards)  # fmt: skip
    assert post(app_client, acme, battery_id, status_change("waste", 2)).status_code == 201
    refused(post(app_client, acme, battery_id, status_change("repurposed")), "waste", "repurposed")
    # a new passport version cannot take the battery back either
    data = passport()
    data["lifecycle"] = {"batteryStatus": "original"}
    refused(issue(app_client, acme, battery_id, data), "waste", "original")
    assert post(app_client, acme, battery_id, status_change("recycled", 3)).status_code == 201
    # after recycling the passport has ceased to exist: no status, no reading, no new version
    for status in ("recycled", "waste", "original"):
        refused(post(app_client, acme, battery_id, status_change(status)), "recycled", status)
    refused(post(app_client, acme, battery_id, CONDITION), "recycled", None)
    refused(issue(app_client, acme, battery_id, passport()), "recycled", "original")
    view = app_client.get(f"/batteries/{battery_id}/passport", headers=auth(acme)).json()
    assert view["battery"]["status"] == "recycled"
    assert [e["credentialSubject"]["batteryStatus"] for e in view["events"]] == [
        "original", "repurposed", "waste", "recycled",
    ]  # fmt: skip
