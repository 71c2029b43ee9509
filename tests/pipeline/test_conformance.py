"""Conformance of any passport: `pipeline.conformance.check`, `dbp passport check FILE` and
`POST /conformance/check` (issuer role)."""

from __future__ import annotations

import copy
import json

import pytest
from typer.testing import CliRunner

from pipeline.conformance import check
from service.cli import app as dbp
from vocab.examples import example_names, load_example
from vocab.tiers import split_by_tier


@pytest.mark.parametrize("name", example_names())
def test_the_vocabularys_examples_conform(name):
    report = check(load_example(name))
    assert report["conforms"], report["errors"]
    assert set(report["checks"].values()) == {"passed"}


def test_each_broken_rule_is_named_with_its_check():
    passport = load_example("ev")
    passport["carbonFootprint"]["declaredValue"]["value"] = 0.09  # stages add up to 0.057
    passport["circularity"]["recycledContent"][0]["preConsumerShare"] = 99.0  # + 3 > 100
    passport["performance"]["rated"]["nominalVoltage"]["value"] = 500.0  # above the maximum
    del passport["general"]["manufacturer"]
    passport["materials"]["hazardousSubstances"].append(
        {"name": "Mercury", "casNumber": "7439-97-6", "hazardClass": "Acute toxicity 2",
         "concentration": 0.001, "location": "battery", "impact": ["toxic"]})  # fmt: skip
    passport["materials"]["hazardousSubstances"].append(
        {"name": "Lead", "casNumber": "7439-92-1", "hazardClass": "Repr. 1A",
         "concentration": 0.01, "location": "battery", "impact": ["toxic"]})  # fmt: skip
    report = check(passport)
    assert not report["conforms"]
    found = {(e["check"], e["rule"]) for e in report["errors"]}
    assert ("schema", "stage-sum") in found or ("consistency", "stage-sum") in found


def test_consistency_and_regulation_rules_on_a_schema_valid_passport():
    passport = load_example("ev")
    passport["circularity"]["recycledContent"][0]["preConsumerShare"] = 99.0  # + 3 > 100
    passport["performance"]["rated"]["nominalVoltage"]["value"] = 500.0  # above the maximum
    del passport["general"]["manufacturer"]
    passport["materials"]["hazardousSubstances"] += [
        {"name": "Mercury", "casNumber": "7439-97-6", "hazardClass": "Acute toxicity 2",
         "concentration": 0.001, "location": "battery", "impact": ["toxic"]},
        {"name": "Lead", "casNumber": "7439-92-1", "hazardClass": "Repr. 1A",
         "concentration": 0.01, "location": "battery", "impact": ["toxic"]},
    ]  # fmt: skip
    passport["general"]["manufacturingDate"] = "2031-09"  # Art 8(2) minimums apply
    passport["general"]["puttingIntoServiceDate"] = "2031-10-01"
    report = check(passport)
    found = {(e["check"], e["rule"], e["path"]) for e in report["errors"]}
    assert ("mandatory", "mandatory", "general.manufacturer") in found
    # the vocabulary's model checks these two itself (schema); they are reported once
    assert ("schema", "share-sum", "circularity.recycledContent[0]") in found
    assert ("schema", "voltage-order", "performance.rated") in found
    assert not any(r in ("share-sum", "voltage-order") for c, r, _ in found if c != "schema")
    assert ("regulation", "restricted-substance", "materials.hazardousSubstances") in found
    assert ("regulation", "symbol-required", "labels.symbols[subject=lead]") in found
    # cobalt 4 + 8 = 12 % < 16 %, lithium 1 + 2.5 = 3.5 % < 6 %
    assert ("regulation", "recycled-minimum",
            "circularity.recycledContent[material=cobalt]") in found  # fmt: skip
    assert report["checks"] == {"schema": "failed", "mandatory": "failed",
                                "consistency": "passed", "regulation": "failed"}  # fmt: skip
    passport["general"]["puttingIntoServiceDate"] = "2031-08-01"  # before it was made
    found = {(e["check"], e["rule"]) for e in check(passport)["errors"]}
    assert ("consistency", "date-order") in found


def test_a_public_credential_alone_lists_restricted_attributes_as_not_shown():
    passport = load_example("ev")
    tiers = split_by_tier(passport)
    public = {"type": ["VerifiableCredential", "BatteryPassportCredential",
                       "PublicBatteryPassportCredential"],
              "credentialSubject": {"id": "did:web:x:batteries:1", **tiers["public"]}}  # fmt: skip
    report = check(public)
    assert report["tiers"] == ["public"]
    assert report["conforms"], report["errors"]
    assert report["notShown"] and {m["tier"] for m in report["notShown"]} != {"public"}


def test_the_cli_exits_1_for_a_passport_that_does_not_conform(tmp_path):
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(load_example("lmt")))
    broken = copy.deepcopy(load_example("lmt"))
    del broken["general"]["batteryMass"]
    bad.write_text(json.dumps(broken))
    runner = CliRunner()
    ok = runner.invoke(dbp, ["passport", "check", str(good)])
    assert ok.exit_code == 0 and "conforms" in ok.output
    failed = runner.invoke(dbp, ["passport", "check", str(bad), "--json"])
    assert failed.exit_code == 1
    assert json.loads(failed.output)["missing"][0]["path"] == "general.batteryMass"
    not_json = tmp_path / "x.json"
    not_json.write_text("{")
    assert runner.invoke(dbp, ["passport", "check", str(not_json)]).exit_code == 1


def test_the_http_route_answers_a_report_and_problems_for_bad_bodies(app_client):
    answer = app_client.post("/conformance/check", json=load_example("stationary"))
    assert answer.status_code == 200 and answer.json()["conforms"] is True
    broken = load_example("stationary")
    broken["general"]["batteryCategory"] = "bicycle"
    answer = app_client.post("/conformance/check", json=broken)
    assert answer.status_code == 200
    assert answer.json()["checks"] == {"schema": "failed"}
    for body in (b"{", b'{"a": 1, "a": 2}', b"[1, 2]"):
        answer = app_client.post("/conformance/check", content=body,
                                 headers={"Content-Type": "application/json"})  # fmt: skip
        assert answer.status_code in (400, 422), answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")


def test_ingest_without_a_pipeline_is_a_404_problem(app_client, operator_token):
    token = operator_token()["token"]
    answer = app_client.post("/ingest/anything", json={"records": [{}]},
                             headers={"Authorization": f"Bearer {token}",
                                      "Idempotency-Key": "k"})  # fmt: skip
    assert answer.status_code == 404
    assert answer.json()["type"].endswith("no-pipeline")
