"""A battery handed over between two real dbp instances with `dbp wallet transfer` / `accept`
(instance A on SQLite and on PostgreSQL, instance B on SQLite): the refusals, the idempotent
accept, re-pointing, the old credentials verifying as history, the repurposed passport on B with
its predecessor on A marked inactive, and the end of life reached through the original QR."""

from __future__ import annotations

import copy
import json
import re
from datetime import timedelta

import httpx
import pytest
import typer
from handover_testkit import issued_battery, passport_data, two_instances
from sqlmodel import Session, select
from typer.testing import CliRunner

from issuer import operators, transfers
from issuer.config import IssuerConfig
from issuer.tables import Passport
from service.db import make_engine
from vocab.datetimes import utcnow
from wallet.handover_cli import register


@pytest.fixture
def pair(tmp_path, database_url):
    with two_instances(tmp_path, database_url) as instances:
        yield instances


def cli(args: list[str], instance, operator: str, **kwargs):
    app = typer.Typer()
    register(app)
    env = {
        "DBP_SERVICE_URL": instance.url,
        "DBP_OPERATOR_TOKEN": instance.operators[operator]["token"],
    }
    return CliRunner().invoke(app, args, env=env, **kwargs)


def one_line_error(result, *words: str) -> None:
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def verified(instance, credential: dict) -> httpx.Response:
    return httpx.post(
        instance.url + "/credentials/verify", json={"verifiableCredential": credential}, timeout=60
    )


def expired_offer(a, battery_id: str, to: str, endpoint: str) -> dict:
    """An offer made two days ago that expired a day later (written straight into A's store)."""
    engine = make_engine(a.settings.resolved_database_url)
    config = IssuerConfig(a.url, a.settings.did_web_base, a.settings.load_keystore())
    past = utcnow() - timedelta(days=2)
    try:
        with Session(engine, expire_on_commit=False) as session:
            operator = operators.by_name(session, "acme")
            request = transfers.OfferRequest(to, endpoint, past + timedelta(days=1))
            row = transfers.offer(session, config, operator, battery_id, request, now=past)
            session.commit()
            return row.offer
    finally:
        engine.dispose()


def passport_state(a, passport_id: str) -> str:
    engine = make_engine(a.settings.resolved_database_url)
    try:
        with Session(engine) as session:
            rows = session.exec(select(Passport).where(Passport.id == passport_id)).all()
            return max(rows, key=lambda p: p.version).state
    finally:
        engine.dispose()


def test_hand_over_between_two_instances(pair, tmp_path):
    a, b = pair
    second = b.operators["second-life"]
    battery = issued_battery(a, "acme", "XI-1")
    old_passport = battery["passportId"]
    transfer = ["transfer", battery["id"], "--to", second["did"], "--endpoint", b.url]

    # refused: an operator not responsible for the battery offers it
    a.add_operator("other")
    one_line_error(cli(transfer, a, "other"), "not the operator responsible")

    # the offer, signed by the manufacturer's instance
    offer_file = tmp_path / "offer.json"
    result = cli([*transfer, "--expires-in", "1h", "--out", str(offer_file), "--json"], a, "acme")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["ok"] is True
    (item,) = answer["results"]
    assert (item["battery"], item["ok"], item["error"]) == (battery["id"], True, None)
    offer = json.loads(offer_file.read_text())
    assert offer == item["offer"]
    assert offer["credentialSubject"]["transferEndpoint"] == b.url

    # refused: a tampered offer, the wrong DID, an expired offer
    tampered = copy.deepcopy(offer)
    tampered["validUntil"] = "2099-01-01T00:00:00Z"
    (tmp_path / "tampered.json").write_text(json.dumps(tampered))
    one_line_error(cli(["accept", str(tmp_path / "tampered.json")], b, "second-life"),
                   "do not verify")  # fmt: skip
    b.add_operator("intruder")
    one_line_error(cli(["accept", str(offer_file)], b, "intruder"), "cannot accept it")
    (tmp_path / "expired.json").write_text(
        json.dumps(expired_offer(a, battery["id"], second["did"], b.url))
    )
    one_line_error(cli(["accept", str(tmp_path / "expired.json")], b, "second-life"), "expired")
    # refused at the other side too: B cannot complete a changed offer at A
    r = httpx.post(
        f"{a.url}/transfers/{offer['id'].rsplit('/', 1)[1]}/complete",
        json={"verifiableCredential": tampered},
        timeout=30,
    )
    assert r.status_code == 422 and r.json()["type"].endswith("/offer-tampered"), r.text
    # nothing moved
    doc = httpx.get(f"{a.url}/batteries/{battery['id']}/did.json").json()
    assert doc["controller"] == a.operators["acme"]["did"]

    # accepted: countersigned at B, completed at A
    result = cli(["accept", str(offer_file), "--json"], b, "second-life")
    assert result.exit_code == 0, result.output
    (accepted,) = json.loads(result.stdout)["results"]
    assert accepted["ok"] and accepted["battery"] == battery["id"]
    assert accepted["itemUri"] == battery["itemUri"]
    assert accepted["predecessor"] == [old_passport]
    new_passport_id = accepted["passportId"]
    assert new_passport_id != old_passport
    # accepting again changes nothing
    again = cli(["accept", "-", "--json"], b, "second-life", input=offer_file.read_text())
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["results"][0]["passportId"] == new_passport_id

    # re-pointed: the battery DID's controller, the QR resolving at B
    doc = httpx.get(f"{a.url}/batteries/{battery['id']}/did.json").json()
    assert doc["controller"] == second["did"]
    assert doc["service"][0]["serviceEndpoint"] == b.url + battery["path"]
    r = httpx.get(a.url + battery["path"], headers={"Accept": "text/html"})
    assert r.status_code == 307 and r.headers["location"] == b.url + battery["path"]

    # the original credentials still verify at A, as history; so does the transfer credential
    for credential in battery["verifiableCredentials"]:
        r = verified(a, credential)
        assert r.status_code == 200, r.text
    with httpx.Client(base_url=a.url, timeout=30) as client:
        r = client.post(f"/transfers/{offer['id'].rsplit('/', 1)[1]}/complete",
                        json={"verifiableCredential": offer})  # fmt: skip
        assert r.status_code == 200  # a repeat: the same completed transfer
        doubly = r.json()["verifiableCredential"]
    assert len(doubly["proof"]) == 2
    r = verified(a, doubly)
    assert r.status_code == 200, r.text

    # until B issues its own passport, the QR shows the passport handed over, marked as such
    # (issue 13 item 3), never "No public passport yet"
    with httpx.Client(follow_redirects=True, timeout=60) as client:
        page = client.get(a.url + battery["path"], headers={"Accept": "text/html"})
        assert page.status_code == 200 and str(page.url) == b.url + battery["path"]
        assert "No public passport yet" not in page.text
        assert "Handed over to second-life on " in page.text
        assert old_passport in page.text
        # A's credentials verify at B (the checks' classes say which did not, if any)
        checks = re.findall(r'class="check (check-\w+)" data-check="(\w+)"', page.text)
        failed = re.findall(r'<li class="check check-failed".*?</li>', page.text, re.S)
        assert 'class="verdict verdict-ok"' in page.text, (checks, failed)
        answer = client.get(a.url + battery["path"], headers={"Accept": "application/ld+json"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["description"].startswith(f"Handed over to {second['did']} on ")
        public = [c for c in battery["verifiableCredentials"]
                  if "PublicBatteryPassportCredential" in c["type"]]  # fmt: skip
        assert answer.json()["verifiableCredential"] == public
        links = client.get(a.url + battery["path"] + "?linkType=linkset").json()["linkset"][0]
        assert "Handed over to" in links["https://gs1.org/voc/dpp"][0]["title"]
    # B learnt the battery's status at the hand-over: the lifecycle rules hold there too
    with b.client("second-life") as client:
        data = passport_data()
        data["lifecycle"] = {"batteryStatus": "recycled"}
        r = client.post(f"/batteries/{battery['id']}/passport", json=data)
        assert r.status_code == 409, r.text
        refused = r.json()
        assert refused["type"].endswith("/status-transition-refused")
        assert (refused["currentStatus"], refused["requestedStatus"]) == ("original", "recycled")

    # B: the repurposed passport, linked to the original
    with b.client("second-life") as client:
        data = passport_data()
        data["general"]["batteryCategory"] = "stationary"
        data["lifecycle"] = {"batteryStatus": "repurposed"}
        bad = {**data, "predecessor": ["urn:uuid:00000000-0000-4000-8000-000000000000"]}
        r = client.post(f"/batteries/{battery['id']}/passport", json=bad)
        assert r.status_code == 422 and r.json()["type"].endswith("/unknown-predecessor")
        r = client.post(f"/batteries/{battery['id']}/passport", json=data)
        assert r.status_code == 201, r.text
        new = r.json()
        assert new["passportId"] == new_passport_id
        public = next(
            c
            for c in new["verifiableCredentials"]
            if "PublicBatteryPassportCredential" in c["type"]
        )
        assert public["credentialSubject"]["predecessor"] == [old_passport]
    assert passport_state(a, old_passport) == "inactive"
    assert verified(b, public).status_code == 200
    # the QR now resolves at B, to the new passport
    with httpx.Client(follow_redirects=True, timeout=30) as client:
        page = client.get(a.url + battery["path"], headers={"Accept": "text/html"})
    assert page.status_code == 200 and str(page.url) == b.url + battery["path"]
    assert new_passport_id in page.text

    # end of life at B: waste, then recycled; the original QR shows the archive
    with b.client("second-life") as client:
        for status, day in (("waste", 3), ("recycled", 4)):
            r = client.post(
                f"/batteries/{battery['id']}/events",
                json={
                    "eventType": "status-change",
                    "batteryStatus": status,
                    "occurredAt": f"2031-06-0{day}T00:00:00Z",
                },  # fmt: skip
            )
            assert r.status_code == 201, r.text
    with httpx.Client(follow_redirects=True, timeout=30) as client:
        page = client.get(a.url + battery["path"], headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "Passport archived" in page.text
    # the history there names the passport handed over and the hand-over
    assert old_passport in page.text and "Transferred" in page.text


def test_bulk_transfer_and_accept(pair, tmp_path):
    a, b = pair
    second = b.operators["second-life"]
    ids = [issued_battery(a, "acme", f"BULK-{n}")["id"] for n in range(3)]
    (tmp_path / "ids.txt").write_text("\n".join(ids[1:]) + "\n# a comment\nno-such-battery\n")
    out = tmp_path / "offers.json"
    result = cli(
        ["transfer", ids[0], "--from-file", str(tmp_path / "ids.txt"), "--to", second["did"],
         "--endpoint", b.url, "--out", str(out), "--json"],
        a, "acme",
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    answer = json.loads(result.stdout)
    assert answer["ok"] is False
    assert [(r["battery"], r["ok"]) for r in answer["results"]] == [
        (ids[0], True), (ids[1], True), (ids[2], True), ("no-such-battery", False),
    ]  # fmt: skip
    assert "no battery 'no-such-battery'" in answer["results"][3]["error"]
    assert "error: 1 of 4 offers failed" in result.stderr
    offers = json.loads(out.read_text())
    assert [o["credentialSubject"]["id"].rsplit(":", 1)[1] for o in offers] == ids

    result = cli(["accept", str(out), "--json"], b, "second-life")
    assert result.exit_code == 0, result.output
    results = json.loads(result.stdout)["results"]
    assert [r["battery"] for r in results] == ids and all(r["ok"] for r in results)
    for battery_id in ids:
        doc = httpx.get(f"{a.url}/batteries/{battery_id}/did.json").json()
        assert doc["controller"] == second["did"]

    # a pack built by B from the three batteries: one new passport, three predecessors on A
    with b.client("second-life") as client:
        r = client.post("/batteries", json={"gtin": "09520123456788", "serial": "PACK-1"})
        assert r.status_code == 201, r.text
        pack = r.json()
        data = passport_data()
        data["lifecycle"] = {"batteryStatus": "remanufactured"}
        data["predecessor"] = [r["predecessor"][0] for r in results]
        r = client.post(f"/batteries/{pack['id']}/passport", json=data)
        assert r.status_code == 201, r.text
    for predecessor in data["predecessor"]:
        assert passport_state(a, predecessor) == "inactive"
