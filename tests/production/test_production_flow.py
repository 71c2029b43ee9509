"""The production shape, as docker-compose.yml runs it: the commands and environments of its
services started as separate processes on loopback ports, against a PostgreSQL database made
for the test and anvil, with two copies of the verifier and of the resolver. Issue -> resolve ->
restricted access -> verify with a confirmed anchor, alternating between the copies; then the
logs, the metrics, and readiness when the chain goes away."""

from __future__ import annotations

import base64
import itertools
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from anchor_testkit import DEV_KEYS, anvil_binary, free_port, rpc
from compose_testkit import Loopback, Process, environment, load, rewrite_command, run
from pg_testkit import create_database

from proofs import dataintegrity
from proofs.didkey import did_key, did_key_verification_method_id
from proofs.keys import Ed25519Key
from vocab.examples import load_example

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

GTIN = "09520123456788"
ANCHOR_WAIT_S = 120  # batch age 10 s (compose) + a block + the listener's poll


class Deployment:
    def __init__(self, compose: dict, loopback: Loopback, workdir: Path) -> None:
        self.compose = compose
        self.loopback = loopback
        self.workdir = workdir
        self.processes: list[Process] = []
        self.anvil: Process | None = None

    def env(self, service: str) -> dict[str, str]:
        return self.loopback.rewrite_env(environment(self.compose["services"][service]), service)

    def command(self, service: str, port: int | None = None) -> list[str]:
        return rewrite_command(self.compose["services"][service]["command"], port)

    def start(self, service: str, copy: int = 1) -> Process:
        name = f"{service}-{copy}"
        web = "--port" in self.compose["services"][service]["command"]
        port = free_port() if web else None
        process = Process(
            name, self.command(service, port), self.env(service), self.workdir / f"{name}.log", port
        )
        self.processes.append(process.start())
        return process

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        if self.anvil is not None:
            self.anvil.stop()


def _anvil(compose: dict, workdir: Path) -> Process:
    """anvil with the compose file's arguments, on a loopback port and a local state file."""
    args = list(compose["services"]["anvil"]["command"])
    port = free_port()
    args[args.index("--host") + 1] = "127.0.0.1"
    args[args.index("--port") + 1] = str(port)
    args[args.index("--state") + 1] = str(workdir / "anvil-state.json")
    process = Process("anvil", [str(anvil_binary()), *args], {}, workdir / "anvil.log", port)
    process.start()
    deadline = time.monotonic() + 20
    while True:
        try:
            rpc(process.url, "eth_chainId")
            return process
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"anvil did not start:\n{process.tail()}") from None
            time.sleep(0.1)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory) -> Iterator[Deployment]:
    workdir = tmp_path_factory.mktemp("production")
    compose = load()
    secrets = workdir / "secrets"
    secrets.mkdir()
    # what the operator puts in ./secrets (docker-compose.yml's header)
    (secrets / "master_key").write_text(base64.b64encode(os.urandom(32)).decode() + "\n")
    (secrets / "postgres_password").write_text("unused-with-trust-auth\n")
    (secrets / "anchor_private_key").write_text(DEV_KEYS[0] + "\n")
    database_url, drop = create_database("dbp_prod")
    d = Deployment(compose, Loopback(database_url, "", secrets, workdir / "data"), workdir)
    try:
        d.anvil = _anvil(compose, workdir)
        d.loopback.chain_url = d.anvil.url
        # the one-shot step every other service waits for
        migrated = run(d.command("migrate"), d.env("migrate"), workdir, timeout=300)
        assert migrated.returncode == 0, migrated.stderr + migrated.stdout
        contract = environment(compose["services"]["migrate"])["DBP_ANCHOR_CONTRACT"]
        assert f"PassportAnchor deployed at {contract}" in migrated.stdout
        d.issuer = d.start("issuer")
        d.verifiers = [d.start("verifier", 1), d.start("verifier", 2)]
        d.resolvers = [d.start("resolver", 1), d.start("resolver", 2)]
        d.worker = d.start("anchor-worker")
        d.listener = d.start("anchor-listener")
        for p in (d.issuer, *d.verifiers, *d.resolvers):
            p.wait_ready()
        yield d
    finally:
        d.stop_all()
        drop()


def dbp(d: Deployment, *args: str) -> str:
    """A `dbp` command with the issuer's environment (what `docker compose exec issuer` runs)."""
    done = run(rewrite_command(list(args), None), d.env("issuer"), d.workdir, timeout=120)
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def present(key: Ed25519Key, holder: str, credentials: list[dict], nonce: str, domain: str):
    vp = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiablePresentation"],
        "holder": holder,
        "verifiableCredential": credentials,
    }
    return dataintegrity.create_proof(
        vp,
        key,
        did_key_verification_method_id(holder),
        proof_purpose="authentication",
        challenge=nonce,
        domain=domain,
    )


@pytest.fixture(scope="module")
def flow(deployment: Deployment) -> dict:
    d = deployment
    operator = json.loads(dbp(d, "operator", "create", "--name", "acme", "--json"))
    issuer = httpx.Client(base_url=d.issuer.url, timeout=30)
    r = issuer.post(
        "/batteries",
        json={"gtin": GTIN, "serial": "PROD-1"},
        headers={**bearer(operator["token"]), "X-Request-ID": "prod-test-register"},
    )
    assert r.status_code == 201, r.text
    assert r.headers["x-request-id"] == "prod-test-register"
    battery = r.json()
    passport = load_example("ev")
    for name in ("batteryIdentifier", "passportId", "passportVersion"):
        passport.pop(name)
    r = issuer.post(
        f"/batteries/{battery['id']}/passport", json=passport, headers=bearer(operator["token"])
    )
    assert r.status_code == 201, r.text
    return {"operator": operator, "battery": battery, **r.json()}


def verified_once_chain_is_open(client, credential: dict) -> dict:
    """The verification result once the verifier's chain is open.

    A verifier opens its chain on the first anchored credential it sees and, while that takes
    longer than its few seconds of patience, reports the anchor as "could not be checked" (by
    design, a warning). A busy machine may need longer than that (issue 13 item 13), so wait on
    the condition, bounded by a deadline, instead of asserting on the first answer."""
    deadline = time.monotonic() + ANCHOR_WAIT_S
    while True:
        r = client.post("/credentials/verify", json={"verifiableCredential": credential})
        assert r.status_code == 200, r.text
        result = r.json()
        opening = [w for w in result["warnings"] if "still being opened" in json.dumps(w)]
        if not opening or time.monotonic() > deadline:
            return result
        time.sleep(0.2)  # polling a condition; the deadline bounds it


def test_issue_resolve_access_verify_with_anchor(deployment: Deployment, flow: dict, tmp_path):
    d = deployment
    resolvers = itertools.cycle([httpx.Client(base_url=p.url) for p in d.resolvers])
    v1, v2 = (httpx.Client(base_url=p.url, timeout=60) for p in d.verifiers)
    verifiers = itertools.cycle([v1, v2])
    battery = flow["battery"]
    item_path = battery["itemUri"].split("://", 1)[1].partition("/")[2]

    # resolve, through both resolver copies
    r = next(resolvers).get("/" + item_path, headers={"Accept": "application/linkset+json"})
    assert r.status_code == 200, r.text
    etag = r.headers["etag"]
    r2 = next(resolvers).get("/" + item_path, headers={"Accept": "application/linkset+json"})
    assert (r2.status_code, r2.headers["etag"]) == (200, etag)  # same validator on every copy
    assert (
        next(resolvers)
        .get("/" + item_path, headers={"Accept": "application/linkset+json", "If-None-Match": etag})
        .status_code
        == 304
    )
    r = next(resolvers).get(f"/1.0/identifiers/{flow['operator']['did']}")
    assert r.status_code == 200 and r.json()["didDocument"]["id"] == flow["operator"]["did"]
    r = next(resolvers).get(f"/batteries/{battery['id']}/did.json")
    assert r.status_code == 200 and r.json()["id"] == battery["did"]

    # restricted access: a recycler accredited by this instance (`dbp trust accredit`); the
    # challenge comes from verifier copy 1 and is redeemed at copy 2
    key = Ed25519Key.generate()
    holder = did_key(key.public)
    role_file = tmp_path / "role.json"
    dbp(d, "trust", "accredit", "--subject", holder, "--role", "recycling", "--out", str(role_file))
    role = json.loads(role_file.read_text())
    challenge = v1.post("/challenges").json()
    vp = present(key, holder, [role], challenge["challenge"], challenge["domain"])
    r = v2.post(f"/{item_path}/access", json={"verifiablePresentation": vp})
    assert r.status_code == 200, r.text
    tiers = [vc["credentialSubject"]["accessTier"] for vc in r.json()["verifiableCredentials"]]
    assert tiers == ["public", "legitimate-interest", "legitimate-interest+commission"]
    replay = v1.post(f"/{item_path}/access", json={"verifiablePresentation": vp})
    assert replay.status_code == 401
    assert replay.json()["type"].endswith("/challenge-replayed")
    log = next(verifiers).get("/access-log", headers=bearer(flow["operator"]["token"])).json()
    assert [e["outcome"] for e in log["entries"]] == ["released", "refused"]
    assert log["entries"][0]["role"] == "legitimate-interest:recycling"

    # the anchor worker batches, anvil mines, the listener confirms
    public = next(
        vc
        for vc in flow["verifiableCredentials"]
        if vc["credentialSubject"]["accessTier"] == "public"
    )
    deadline = time.monotonic() + ANCHOR_WAIT_S
    receipt: dict = {}
    while time.monotonic() < deadline:
        r = next(verifiers).get(f"/anchors/{public['id']}")
        receipt = r.json()
        if r.status_code == 200 and receipt.get("status") == "confirmed":
            break
        time.sleep(1)
    assert receipt.get("status") == "confirmed", (receipt, d.worker.tail(), d.listener.tail())
    contract = environment(d.compose["services"]["issuer"])["DBP_ANCHOR_CONTRACT"]
    assert receipt["contract"].lower() == contract.lower()

    for client in (v1, v2):
        result = verified_once_chain_is_open(client, public)
        assert result["verified"] is True
        assert "anchor" in result["checks"], result
        assert not [w for w in result["warnings"] if "anchor" in json.dumps(w)], result


def test_roles_are_separate_processes(deployment: Deployment):
    d = deployment
    r = httpx.post(d.resolvers[0].url + "/batteries", json={})
    assert r.status_code == 404 and r.json()["servedBy"] == "issuer"
    r = httpx.post(d.issuer.url + "/challenges")
    assert r.status_code == 404 and r.json()["servedBy"] == "verifier"
    r = httpx.get(d.verifiers[1].url + f"/01/{GTIN}/21/PROD-1")
    assert r.status_code == 404 and r.json()["servedBy"] == "resolver"
    # what a cache in front holds stays valid whichever copy answers next
    etag = httpx.get(d.verifiers[0].url + "/trust-registry").headers["etag"]
    again = httpx.get(d.verifiers[1].url + "/trust-registry", headers={"If-None-Match": etag})
    assert again.status_code == 304


def test_json_logs_carry_the_request_id(deployment: Deployment, flow: dict):
    lines = [json.loads(line) for line in deployment.issuer.log_lines() if line.startswith("{")]
    mine = [e for e in lines if e.get("request_id") == "prod-test-register"]
    assert mine, deployment.issuer.tail()
    entry = mine[-1]
    assert {k: entry[k] for k in ("level", "method", "path", "status", "role")} == {
        "level": "info",
        "method": "POST",
        "path": "/batteries",
        "status": 201,
        "role": "issuer",
    }
    assert entry["duration_ms"] > 0 and entry["time"].endswith("Z")
    # a request without an id gets a generated one, echoed and logged
    r = httpx.get(deployment.resolvers[0].url + "/healthz")
    rid = r.headers["x-request-id"]
    assert len(rid) == 32
    # the log line is written after the answer: wait for it (bounded), not for a fixed time
    deadline = time.monotonic() + 20
    while True:
        logged = [json.loads(x) for x in deployment.resolvers[0].log_lines() if x.startswith("{")]
        found = any(e.get("request_id") == rid and e["path"] == "/healthz" for e in logged)
        if found or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert found, logged[-5:]


def _sample(metrics: str, name: str, **labels: str) -> float:
    wanted = name + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
    for line in metrics.splitlines():
        if line.startswith(wanted + " ") or (not labels and line.startswith(name + " ")):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_move(deployment: Deployment, flow: dict):
    issuer = deployment.issuer.url
    before = httpx.get(issuer + "/metrics").text
    assert _sample(before, "dbp_credentials_issued_total", kind="passport-tier") >= 4
    assert (
        _sample(before, "dbp_http_requests_total", method="POST", route="/batteries", status="201")
        == 1
    )
    token = flow["operator"]["token"]
    r = httpx.post(
        issuer + "/batteries", json={"gtin": GTIN, "serial": "PROD-2"}, headers=bearer(token)
    )
    assert r.status_code == 201
    after = httpx.get(issuer + "/metrics").text
    assert (
        _sample(after, "dbp_http_requests_total", method="POST", route="/batteries", status="201")
        == 2
    )
    assert "dbp_anchor_queue_depth" in after
    assert "dbp_http_request_duration_seconds_bucket" in after


def test_readyz_names_the_chain_when_it_is_down(deployment: Deployment):
    """Last in this module: stops anvil (its state is kept) and starts it again."""
    d = deployment
    resolver = d.resolvers[1].url
    assert httpx.get(resolver + "/readyz").status_code == 200
    d.anvil.stop()
    try:
        r = httpx.get(resolver + "/readyz", timeout=30)
        assert r.status_code == 503
        body = r.json()
        assert body["type"].endswith("/not-ready")
        assert body["checks"]["database"] == "ok"
        assert body["checks"]["chain"].startswith("unreachable")
        assert "chain: unreachable" in body["detail"]
        assert httpx.get(resolver + "/healthz").status_code == 200  # alive all the same
    finally:
        d.anvil.start()
    deadline = time.monotonic() + 20
    while httpx.get(resolver + "/readyz").status_code != 200:
        assert time.monotonic() < deadline, "not ready again after anvil came back"
        time.sleep(0.2)
