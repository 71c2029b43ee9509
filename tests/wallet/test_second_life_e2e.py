"""Issue 7 end to end, two dbp instances on two ports (real uvicorn processes; the manufacturer's
on SQLite and on PostgreSQL): the manufacturer registers and issues -> a consumer resolves and
verifies -> a recycler's wallet with a role credential reads restricted data -> the manufacturer
transfers the battery to a second-life operator on the other instance (`dbp wallet transfer` /
`accept`) -> that operator issues a `repurposed` passport linked to the original -> the same QR
resolves there -> the original credentials still verify as history -> `waste`, `recycled`: the
QR shows the archive."""

from __future__ import annotations

import json

import httpx
import pytest
import typer
from handover_testkit import issued_battery, passport_data, two_instances
from typer.testing import CliRunner
from wallet_testkit import Wallet

from service.db import make_engine, session_scope
from service.runtime import Runtime
from verifier.accreditation import role_credential
from wallet.handover_cli import register


@pytest.fixture
def pair(tmp_path, database_url):
    with two_instances(tmp_path, database_url) as instances:
        yield instances


def handover(args: list[str], instance, operator: str):
    app = typer.Typer()
    register(app)
    token = instance.operators[operator]["token"]
    env = {"DBP_SERVICE_URL": instance.url, "DBP_OPERATOR_TOKEN": token}
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


def accredit(instance, subject: str, role: str) -> dict:
    """A role credential signed by instance A as trust anchor."""
    settings = instance.settings
    engine = make_engine(settings.resolved_database_url)
    runtime = Runtime(settings, engine, settings.load_keystore(), httpx.Client())
    try:
        with session_scope(engine) as session:
            unsigned = role_credential(issuer=settings.did_web_base, subject=subject, roles=[role])
            return runtime.sign_as_instance(session, unsigned)
    finally:
        runtime.http.close()
        engine.dispose()


def verifies(instance, credential: dict) -> dict:
    r = httpx.post(
        instance.url + "/credentials/verify", json={"verifiableCredential": credential}, timeout=60
    )
    assert r.status_code == 200, r.text
    return r.json()


def test_second_life_story(pair, tmp_path):
    a, b = pair
    acme, reuse = a.operators["acme"], b.operators["second-life"]

    # 1. the manufacturer registers the battery and issues its passport on A
    battery = issued_battery(a, "acme", "LIFE-1")
    qr = battery["itemUri"]
    original = battery["verifiableCredentials"]
    old_passport = battery["passportId"]

    # 2. a consumer scans the QR: the page says authentic; the public credentials verify
    page = httpx.get(qr, headers={"Accept": "text/html"}, timeout=60)
    assert page.status_code == 200 and "Authentic" in page.text
    public = httpx.get(qr, headers={"Accept": "application/ld+json"}, timeout=60).json()
    for credential in public["verifiableCredential"]:
        assert verifies(a, credential)["verified"] is True

    # 3. a recycler with a role credential reads the restricted tiers with its wallet
    wallet = Wallet(tmp_path / "recycler")
    did = wallet.json("init")["did"]
    (tmp_path / "role.json").write_text(json.dumps(accredit(a, did, "recycling")))
    wallet.json("import", str(tmp_path / "role.json"))
    released = wallet.json("request", qr)
    assert released["verified"] is True
    assert "legitimate-interest" in released["tiers"]
    assert {c["issuer"] for c in released["credentials"]} == {acme["did"]}

    # 4. the manufacturer transfers the battery to the second-life operator on B
    offer = tmp_path / "offer.json"
    handover(
        ["transfer", battery["id"], "--to", reuse["did"], "--endpoint", b.url,
         "--out", str(offer)],
        a, "acme",
    )  # fmt: skip
    accepted = json.loads(handover(["accept", str(offer), "--json"], b, "second-life").stdout)
    (result,) = accepted["results"]
    assert result["ok"] and result["predecessor"] == [old_passport]

    # 5. the second-life operator issues the repurposed passport, linked to the original
    data = passport_data()
    data["general"]["batteryCategory"] = "stationary"
    data["lifecycle"] = {"batteryStatus": "repurposed"}
    with b.client("second-life") as client:
        r = client.post(f"/batteries/{battery['id']}/passport", json=data)
    assert r.status_code == 201, r.text
    new = r.json()
    assert new["passportId"] == result["passportId"] != old_passport
    (new_public,) = [
        c for c in new["verifiableCredentials"] if "PublicBatteryPassportCredential" in c["type"]
    ]
    assert new_public["credentialSubject"]["predecessor"] == [old_passport]
    assert new_public["credentialSubject"]["general"]["batteryCategory"] == "stationary"
    assert verifies(b, new_public)["verified"] is True

    # 6. the same QR now resolves at B, to the new passport
    with httpx.Client(follow_redirects=True, timeout=60) as client:
        page = client.get(qr, headers={"Accept": "text/html"})
        assert str(page.url) == b.url + battery["path"]
        assert new["passportId"] in page.text and "Authentic" in page.text
        doc = client.get(f"{a.url}/batteries/{battery['id']}/did.json").json()
        assert doc["controller"] == reuse["did"]

    # 7. the original credentials still verify, as history of the manufacturer's tenure
    for credential in original:
        checks = {c: r for c, r in verifies(a, credential).items()}
        assert "when the credential was issued" in json.dumps(checks)

    # 8. end of life: waste, then recycled; the QR shows the archived history
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
    with httpx.Client(follow_redirects=True, timeout=60) as client:
        page = client.get(qr, headers={"Accept": "text/html"})
    assert page.status_code == 200 and str(page.url) == b.url + battery["path"]
    assert "Passport archived" in page.text
    assert old_passport in page.text and "Transferred" in page.text
