"""Fixing a quarantined record from the company portal: a real pipeline run quarantines a record
with a bad serial number; the operator corrects it on the page; a value that still breaks a
rule is refused with the pipeline's own message and nothing changes; the corrected one is
accepted, audited with who, when, before and after, and issued at once for the signed-in
operator by a pipeline run in the service's process; the next run (over HTTP, as every run does)
issues nothing twice, even after a crash between the fix and the issue."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from portal_testkit import GTIN, csrf_of, sign_in
from quarantine_testkit import run_pipeline

pytestmark = pytest.mark.slow


def _entry_id(client: TestClient) -> str:
    page = client.get("/portal/pipeline")
    assert page.status_code == 200, page.text
    found = re.findall(r'href="/portal/pipeline/quarantine/(q-[0-9a-f]+)"', page.text)
    assert len(found) == 1, page.text
    return found[0]


def test_fix_from_the_page_is_checked_audited_and_issued(world):
    from pipeline import quarantine
    from pipeline.config import load
    from pipeline.state import State

    client = world["client"]
    sign_in(client, world["token"])
    qid = _entry_id(client)
    page = client.get(f"/portal/pipeline/quarantine/{qid}")
    assert page.status_code == 200, page.text
    assert 'for="v-1">serial</label>' in page.text and 'value="QF 2"' in page.text
    assert "GS1 AI character set 82" in page.text
    csrf = csrf_of(page.text)
    action = f"/portal/pipeline/quarantine/{qid}"

    # no CSRF token, or another one: refused before anything is read
    assert client.post(action, data={"value:serial": "QF-2"}).status_code == 403
    r = client.post(action, data={"value:serial": "QF-2", "csrf": "x" + csrf})
    assert r.status_code == 403

    # still broken: refused with the pipeline's own message, what was typed kept, nothing changed
    r = client.post(action, data={"value:serial": "QF 2 b", "csrf": csrf, "reason": "typo"})
    assert r.status_code == 422, r.text
    assert "Fix refused" in r.text and "rule gs1-key" in r.text
    assert "&#39;QF 2 b&#39; must be 1 to 20 characters" in r.text
    assert 'value="QF 2 b"' in r.text
    state = State(load(world["config"]).state_dir)
    try:
        assert quarantine.entry(state, qid)["state"] == "open"
    finally:
        state.close()

    # corrected: accepted, audited, and issued at once for the signed-in operator
    r = client.post(
        action, data={"value:serial": "QF-2", "csrf": csrf, "reason": "space typed for a dash"}
    )
    assert r.status_code == 200, r.text
    assert "Fix accepted and issued" in r.text, r.text
    battery = re.search(r'href="(/portal/batteries/[^"]+)">battery ' + GTIN + " / QF-2<", r.text)
    assert battery, r.text
    assert "QF-2" in client.get(battery.group(1)).text
    page = r
    state = State(load(world["config"]).state_dir)
    try:
        entry = quarantine.entry(state, qid)
        assert entry["state"] == "resolved" and entry["fix"] == {"value": "QF-2"}
        assert world["did"] in entry["reason"]
        history = quarantine.fix_history(state, "items", entry["object"], entry["row"])
    finally:
        state.close()
    assert [h["outcome"] for h in history] == ["accepted", "refused"]
    assert history[0]["actor"] == world["did"]
    assert history[0]["changes"] == {"serial": {"from": "QF 2", "to": "QF-2"}}
    assert history[0]["reason"] == "space typed for a dash"
    assert history[1]["problems"][0]["rule"] == "gs1-key"
    assert page.text.count(world["did"]) >= 2  # both attempts listed with who made them

    # nothing left to fix: the page says so and the overview lists no open entry
    page = client.get(f"/portal/pipeline/quarantine/{qid}")
    assert page.status_code == 200 and "nothing left to fix" in page.text
    assert "No record is in quarantine" in client.get("/portal/pipeline").text
    r = client.post(action, data={"value:serial": "QF-3", "csrf": csrf})
    assert r.status_code == 404

    # exactly once: the next run (over HTTP with the operator's token) issues nothing again
    # (it quarantines the record anew: a fix applies once, and the source still says "QF 2")
    outcome = run_pipeline(world["config"], world["url"], world["token"])
    assert not outcome.failed and outcome.issued == 0 and outcome.versions == 0, outcome.failed
    found = client.get("/portal/batteries", params={"serial": "QF-"})
    assert found.text.count(">QF-2<") == 1 and found.text.count(">QF-1<") == 1, found.text


def test_a_crash_between_fix_and_issue_neither_loses_nor_doubles_it(world, monkeypatch):
    """The issuing run dies after the bulk job was submitted and before the pipeline recorded
    it: the page says it was not issued, the fix is kept, and the next run (command line, over
    HTTP) gets the same job back through the Idempotency-Key: one battery, issued once."""
    from pipeline import quarantine
    from pipeline.config import load
    from pipeline.errors import ServiceRefused
    from pipeline.state import State
    from portal.pipeline_issuing import LocalService

    submitted: list[str] = []
    real_submit = LocalService.submit_bulk

    def submit_then_crash(self, items):
        submitted.append(real_submit(self, items))
        raise ServiceRefused("simulated crash after the bulk job was submitted")

    monkeypatch.setattr(LocalService, "submit_bulk", submit_then_crash)
    client = world["client"]
    sign_in(client, world["token"])
    qid = _entry_id(client)
    csrf = csrf_of(client.get(f"/portal/pipeline/quarantine/{qid}").text)
    r = client.post(f"/portal/pipeline/quarantine/{qid}",
                    data={"value:serial": "QF-2", "csrf": csrf})  # fmt: skip
    assert r.status_code == 200, r.text
    assert "passport not issued" in r.text and "simulated crash" in r.text
    assert len(submitted) == 1
    state = State(load(world["config"]).state_dir)
    try:
        assert quarantine.entry(state, qid)["state"] == "retry"  # the fix is not lost
        assert state.rows("select * from issued") == []
    finally:
        state.close()
    monkeypatch.undo()

    outcome = run_pipeline(world["config"], world["url"], world["token"])
    assert not outcome.failed and outcome.issued == 2
    job = client.get(f"/jobs/{submitted[0]}", headers={"Authorization": f"Bearer {world['token']}"})
    assert job.status_code == 200 and job.json()["done"] == 2  # the run found that same job
    listed = client.get("/portal/batteries", params={"serial": "QF-"})
    assert listed.text.count(">QF-2<") == 1 and listed.text.count(">QF-1<") == 1, listed.text


def test_fix_page_refusals(world):
    client = world["client"]
    sign_in(client, world["token"])
    qid = _entry_id(client)
    csrf = csrf_of(client.get(f"/portal/pipeline/quarantine/{qid}").text)
    action = f"/portal/pipeline/quarantine/{qid}"
    # a field left out of the form, a value far too long, an unknown entry
    r = client.post(action, data={"csrf": csrf})
    assert r.status_code == 422 and "serial: the form has no value" in r.text
    r = client.post(action, data={"csrf": csrf, "value:serial": "x" * 3000})
    assert r.status_code == 422 and "at most 2000 characters" in r.text
    assert client.get("/portal/pipeline/quarantine/q-000000000000").status_code == 404
    r = client.post("/portal/pipeline/quarantine/q-000000000000", data={"csrf": csrf})
    assert r.status_code == 404
    # signed out: nothing
    client.cookies.clear()
    assert client.get(action).status_code == 401
    assert client.post(action, data={"csrf": csrf, "value:serial": "QF-2"}).status_code == 401
