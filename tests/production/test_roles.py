"""`dbp serve --role`: each role mounts only its own routes, names the right role for the others,
and answers /healthz, /readyz and /metrics; workers run only where they belong."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from service.app import create_app

GTIN = "09520123456788"


@pytest.fixture
def role_client(database_url, make_settings):
    clients: list[TestClient] = []

    def start(role: str, **overrides) -> TestClient:
        app = create_app(make_settings(database_url, role=role, **overrides))
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield start
    for client in reversed(clients):
        client.__exit__(None, None, None)


def test_resolver_refuses_issuer_routes_naming_the_issuer(role_client):
    resolver = role_client("resolver")
    r = resolver.post("/batteries", json={"gtin": GTIN, "serial": "SN1"})
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"].endswith("/wrong-role")
    assert (body["role"], body["servedBy"]) == ("resolver", "issuer")
    assert "POST /batteries is served by the issuer role" in body["detail"]
    # its own routes work: the context, and a battery DID of an unknown battery is its own 404
    assert resolver.get("/dbp/v1").status_code == 200
    unknown = resolver.get("/batteries/nope/did.json")
    assert unknown.status_code == 404
    assert not unknown.json()["type"].endswith("/wrong-role")


def test_restricted_access_on_the_resolver_points_to_the_verifier(role_client):
    resolver = role_client("resolver")
    r = resolver.post(f"/01/{GTIN}/21/SN1/access", json={})
    assert r.status_code == 404, r.text
    assert r.json()["servedBy"] == "verifier"
    # while GET of the same item URI is the resolver's own (unknown battery: its own 404)
    assert resolver.get(f"/01/{GTIN}/21/SN1").json().get("servedBy") is None


def test_verifier_and_issuer_split(role_client):
    verifier = role_client("verifier")
    assert verifier.post("/challenges").status_code == 200
    assert verifier.get("/trust-registry").status_code == 200
    assert verifier.post("/credentials/issue", json={}).json()["servedBy"] == "issuer"
    assert verifier.get(f"/01/{GTIN}/21/SN1").json()["servedBy"] == "resolver"
    assert verifier.get("/status-lists/x").json()["servedBy"] == "issuer"
    issuer = role_client("issuer")
    assert issuer.post("/challenges").json()["servedBy"] == "verifier"
    assert issuer.post("/credentials/verify", json={}).json()["servedBy"] == "verifier"
    assert issuer.get("/.well-known/did.json").status_code == 200
    # a path nobody serves stays a plain 404
    r = issuer.get("/no/such/thing")
    assert r.status_code == 404 and r.json()["type"].endswith("/not-found")


def test_workers_run_only_in_the_issuer_role(role_client):
    assert role_client("verifier").app.state.runtime.bulk_worker is None
    assert role_client("resolver").app.state.runtime.bulk_worker is None
    issuer = role_client("issuer", bulk_processes=1)
    assert issuer.app.state.runtime.bulk_worker is not None


@pytest.mark.parametrize("role", ["issuer", "verifier", "resolver", "all"])
def test_every_role_has_health_readiness_and_metrics(role_client, role):
    client = role_client(role, bulk_worker=False)
    assert client.get("/healthz").json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "status": "ready",
        "role": role,
        "checks": {"database": "ok", "chain": "ok", "signer": "ok"},
    }
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "dbp_anchor_queue_depth 0.0" in r.text
    assert 'dbp_http_requests_total{method="GET",route="/readyz",status="200"}' in r.text
