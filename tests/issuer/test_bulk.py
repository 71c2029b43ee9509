"""Bulk ingestion through the API: idempotency, per-item errors, no rollback of neighbours."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from issuer_testkit import GTIN, auth, passport, verify
from sqlmodel import Session, func, select

from issuer.tables import Battery, BulkItem, IssuedCredential, Passport


@pytest.fixture(params=[1, 2], ids=["inline", "pool"])
def bulk_client(request, database_url, make_settings):
    from service.app import create_app

    app = create_app(make_settings(database_url, bulk_processes=request.param))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def _acme(client) -> dict:
    from issuer import operators
    from service.db import session_scope

    rt = client.app.state.runtime
    with session_scope(rt.engine) as session:
        operator, token = operators.create_operator(
            session,
            name="acme",
            did_method="web",
            did_web_base=rt.settings.did_web_base,
            master_key=rt.master_key,
        )
        return {"name": operator.name, "did": operator.did, "token": token}


@pytest.fixture
def acme_bulk(bulk_client):
    return _acme(bulk_client)


def item(serial: str, **changes) -> dict:
    data = passport("lmt")
    data.update(changes)
    return {"gtin": GTIN, "serial": serial, "passport": data}


def wait_finished(client, operator, location: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        report = client.get(location, headers=auth(operator)).json()
        if report["state"] == "finished":
            return report
        time.sleep(0.2)
    raise AssertionError(f"job not finished: {report}")


def test_bulk_job_reports_per_item_and_keeps_good_items(bulk_client, acme_bulk):
    bad_cf = passport("lmt")
    bad_cf["carbonFootprint"]["lifecycleStages"][0]["value"] = -1
    items = [
        item("B-1"),
        {"gtin": "09520123456787", "serial": "B-2", "passport": passport("lmt")},
        {"gtin": GTIN, "serial": "B-3", "passport": bad_cf},
        item("B-4"),
        item("B-1"),  # the same battery twice in one job
        {"gtin": GTIN, "serial": "B-6"},
    ]
    headers = {**auth(acme_bulk), "Idempotency-Key": "job-1"}
    r = bulk_client.post("/batteries:bulk", json={"items": items}, headers=headers)
    assert r.status_code == 202, r.text
    job_id = r.json()["jobId"]
    location = r.headers["location"].removeprefix("http://testserver")
    assert location == f"/jobs/{job_id}"
    report = wait_finished(bulk_client, acme_bulk, location)
    assert (report["total"], report["done"], report["failed"], report["pending"]) == (6, 2, 4, 0)
    assert report["progress"] == 1.0
    errors = {e["position"]: e for e in report["errors"]}
    assert errors[1]["field"] == "gtin"
    assert errors[2]["field"] == "passport.carbonFootprint.lifecycleStages[0].value"
    assert errors[2]["errors"][0]["rule"] == "non-negative"
    assert errors[4]["status"] == 409 and errors[4]["field"] == "serial"
    assert errors[5]["field"] == "passport"
    done = [i for i in report["items"] if i["state"] == "done"]
    assert [i["position"] for i in done] == [0, 3]

    # the same key and body: the same job, nothing new
    again = bulk_client.post("/batteries:bulk", json={"items": items}, headers=headers)
    assert again.status_code == 200
    assert again.json()["jobId"] == job_id
    other = bulk_client.post("/batteries:bulk", json={"items": items[:1]}, headers=headers)
    assert other.status_code == 422
    assert other.json()["field"] == "Idempotency-Key"
    with Session(bulk_client.app.state.runtime.engine) as s:
        assert s.exec(select(func.count()).select_from(Battery)).one() == 2
        assert s.exec(select(func.count()).select_from(Passport)).one() == 2
        assert s.exec(select(func.count()).select_from(BulkItem)).one() == 6
        vcs = s.exec(select(IssuedCredential)).all()
    assert len(vcs) == 2 * 4  # four tiers per battery
    for vc in vcs[:4]:
        assert verify(bulk_client, vc.document).status_code == 200


def test_bulk_request_errors(bulk_client, acme_bulk):
    r = bulk_client.post("/batteries:bulk", json={"items": [item("X")]}, headers=auth(acme_bulk))
    assert r.status_code == 400 and r.json()["field"] == "Idempotency-Key"
    headers = {**auth(acme_bulk), "Idempotency-Key": "k"}
    for body, field in [({"items": []}, "items"), ({"items": [1]}, "items[0]"), ({}, "items")]:
        r = bulk_client.post("/batteries:bulk", json=body, headers=headers)
        assert r.status_code == 400 and r.json()["field"] == field
    assert bulk_client.get("/jobs/nope", headers=auth(acme_bulk)).status_code == 404


def test_claims_are_exclusive_and_dead_workers_claims_are_taken_over(database_url):
    import socket
    import subprocess

    from issuer import bulk, operators
    from service.db import make_engine, migrate, session_scope

    engine = make_engine(database_url)
    migrate(engine)
    with session_scope(engine) as s:
        op, _ = operators.create_operator(
            s, name="acme", did_method="web", did_web_base="did:web:h", master_key=b"\x01" * 32
        )
        bulk.submit(s, op, "k", {"items": [{"serial": str(i)} for i in range(3)]})
    gone = subprocess.Popen(["true"])
    gone.wait()
    dead = f"{socket.gethostname()}:{gone.pid}:x"
    alive = bulk.worker_id()
    with Session(engine) as s:
        assert [c.position for c in bulk.claim(s, dead, 2)] == [0, 1]
    with Session(engine) as s:
        assert [c.position for c in bulk.claim(s, alive, 5)] == [2]  # the others are held
        assert bulk.claim(s, alive, 5) == []
        assert bulk.dead_local_workers(s, alive) == [dead]
        taken = bulk.claim(s, alive, 5, bulk.dead_local_workers(s, alive))
        assert [c.position for c in taken] == [0, 1]
    engine.dispose()


@pytest.fixture
def inline_bulk(database_url, make_settings, monkeypatch):
    """An inline bulk worker (signing in its own thread, so a patched `prepare` applies) with
    short deferral delays."""
    from datetime import timedelta

    from issuer import worker
    from service.app import create_app

    monkeypatch.setattr(worker, "DEFER_BASE", timedelta(milliseconds=20))
    app = create_app(make_settings(database_url, bulk_processes=1))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, _acme(client)


def _keystore_down_for(monkeypatch, calls: int) -> list[int]:
    """`passports.prepare` fails with KeystoreError for its first `calls` calls."""
    from issuer import passports
    from proofs.signer import KeystoreError

    real = passports.prepare
    seen = [0]

    def flaky(plan):
        seen[0] += 1
        if seen[0] <= calls:
            raise KeystoreError("token 'dbp-test': GeneralError")
        return real(plan)

    monkeypatch.setattr(passports, "prepare", flaky)
    return seen


def test_an_item_the_key_store_could_not_sign_is_retried_not_failed(inline_bulk, monkeypatch):
    client, who = inline_bulk
    seen = _keystore_down_for(monkeypatch, 2)
    headers = {**auth(who), "Idempotency-Key": "keystore-blip"}
    r = client.post("/batteries:bulk", json={"items": [item("K-1")]}, headers=headers)
    assert r.status_code == 202, r.text
    report = wait_finished(client, who, r.headers["location"].removeprefix("http://testserver"))
    assert (report["done"], report["failed"]) == (1, 0), report
    assert seen[0] == 3  # two refusals, then signed once
    with Session(client.app.state.runtime.engine) as s:
        assert s.exec(select(func.count()).select_from(Battery)).one() == 1


def test_an_item_fails_with_its_reason_when_the_key_store_stays_down(inline_bulk, monkeypatch):
    from issuer import worker

    client, who = inline_bulk
    seen = _keystore_down_for(monkeypatch, 10_000)
    headers = {**auth(who), "Idempotency-Key": "keystore-down"}
    r = client.post("/batteries:bulk", json={"items": [item("K-2")]}, headers=headers)
    assert r.status_code == 202, r.text
    report = wait_finished(client, who, r.headers["location"].removeprefix("http://testserver"))
    assert (report["done"], report["failed"]) == (0, 1), report
    assert report["errors"][0]["code"] == "keystore-unavailable"
    assert report["errors"][0]["status"] == 503
    assert seen[0] == worker.DEFER_ATTEMPTS + 1
