"""Registering batteries: identifiers, the registry entry, duplicates and bad GS1 keys."""

from __future__ import annotations

import uuid

import pytest
from issuer_testkit import GTIN, auth, register, registered
from sqlmodel import Session, select

from resolver.tables import BatteryRoute


def test_register_returns_identifiers(app_client, acme):
    r = register(app_client, acme, "SN-0001", gtin="9520123456788")  # GTIN-13 is padded
    assert r.status_code == 201, r.text
    body = r.json()
    assert uuid.UUID(body["id"]).version == 4
    assert body["gtin"] == GTIN
    assert body["itemUri"] == f"http://testserver/01/{GTIN}/21/SN-0001"
    assert body["did"] == f"did:web:testserver:batteries:{body['id']}"
    assert body["passportId"].startswith("urn:uuid:")
    assert uuid.UUID(body["passportId"].removeprefix("urn:uuid:")).version == 4
    assert body["operator"] == acme["did"]
    assert r.headers["location"] == f"http://testserver/batteries/{body['id']}"
    with Session(app_client.app.state.runtime.engine) as s:
        route = s.exec(select(BatteryRoute)).one()
    assert (route.id, route.did, route.holder_did) == (body["id"], body["did"], acme["did"])


def test_variant_and_batch_go_into_the_item_uri(app_client, acme):
    body = registered(app_client, acme, "SN/2", variant="V1", batch="B%7")
    assert body["itemUri"] == f"http://testserver/01/{GTIN}/22/V1/10/B%257/21/SN%2F2"


def test_registering_twice_is_a_conflict(app_client, acme, globex):
    first = registered(app_client, acme, "SN-1")
    again = register(app_client, acme, "SN-1")
    assert again.status_code == 409
    assert again.json()["field"] == "serial"
    assert first["id"] in again.json()["detail"]
    other = register(app_client, globex, "SN-1")  # another operator learns no battery id
    assert other.status_code == 409
    assert first["id"] not in other.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"gtin": "09520123456787", "serial": "1"}, "gtin"),  # wrong check digit
        ({"gtin": "0952012345678X", "serial": "1"}, "gtin"),
        ({"gtin": "123", "serial": "1"}, "gtin"),
        ({"gtin": GTIN, "serial": "SN#1"}, "serial"),  # '#' is not in character set 82
        ({"gtin": GTIN, "serial": "Ü1"}, "serial"),
        ({"gtin": GTIN, "serial": "A" * 21}, "serial"),
        ({"gtin": GTIN, "serial": ""}, "serial"),
        ({"gtin": GTIN}, "serial"),
        ({"serial": "1"}, "gtin"),
        ({"gtin": GTIN, "serial": "1", "batch": "a b#"}, "batch"),
        ({"gtin": GTIN, "serial": "1", "colour": "red"}, "colour"),
        ({"gtin": GTIN, "serial": "1", "passportId": "550e8400"}, "passportId"),
        (
            {"gtin": GTIN, "serial": "1", "passportId": f"urn:uuid:{uuid.uuid4()}\n"},
            "passportId",
        ),
    ],
)
def test_bad_registrations_name_the_field(app_client, acme, body, field):
    r = app_client.post("/batteries", json=body, headers=auth(acme))
    assert 400 <= r.status_code < 500, r.text
    problem = r.json()
    assert problem["field"] == field
    assert problem["detail"].startswith(field)


def test_registration_needs_a_token(app_client):
    assert app_client.post("/batteries", json={"gtin": GTIN, "serial": "1"}).status_code == 401


def test_client_chosen_passport_id(app_client, acme):
    pid = f"urn:uuid:{uuid.uuid4()}"
    assert registered(app_client, acme, "A", passportId=pid)["passportId"] == pid
    again = register(app_client, acme, "B", passportId=pid)
    assert again.status_code == 409 and again.json()["field"] == "passportId"
