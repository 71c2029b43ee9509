"""EU DPP registry sync (Art 77(10)): entries queued with the passport, sent through the stand-in
registry (the CIRPASS-2 mock's interface and schema), refusals kept and shown, retries backing
off, proofs renewed, archived passports deactivated."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from issuer_testkit import auth, issued
from registry_testkit import TOKEN, StandInRegistry
from server_testkit import free_port
from sqlmodel import Session, select
from typer.testing import CliRunner

from issuer.dppregistry.tables import RegistryEntry, RegistryProfile
from vocab.datetimes import as_utc, utcnow

LEI = "529900T8BM49AURSDO55"
PUBLIC = "https://dbp.example"
BACKUP = "https://backup.example.org"


@pytest.fixture
def standin(tmp_path: Path):
    registry = StandInRegistry(tmp_path, free_port())
    registry.start()
    try:
        yield registry
    finally:
        registry.stop()


@pytest.fixture
def app(database_url, make_settings, standin):
    from service.app import create_app

    settings = make_settings(
        database_url,
        public_url=PUBLIC,
        registry_url=standin.url,
        registry_token=TOKEN,
        registry_commodity_code="850760",
        backup_url=BACKUP,
        registry_poll_s=3600,  # the tests run the sync themselves
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def _operator(client: TestClient, name: str = "acme", reo_id: str | None = LEI) -> dict:
    from issuer import operators
    from service.db import session_scope

    rt = client.app.state.runtime
    with session_scope(rt.engine) as session:
        operator, token = operators.create_operator(
            session,
            name=name,
            did_method="web",
            did_web_base=rt.settings.did_web_base,
            master_key=rt.master_key,
        )
        if reo_id:
            session.add(RegistryProfile(operator_id=operator.id, reo_id=reo_id))
        return {"name": name, "did": operator.did, "token": token, "id": operator.id}


def _sync(client: TestClient) -> int:
    return client.app.state.runtime.registry_sync.run_until_idle()


def _entry(client: TestClient, upi: str) -> RegistryEntry:
    with Session(client.app.state.runtime.engine) as session:
        return session.exec(select(RegistryEntry).where(RegistryEntry.upi == upi)).one()


def test_first_passport_registers_the_item_and_recycling_deactivates_it(app, standin):
    acme = _operator(app)
    battery = issued(app, acme)["battery"]
    upi = _entry_upi(app, battery["id"])
    entry = _entry(app, upi)
    assert (entry.state, entry.level, entry.sent_version) == ("pending", "ITEM", 0)

    assert _sync(app) == 1
    entry = _entry(app, upi)
    there = standin.entries()[upi]
    assert entry.state == "registered"
    assert entry.registry_id == there["registryId"]
    assert there["metadata"] == {
        "upi": upi,
        "reoId": LEI,
        "liveURL": upi,
        "backupURL": BACKUP + upi[len(PUBLIC) :],
        "commodityCode": "850760",
        "granularityLevel": "ITEM",
        "deactivated": False,
    }
    # the proof of registration: 90 days from the registry's answer
    left = as_utc(entry.proof_valid_until) - utcnow()
    assert timedelta(days=89) < left <= timedelta(days=90)

    # a second version of the passport changes nothing in the registry
    r = app.post(f"/batteries/{battery['id']}/passport", json=_passport(), headers=auth(acme))
    assert r.status_code == 201, r.text
    assert _sync(app) == 0

    for status in ("waste", "recycled"):
        event = {"eventType": "status-change", "occurredAt": "2027-04-01T08:00:00Z",
                 "batteryStatus": status}  # fmt: skip
        r = app.post(f"/batteries/{battery['id']}/events", json=event, headers=auth(acme))
        assert r.status_code == 201, r.text
    assert _entry(app, upi).state == "pending"
    assert _sync(app) == 1
    there = standin.entries()[upi]
    assert there["metadata"]["deactivated"] is True
    assert there["registryId"] == entry.registry_id  # the same entry, deactivated
    assert standin.stats() == {"entries": 1, "created": 1, "modified": 1}


def _passport() -> dict:
    from issuer_testkit import passport

    return passport()


def _entry_upi(client: TestClient, battery_id: str) -> str:
    with Session(client.app.state.runtime.engine) as session:
        return session.exec(
            select(RegistryEntry.upi).where(RegistryEntry.battery_id == battery_id)
        ).one()


def test_refusals_are_kept_with_the_registry_answer_and_shown(app, standin, tmp_path, monkeypatch):
    acme = _operator(app)
    rt = app.app.state.runtime
    with Session(rt.engine) as session:
        profile = session.get(RegistryProfile, acme["id"])
        profile.commodity_code = "3802"  # activated carbon, not a battery
        session.add(profile)
        session.commit()
    battery = issued(app, acme)["battery"]
    upi = _entry_upi(app, battery["id"])
    assert _sync(app) == 1
    entry = _entry(app, upi)
    assert entry.state == "refused"
    assert entry.answer["status"] == 422
    assert "3802 is not a battery" in entry.last_error
    assert standin.stats()["entries"] == 0
    # refused is final until something changes: the sync does not send it again
    assert _sync(app) == 0

    # the operator sees why, over HTTP (only the responsible operator)...
    r = app.get(f"/batteries/{battery['id']}/registry", headers=auth(acme))
    assert r.status_code == 200, r.text
    [shown] = r.json()["entries"]
    assert (shown["state"], shown["answer"]["status"]) == ("refused", 422)
    assert shown["sent"]["commodityCode"] == "3802"
    globex = _operator(app, "globex")
    assert app.get(f"/batteries/{battery['id']}/registry", headers=auth(globex)).status_code == 403
    # ...and from the command line
    monkeypatch.setenv("DBP_DATABASE_URL", rt.settings.resolved_database_url)
    monkeypatch.setenv("DBP_DATA_DIR", str(rt.settings.data_dir))
    monkeypatch.setenv("DBP_PUBLIC_URL", PUBLIC)
    monkeypatch.setenv("DBP_REGISTRY_URL", standin.url)
    from service.cli import app as cli

    shown = CliRunner().invoke(cli, ["registry", "show", battery["id"], "--json"])
    assert shown.exit_code == 0, shown.output
    [row] = json.loads(shown.output)
    assert row["state"] == "refused"
    assert row["answer"]["body"]["invalidProperties"][0]["property"] == "/commodityCode"
    status = CliRunner().invoke(cli, ["registry", "status", "--json"])
    assert json.loads(status.output)["entries"]["refused"] == 1

    # fixing the profile sends the entry again
    fixed = CliRunner().invoke(cli, ["registry", "profile", "acme", "--commodity-code", "850760"])
    assert fixed.exit_code == 0, fixed.output
    assert "1 entries queued again" in fixed.output
    assert _sync(app) == 1
    assert _entry(app, upi).state == "registered"


def test_an_entry_the_schema_refuses_is_not_sent(database_url, make_settings, standin):
    from service.app import create_app

    # liveURL must be https: an http instance's entries are refused before sending
    settings = make_settings(
        database_url, registry_url=standin.url, registry_token=TOKEN,
        registry_commodity_code="850760", backup_url=BACKUP, registry_poll_s=3600,
    )  # fmt: skip
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        acme = _operator(client)
        battery = issued(client, acme)["battery"]
        assert _sync(client) == 1
        entry = _entry(client, _entry_upi(client, battery["id"]))
    assert entry.state == "refused"
    assert entry.answer["by"] == "dbp"
    assert "/liveURL" in entry.last_error
    assert standin.stats()["entries"] == 0


def test_without_a_profile_the_entry_waits_as_incomplete(app, standin):
    acme = _operator(app, reo_id=None)
    battery = issued(app, acme)["battery"]
    assert _sync(app) == 1
    entry = _entry(app, _entry_upi(app, battery["id"]))
    assert entry.state == "incomplete"
    assert "has no registry profile" in entry.last_error and "--reo-id" in entry.last_error


def test_unavailable_registry_backs_off_then_delivers(app, standin):
    acme = _operator(app)
    battery = issued(app, acme)["battery"]
    upi = _entry_upi(app, battery["id"])
    standin.fail(503, 2)
    before = utcnow()
    assert _sync(app) == 1
    entry = _entry(app, upi)
    assert (entry.state, entry.attempts) == ("pending", 1)
    assert "503" in entry.last_error
    assert as_utc(entry.next_attempt_at) > before  # not before the backoff has passed
    assert _sync(app) == 0  # nothing due yet

    rt = app.app.state.runtime
    for expected_attempts in (2, None):
        with Session(rt.engine) as session:  # let the backoff pass
            row = session.get(RegistryEntry, entry.id)
            row.next_attempt_at = utcnow()
            session.add(row)
            session.commit()
        assert _sync(app) == 1
        entry = _entry(app, upi)
        if expected_attempts:
            assert entry.attempts == expected_attempts
    assert (entry.state, entry.attempts, entry.last_error) == ("registered", 0, None)
    assert standin.stats()["failed"] == 2


def test_a_proof_about_to_run_out_is_renewed(app, standin):
    acme = _operator(app)
    battery = issued(app, acme)["battery"]
    upi = _entry_upi(app, battery["id"])
    assert _sync(app) == 1
    rt = app.app.state.runtime
    with Session(rt.engine) as session:
        row = session.exec(select(RegistryEntry).where(RegistryEntry.upi == upi)).one()
        row.proof_valid_until = utcnow() + timedelta(days=5)
        session.add(row)
        session.commit()
    assert _sync(app) == 1
    entry = _entry(app, upi)
    assert entry.state == "registered"
    assert as_utc(entry.proof_valid_until) - utcnow() > timedelta(days=89)
    assert standin.stats() == {"entries": 1, "created": 1, "modified": 1}


def test_model_and_batch_entries_when_the_profile_asks(app, standin):
    acme = _operator(app)
    rt = app.app.state.runtime
    with Session(rt.engine) as session:
        profile = session.get(RegistryProfile, acme["id"])
        profile.model_and_batch = True
        profile.facilities = ["9520123456788"]
        session.add(profile)
        session.commit()
    r = app.post("/batteries", json={"gtin": "09520123456788", "serial": "SN-9", "batch": "B7"},
                 headers=auth(acme))  # fmt: skip
    assert r.status_code == 201, r.text
    battery = r.json()
    r = app.post(f"/batteries/{battery['id']}/passport", json=_passport(), headers=auth(acme))
    assert r.status_code == 201, r.text
    _sync(app)
    there = standin.entries()
    levels = {e["metadata"]["granularityLevel"]: e["metadata"] for e in there.values()}
    assert set(levels) == {"ITEM", "BATCH", "MODEL"}
    assert levels["MODEL"]["upi"] == f"{PUBLIC}/01/09520123456788"
    assert levels["BATCH"]["upi"] == f"{PUBLIC}/01/09520123456788/10/B7"
    assert "deactivated" not in levels["MODEL"]
    assert levels["ITEM"]["facilitiesId"] == ["9520123456788"]


def test_status_and_show_name_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("DBP_DATABASE_URL", f"sqlite:///{tmp_path / 'x.sqlite3'}")
    monkeypatch.setenv("DBP_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DBP_REGISTRY_URL", raising=False)
    from service.cli import app as cli

    r = CliRunner().invoke(cli, ["registry", "sync"])
    assert r.exit_code == 1 and "DBP_REGISTRY_URL" in r.output
    r = CliRunner().invoke(cli, ["registry", "show", "nope"])
    assert r.exit_code == 1 and "no registry entry" in r.output
    r = CliRunner().invoke(cli, ["registry", "profile", "ghost", "--reo-id", LEI])
    assert r.exit_code == 1 and "no operator named 'ghost'" in r.output


def test_the_battery_did_and_the_registry_name_the_same_backup(app, standin):
    acme = _operator(app)
    battery = issued(app, acme)["battery"]
    assert _sync(app) == 1
    upi = _entry_upi(app, battery["id"])
    did = app.get(f"/batteries/{battery['id']}/did.json").json()
    backup = {s["id"].rsplit("#", 1)[1]: s["serviceEndpoint"] for s in did["service"]}["backup"]
    assert backup == BACKUP + upi[len(PUBLIC) :]
    assert standin.entries()[upi]["metadata"]["backupURL"] == backup
