"""`dbp wallet request` end to end against a real dbp instance (a uvicorn process on SQLite, then
on PostgreSQL) with real passports, role credentials signed by the instance as trust anchor, and
the released credentials verified by the wallet itself over HTTP (did:web, status lists)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

import httpx
import pytest
from pg_testkit import create_database
from wallet_testkit import Instance, Wallet, one_line_error, running_instance

from issuer import operators
from service.db import make_engine, session_scope
from service.runtime import Runtime
from verifier.accreditation import role_credential
from vocab.examples import load_example

GTIN = "09520123456788"
RESTRICTED = ["public", "legitimate-interest", "legitimate-interest+commission"]


@dataclass
class World:
    instance: Instance
    runtime: Runtime
    operator: dict
    battery: dict
    passport: dict

    @property
    def qr(self) -> str:
        return self.battery["itemUri"]

    def accredit(self, subject: str, role: str = "recycling") -> dict:
        with session_scope(self.runtime.engine) as session:
            return self.runtime.sign_as_instance(
                session,
                role_credential(
                    issuer=self.instance.settings.did_web_base, subject=subject, roles=[role]
                ),
            )

    def revoke(self, credential_id: str) -> None:
        with session_scope(self.runtime.engine) as session:
            self.runtime.change_instance_credential_status(
                session, credential_id, "revocation", True
            )


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def world(request, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp(f"instance-{request.param}") / "var"
    data_dir.mkdir()
    drop = None
    if request.param == "sqlite":
        url = f"sqlite:///{data_dir / 'dbp.sqlite3'}"
    else:
        url, drop = create_database()
    try:
        with running_instance(data_dir, url) as instance:
            settings = instance.settings
            engine = make_engine(url)
            with session_scope(engine) as session:
                operator, token = operators.create_operator(
                    session,
                    name="acme",
                    did_method="web",
                    did_web_base=settings.did_web_base,
                    master_key=settings.load_keystore(),
                )
                acme = {"did": operator.did, "token": token}
            auth = {"Authorization": f"Bearer {token}"}
            r = httpx.post(
                instance.url + "/batteries", json={"gtin": GTIN, "serial": "SN-W1"}, headers=auth
            )
            assert r.status_code == 201, r.text
            battery = r.json()
            data = load_example("ev")
            for name in ("batteryIdentifier", "passportId", "passportVersion"):
                data.pop(name)
            r = httpx.post(
                f"{instance.url}/batteries/{battery['id']}/passport",
                json=data,
                headers=auth,
                timeout=60,
            )
            assert r.status_code == 201, r.text
            runtime = Runtime(settings, engine, settings.load_keystore(), httpx.Client())
            yield World(instance, runtime, acme, battery, r.json())
            runtime.http.close()
            engine.dispose()
    finally:
        if drop is not None:
            drop()


def recycler(tmp_path, world: World, name: str = "w") -> tuple[Wallet, str]:
    wallet = Wallet(tmp_path / name)
    did = wallet.json("init")["did"]
    return wallet, did


def hold(wallet: Wallet, tmp_path, *credentials: dict) -> list[str]:
    path = tmp_path / "incoming.json"
    path.write_text(json.dumps(list(credentials)))
    return wallet.json("import", str(path))["imported"]


def test_a_recyclers_wallet_reads_and_verifies_the_restricted_tiers(world, tmp_path):
    wallet, did = recycler(tmp_path, world)
    role = world.accredit(did)
    hold(wallet, tmp_path, role)

    out = wallet.json("request", world.qr)
    assert out["battery"] == world.qr
    assert out["endpoint"] == world.qr + "/access"
    assert out["requester"] == did
    assert out["presented"] == [role["id"]]
    assert out["tiers"] == RESTRICTED
    assert out["verified"] is True
    issued = {vc["id"] for vc in world.passport["verifiableCredentials"]}
    assert {c["id"] for c in out["credentials"]} <= issued
    assert [c["tier"] for c in out["credentials"]] == RESTRICTED
    for credential in out["credentials"]:
        assert credential["verified"] is True
        assert credential["issuer"] == world.operator["did"]
        checks = {c["name"]: c["status"] for c in credential["checks"]}
        assert checks == {
            "dataModel": "passed",
            "proof": "passed",
            "issuer": "passed",
            "validity": "passed",
            "status": "passed",
        }
        assert credential["attributes"]
    public = out["credentials"][0]["attributes"]
    mass = [a for a in public if a["attribute"] == "general.batteryMass"]
    assert mass == [{"attribute": "general.batteryMass", "value": 482.0, "unit": "kg"}]

    text = wallet.ok("request", world.qr, env={"COLUMNS": "200"})
    for tier in RESTRICTED:
        assert f"{tier}: urn:uuid:" in text
    assert text.count("verified: dataModel, proof, issuer, validity, status") == 3
    assert "general.batteryMass" in text and "482.0" in text


def test_asking_for_fewer_tiers(world, tmp_path):
    wallet, did = recycler(tmp_path, world)
    hold(wallet, tmp_path, world.accredit(did, "repair"))
    out = wallet.json("request", world.qr, "--tiers", "public")
    assert out["tiers"] == ["public"]
    assert [c["tier"] for c in out["credentials"]] == ["public"]
    result = wallet.run("request", world.qr, "--tiers", "everything")
    assert result.exit_code == 1
    assert "unknown tier 'everything'" in one_line_error(result)


def test_without_a_role_credential(world, tmp_path):
    wallet, did = recycler(tmp_path, world)
    result = wallet.run("request", world.qr)
    assert result.exit_code == 1
    assert "no unexpired role credential or access grant for " + did in one_line_error(result)

    # presenting something that is no role credential: the service refuses
    public = world.passport["verifiableCredentials"][0]
    (ref,) = hold(wallet, tmp_path, public)
    result = wallet.run("request", world.qr, "--credential", ref)
    assert result.exit_code == 1
    line = one_line_error(result)
    assert line.startswith("error: refused: no-entitlement (HTTP 403): ")


def test_a_revoked_role_credential_is_refused(world, tmp_path):
    wallet, did = recycler(tmp_path, world)
    role = world.accredit(did)
    hold(wallet, tmp_path, role)
    world.revoke(role["id"])
    result = wallet.run("request", world.qr)
    assert result.exit_code == 1
    assert one_line_error(result) == (
        "error: refused: credential-revoked (HTTP 403): a presented credential is revoked"
    )


def test_a_did_web_wallet_hosted_by_the_instance(world, tmp_path):
    wallet = Wallet(tmp_path / "web")
    out = wallet.json(
        "init", "--did-method", "web", "--service", world.instance.url, "--name",
        f"recycler-{uuid.uuid4().hex[:8]}",
        env={"DBP_OPERATOR_TOKEN": world.operator["token"]},
    )  # fmt: skip
    did = out["did"]
    assert did.startswith(world.instance.settings.did_web_base + ":holders:recycler-")
    document = json.loads(wallet.ok("export", "--did-document"))
    assert document["id"] == did
    assert document["verificationMethod"][0]["publicKeyMultibase"] == out["publicKeyMultibase"]

    hold(wallet, tmp_path, world.accredit(did))
    result = wallet.json("request", world.qr)
    assert result["requester"] == did
    assert result["tiers"] == RESTRICTED and result["verified"] is True


def test_a_link_that_is_no_battery(world, tmp_path):
    wallet, did = recycler(tmp_path, world)
    hold(wallet, tmp_path, world.accredit(did))
    result = wallet.run("request", world.instance.url + "/not-a-battery")
    assert result.exit_code == 1
    assert "is not a battery's QR link" in one_line_error(result)
    unknown = world.qr.replace("SN-W1", "SN-NONE")
    result = wallet.run("request", unknown)
    assert result.exit_code == 1
    # the resolver walks up to the model (GS1); the wallet says there is no such battery
    assert "has no battery 09520123456788/SN-NONE" in one_line_error(result)
    assert "(the model)" in one_line_error(result)


def issued_battery(world: World, serial: str) -> dict:
    auth = {"Authorization": f"Bearer {world.operator['token']}"}
    url = world.instance.url
    r = httpx.post(url + "/batteries", json={"gtin": GTIN, "serial": serial}, headers=auth)
    assert r.status_code == 201, r.text
    battery = r.json()
    data = load_example("ev")
    for name in ("batteryIdentifier", "passportId", "passportVersion"):
        data.pop(name)
    r = httpx.post(f"{url}/batteries/{battery['id']}/passport", json=data, headers=auth, timeout=60)
    assert r.status_code == 201, r.text
    return {**battery, "passport": r.json()}


def post_event(world: World, battery: dict, event: dict) -> dict:
    r = httpx.post(
        f"{world.instance.url}/batteries/{battery['id']}/events",
        json=event,
        headers={"Authorization": f"Bearer {world.operator['token']}"},
        timeout=60,
    )
    assert r.status_code == 201, r.text
    return r.json()["verifiableCredential"]


def test_condition_updates_reach_the_recyclers_wallet(world, tmp_path):
    """Issue 13 item 2: Annex XIII point 4 data posted after issuance is released with the
    legitimate-interest tier it belongs to, and the wallet shows the newest reading of each
    dynamic attribute with its time and source credential; older readings stay as history."""
    battery = issued_battery(world, "SN-W2")
    march = post_event(world, battery, {
        "eventType": "condition-update",
        "occurredAt": "2027-03-01T10:00:00Z",
        "condition": {
            "stateOfCertifiedEnergy": {"value": 97.5, "lastUpdate": "2027-03-01T09:00:00Z"},
            "numberOfFullCycles": {"value": 120, "lastUpdate": "2027-03-01T09:00:00Z"},
        },
    })  # fmt: skip
    may = post_event(world, battery, {
        "eventType": "condition-update",
        "occurredAt": "2027-05-01T10:00:00Z",
        "condition": {
            "stateOfCertifiedEnergy": {"value": 96.0, "lastUpdate": "2027-05-01T09:00:00Z"},
        },
    })  # fmt: skip
    status = post_event(world, battery, {
        "eventType": "status-change", "occurredAt": "2027-06-01T08:00:00Z",
        "batteryStatus": "re-used",
    })  # fmt: skip

    wallet, did = recycler(tmp_path, world)
    hold(wallet, tmp_path, world.accredit(did))
    out = wallet.json("request", battery["itemUri"])
    assert out["verified"] is True
    events = [c for c in out["credentials"] if "BatteryEventCredential" in c["types"]]
    # every event credential, the history included, each with its catalogue tier
    assert [c["id"] for c in events] == [march["id"], may["id"], status["id"]]
    assert {c["tier"] for c in events} == {"legitimate-interest"}
    assert all(c["verified"] for c in events)
    latest = {row["attribute"]: row for row in out["latest"]}
    soce = latest["performance.condition.stateOfCertifiedEnergy"]
    assert (soce["value"], soce["at"], soce["credential"]) == (
        96.0, "2027-05-01T09:00:00Z", may["id"],
    )  # fmt: skip
    assert soce["readings"] == 3  # the passport's, March's and May's
    cycles = latest["performance.condition.numberOfFullCycles"]
    assert (cycles["value"], cycles["credential"]) == (120, march["id"])
    lifecycle = latest["lifecycle"]
    assert (lifecycle["value"], lifecycle["at"], lifecycle["credential"]) == (
        "re-used", "2027-06-01T08:00:00Z", status["id"],
    )  # fmt: skip
    # not updated by any event: the passport's legitimate-interest credential's reading
    li = next(c for c in out["credentials"] if c["tier"] == "legitimate-interest"
              and "BatteryEventCredential" not in c["types"])  # fmt: skip
    capacity = latest["performance.condition.remainingCapacity"]
    assert (capacity["value"], capacity["unit"], capacity["credential"]) == (190.8, "Ah", li["id"])

    text = wallet.ok("request", battery["itemUri"], env={"COLUMNS": "250"})
    assert "latest dynamic data" in text
    row = next(line for line in text.splitlines() if "State of certified energy" in line)
    assert "96.0" in row and "2027-05-01T09:00:00Z" in row and may["id"] in row

    # the public tier alone carries no event credential
    public = wallet.json("request", battery["itemUri"], "--tiers", "public")
    assert [c["tier"] for c in public["credentials"]] == ["public"]
    assert public["latest"] == []
