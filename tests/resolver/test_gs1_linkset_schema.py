"""Issue 14 item 5: dbp's linksets validate against GS1's published linkset schema (vendored in
tests/resolver/vectors with its source in UPSTREAM.json), at the item and the model level."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from resolver_testkit import auth, battery_with_passport

VECTORS = Path(__file__).parent / "vectors"
SCHEMA = json.loads((VECTORS / "gs1-linkset-schema.json").read_text("utf-8"))
LINKSET = "application/linkset+json"


def errors(document: dict) -> list[str]:
    validator = jsonschema.Draft7Validator(SCHEMA)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


def test_the_schema_tells_gs1s_own_examples_apart():
    assert errors(json.loads((VECTORS / "valid-gs1-example.json").read_text("utf-8"))) == []
    assert errors(json.loads((VECTORS / "invalid-gs1-example.json").read_text("utf-8")))


def test_the_schema_refuses_what_dbp_wrote_before():
    # the old restricted-data link type (a `#` IRI) and UNTP's extra link attributes
    before = {
        "linkset": [
            {
                "anchor": "https://dpp.example.com/01/09520123456788/21/S",
                "itemDescription": "Battery",
                "https://w3id.org/dbp/vocab#restrictedDataAccess": [
                    {"href": "https://dpp.example.com/x", "title": "t"}
                ],
            }
        ]
    }
    assert errors(before)
    link = {"href": "https://dpp.example.com/x", "title": "t", "method": ["POST"]}
    before["linkset"][0] = {**before["linkset"][0], "https://w3id.org/dbp/linktypes/x": [link]}
    del before["linkset"][0]["https://w3id.org/dbp/vocab#restrictedDataAccess"]
    assert errors(before)


@pytest.fixture
def battery(app_client, operator_token):
    return battery_with_passport(app_client, operator_token("acme"), "SN-SCHEMA")


@pytest.mark.parametrize("suffix", ["", "?linkType=all"])
def test_item_linkset_validates(app_client, battery, suffix):
    r = app_client.get(battery["path"] + suffix, headers={"Accept": LINKSET})
    assert r.status_code == 200
    linkset = r.json()
    assert errors(linkset) == []
    context = linkset["linkset"][0]
    # every link type dbp writes is in the linkset of this battery (EV example passport)
    assert "https://w3id.org/dbp/linktypes/restrictedDataAccess" in context
    assert "https://gs1.org/voc/certificationInfo" in context


def test_a_battery_without_credentials_validates_too(app_client, operator_token):
    r = app_client.post(
        "/batteries",
        json={"gtin": "09520123456788", "serial": "SN-BARE"},
        headers=auth(operator_token("acme")),
    )
    assert r.status_code == 201, r.text
    path = r.json()["itemUri"].removeprefix("http://testserver")
    r = app_client.get(path, headers={"Accept": LINKSET})
    assert errors(r.json()) == []


def test_model_linkset_validates(app_client, battery):
    r = app_client.get("/01/09520123456788", headers={"Accept": LINKSET})
    assert r.status_code == 200
    assert errors(r.json()) == []
