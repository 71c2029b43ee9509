"""The example pipeline (examples/pipeline) end to end against a real `dbp serve --demo`: every
complete battery gets its passport, the quarantine holds exactly the deliberate errors, a second
run issues nothing, changes issue versions and events, the push API feeds a run, lineage names
the LCA rows behind a carbon footprint. (Spark: test_spark.py.)

Slow as a whole (about three minutes: 1,050 passports and events are issued); the tests of this
module build on each other in file order, which the slow-first ordering of conftest.py keeps."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import httpx
import pytest
from example_testkit import (
    DELIBERATE_ERRORS,
    copy_example,
    dbp,
    dbp_json,
    demo_instance,
    supplier_api,
)

pytestmark = pytest.mark.slow

EV_GTIN, ESS_GTIN = "04012345000016", "04012345000023"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("pipeline-e2e")
    yaml = copy_example(root / "example")
    data_dir = root / "var"
    data_dir.mkdir()
    with supplier_api() as supplier_url, demo_instance(data_dir, yaml) as demo:
        env = {**demo.env, "SUPPLIER_API_URL": supplier_url}
        yield {"yaml": yaml, "demo": demo, "env": env, "runs": [], "dir": root / "example"}


def run(world, *extra: str) -> dict:
    demo = world["demo"]
    summary = dbp_json(["pipeline", "run", str(world["yaml"]), "--service", demo.url, "--token",
                        demo.token, *extra], world["env"])  # fmt: skip
    world["runs"].append(summary)
    return summary


def api(world) -> httpx.Client:
    demo = world["demo"]
    return httpx.Client(base_url=demo.url, headers={"Authorization": f"Bearer {demo.token}"},
                        timeout=60)  # fmt: skip


def test_first_run_issues_a_passport_for_every_complete_battery(world):
    summary = run(world)
    assert summary["failed"] == []
    assert summary["batteries"] == 1050
    assert (summary["complete"], summary["incomplete"]) == (1040, 10)
    assert summary["passportsIssued"] == 1040
    assert summary["conditionEvents"] == 1040  # every battery has telemetry
    assert summary["recordsQuarantined"] == 7
    assert summary["conflicts"] == 4  # rated capacity, nominal voltage, 2 x due diligence report
    # the incomplete ones are lot ESS-2605, missing the manufacturing date (and only that)
    report = dbp_json(["pipeline", "report", str(world["yaml"]), "--incomplete"], world["env"])
    assert {r["batch"] for r in report} == {"ESS-2605"}
    assert {m["path"] for r in report for m in r["missing"]} == {"general.manufacturingDate"}


def test_the_quarantine_holds_exactly_the_deliberate_errors(world):
    entries = dbp_json(["pipeline", "quarantine", "list", str(world["yaml"])], world["env"])
    assert {(e["source"], e["field"], e["rule"]) for e in entries} == DELIBERATE_ERRORS
    assert len(entries) == len(DELIBERATE_ERRORS)
    shown = dbp_json(["pipeline", "quarantine", "show", entries[0]["id"], "--config",
                      str(world["yaml"])], world["env"])  # fmt: skip
    assert shown["record"] and shown["message"]


def test_issued_passports_carry_the_calculated_values(world):
    import sqlite3

    state = sqlite3.connect(Path(world["demo"].data_dir) / "pipeline/example/state.sqlite3")
    [(battery_id,)] = state.execute(
        "select battery_id from issued where serial = 'VX260100001'"
    ).fetchall()
    state.close()
    with api(world) as client:
        view = client.get(f"/batteries/{battery_id}/passport")
    assert view.status_code == 200, view.text
    text = json.dumps(view.json())
    assert '"performanceClass": "B"' in text
    assert '"value": 0.057' in text  # 5,577 kg CO2e / (72.5 kWh x 1500 cycles x 0.9)
    assert "condition-update" in text  # the telemetry went in as an event credential


def test_a_second_run_issues_nothing(world):
    summary = run(world)
    assert summary["failed"] == []
    assert (summary["passportsIssued"], summary["passportVersions"]) == (0, 0)
    assert (summary["statusEvents"], summary["conditionEvents"]) == (0, 0)
    assert summary["unchanged"] == 1040
    assert summary["quarantineOpen"] == len(DELIBERATE_ERRORS)


def test_lineage_of_a_carbon_footprint_names_its_lca_rows_and_the_calculation(world):
    item = f"{world['demo'].url}/01/{EV_GTIN}/10/VX-2601/21/VX260100001"
    answer = dbp_json(["pipeline", "lineage", item, "carbonFootprint.declaredValue", "--config",
                       str(world["yaml"])], world["env"])  # fmt: skip
    [value] = answer["values"]
    assert value["inheritedFrom"] == "model"
    assert value["calculation"] == "carbon_footprint_per_functional_unit"
    assert value["methodology"] == "dbp-cf-linear-fade/1"
    lca = [i for i in value["inputs"] if i["source"] == "lca"]
    lca_export = json.loads((world["dir"] / "lca" / "lca-export.json").read_text())["results"]
    expected_rows = {i for i, r in enumerate(lca_export)
                     if r["product"]["gtin"] == EV_GTIN and r["stage"] != "use"}  # fmt: skip
    assert {i["row"] for i in lca} == expected_rows
    assert all(i["origin"].endswith("lca-export.json") and i["field"] == "impact.amount"
               for i in lca)  # fmt: skip
    # and the energy it was divided by came from the PLM
    assert {i["source"] for i in value["inputs"]} >= {"lca", "plm"}
    # the human form says the same
    text = dbp(["pipeline", "lineage", item, "19", "--config", str(world["yaml"])], world["env"])
    assert text.returncode == 0, text.stderr
    assert "carbon_footprint_per_functional_unit" in text.stdout
    # every input the JSON form names is on a line of its own, qualifier and file included
    for i in lca:
        assert f"{i['input']}[{i['qualifier']}]: source lca, {i['origin']} row {i['row']} " in (
            text.stdout
        ), text.stdout
    # the OpenLineage file has START and COMPLETE events with column lineage for the value
    events = [json.loads(line) for line in
              (Path(world["demo"].data_dir) / "pipeline/example/lineage.jsonl").read_text()
              .splitlines()]  # fmt: skip
    assert [e["eventType"] for e in events[:2]] == ["START", "COMPLETE"]
    columns = events[1]["outputs"][0]["facets"]["columnLineage"]["fields"]
    cf_inputs = columns["carbonFootprint.declaredValue"]["inputFields"]
    assert any(f["field"] == "impact.amount" for f in cf_inputs)
    assert (
        "dbp-cf-linear-fade/1"
        in columns["carbonFootprint.declaredValue"]["transformationDescription"]
    )


def test_changes_issue_new_passports_versions_and_events(world):
    lots = world["dir"] / "erp" / "lots.csv"
    rows = list(csv.reader(lots.open()))
    rows.append([ESS_GTIN, "ESS-2605", "2026-05", "BPNA1234567890AA"])
    with lots.open("w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
    summary = run(world)
    assert (summary["passportsIssued"], summary["passportVersions"]) == (10, 0)
    assert summary["conditionEvents"] == 10 and summary["unchanged"] == 1040
    # a static change: the lot's month -> the next passport version of its 10 batteries
    rows[-1][2] = "2026-06"
    with lots.open("w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
    summary = run(world)
    assert (summary["passportsIssued"], summary["passportVersions"]) == (0, 10)
    assert {c["change"] for c in summary["changes"]} == {"static"}
    # a dynamic change pushed through POST /ingest: a status event, no new version
    record = {"gtin": EV_GTIN, "serial": "VX260100007", "status": "re-used",
              "reported_at": "2026-03-01T09:00:00Z"}  # fmt: skip
    with api(world) as client:
        body = {"records": [record]}
        first = client.post("/ingest/service-reports", json=body,
                            headers={"Idempotency-Key": "report-1"})  # fmt: skip
        again = client.post("/ingest/service-reports", json=body,
                            headers={"Idempotency-Key": "report-1"})  # fmt: skip
        other = client.post("/ingest/service-reports", json={"records": [record, record]},
                            headers={"Idempotency-Key": "report-1"})  # fmt: skip
        no_key = client.post("/ingest/service-reports", json=body)
        anonymous = httpx.post(f"{world['demo'].url}/ingest/service-reports", json=body,
                               headers={"Idempotency-Key": "report-2"})  # fmt: skip
    assert first.status_code == 202 and again.status_code == 200
    assert again.json()["receiptId"] == first.json()["receiptId"]
    assert other.status_code == 422 and other.json()["type"].endswith("idempotency-key-reused")
    assert no_key.status_code == 400 and anonymous.status_code == 401
    summary = run(world)
    assert (summary["passportsIssued"], summary["passportVersions"]) == (0, 0)
    assert (summary["statusEvents"], summary["conditionEvents"]) == (1, 0)
    assert summary["changes"] == [{"gtin": EV_GTIN, "serial": "VX260100007",
                                   "change": "dynamic", "issues": "status event"}]  # fmt: skip


def test_a_fixed_quarantined_record_is_reprocessed(world):
    entries = dbp_json(["pipeline", "quarantine", "list", str(world["yaml"])], world["env"])
    [bad_serial] = [e for e in entries if e["field"] == "serial"]
    # without the operator's token the retry is refused: it is audited with who made it
    anonymous = dbp(["pipeline", "quarantine", "retry", bad_serial["id"], "--config",
                     str(world["yaml"]), "--value", "VX26020999"], world["env"])  # fmt: skip
    assert anonymous.returncode != 0 and "--token" in anonymous.stderr
    done = dbp(["pipeline", "quarantine", "retry", bad_serial["id"], "--config",
                str(world["yaml"]), "--value", "VX26020999", "--service", world["demo"].url,
                "--token", world["demo"].token, "--reason", "typo"], world["env"])  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = run(world)
    assert summary["passportsIssued"] == 1  # the battery exists now
    after = dbp_json(["pipeline", "quarantine", "list", str(world["yaml"]), "--all"],
                     world["env"])  # fmt: skip
    states = {e["id"]: e["state"] for e in after}
    assert states[bad_serial["id"]] == "resolved"
    # the retry is in the audit table with the operator DID it was made as (channel cli)
    from pipeline import quarantine
    from pipeline.config import load
    from pipeline.state import State

    me = httpx.get(f"{world['demo'].url}/operators/me",
                   headers={"Authorization": f"Bearer {world['demo'].token}"}).json()  # fmt: skip
    with pytest.MonkeyPatch.context() as env:  # the YAML reads ${...} from the environment
        for name, value in world["env"].items():
            env.setenv(name, value)
        state = State(load(world["yaml"]).state_dir)
    try:
        [audited] = quarantine.fix_history(
            state, bad_serial["source"], bad_serial["object"], bad_serial["row"]
        )
    finally:
        state.close()
    assert (audited["actor"], audited["channel"], audited["outcome"]) == (
        me["did"],
        "cli",
        "accepted",
    )
    assert audited["changes"]["serial"]["to"] == "VX26020999" and audited["reason"] == "typo"
    assert sum(1 for s in states.values() if s == "open") == len(DELIBERATE_ERRORS) - 1
