"""The data pipeline in the company portal: runs, quarantine and a value's lineage, read from
the pipeline's own state store (written here with the pipeline's own functions), shown only to
the operators DBP_PORTAL_PIPELINE_OPERATORS names."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from portal_testkit import sign_in

REPO = Path(__file__).resolve().parents[2]
ITEM = "https://dpp.example.com/01/09520123456788/21/SN-1"


@pytest.fixture
def pipeline_client(sqlite_url, make_settings, tmp_path):
    from pipeline import lineage, quarantine
    from pipeline.records import Problem
    from pipeline.state import State
    from service.app import create_app

    folder = tmp_path / "example"
    shutil.copytree(REPO / "examples" / "pipeline", folder,
                    ignore=shutil.ignore_patterns("__pycache__", "*.py"))  # fmt: skip
    config = folder / "pipeline.yaml"
    config.write_text(f"state: {tmp_path / 'state'}\n" + config.read_text())
    state = State(tmp_path / "state")
    state.start_run("run-1", "2026-12-05T08:00:00Z", "duckdb")
    state.finish_run("run-1", "2026-12-05T08:01:00Z", "complete", {"issued": 3})
    quarantine.put(
        state, "run-1", "2026-12-05T08:00:30Z", "bom", "bom/bom.csv", 7, {"mass_g": -1},
        [Problem("mass_g", "materials.batteryMaterials[0].mass", "non-negative",
                 "must not be negative")],
    )  # fmt: skip
    lineage.store(
        state, "run-1", [("09520123456788", "SN-1", "B1")],
        [("item", "09520123456788", "", "SN-1", "general.batteryMass",
          {"value": 482.0, "source": "plm", "origin": "plm/models.json", "row": 2,
           "field": "mass_kg", "staged": "sha256:abc", "transformation": "kg as given"})],
    )  # fmt: skip
    state.close()
    settings = make_settings(sqlite_url, pipeline_config=config, portal_pipeline_operators="acme")
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def _operator(client, name):
    from issuer import operators
    from service.db import session_scope

    rt = client.app.state.runtime
    with session_scope(rt.engine) as session:
        operator, token = operators.create_operator(
            session, name=name, did_method="web", did_web_base=rt.settings.did_web_base,
            master_key=rt.master_key,
        )  # fmt: skip
    return token


def test_runs_quarantine_and_lineage(pipeline_client):
    sign_in(pipeline_client, _operator(pipeline_client, "acme"))
    page = pipeline_client.get("/portal/pipeline")
    assert page.status_code == 200, page.text
    assert "run-1" in page.text and "issued: 3" in page.text
    assert "mass_g" in page.text and "must not be negative" in page.text
    r = pipeline_client.get(
        "/portal/pipeline/lineage", params={"item": ITEM, "attribute": "general.batteryMass"}
    )
    assert r.status_code == 200, r.text
    assert "plm/models.json" in r.text and "row 2" in r.text and "kg as given" in r.text
    r = pipeline_client.get("/portal/pipeline/lineage", params={"item": ITEM, "attribute": "9999"})
    assert r.status_code == 422
    r = pipeline_client.get("/portal/pipeline/lineage", params={"item": "nope", "attribute": "1"})
    assert r.status_code == 422


def test_other_operators_do_not_see_the_pipeline(pipeline_client):
    sign_in(pipeline_client, _operator(pipeline_client, "other"))
    assert pipeline_client.get("/portal/pipeline").status_code == 403
    assert pipeline_client.get("/portal/pipeline/lineage?item=x&attribute=1").status_code == 403
    pipeline_client.cookies.clear()
    assert pipeline_client.get("/portal/pipeline").status_code == 401
