"""Bad input never gives a 5xx (issue 13 item 7): the inputs that answered 500 on main, each
now a 400 problem naming what is wrong. URLs go through vocab.urls.split_url, integers from
requests are bounded by vocab.integers; tests/service/test_openapi_fuzz.py looks for more."""

from __future__ import annotations

import pytest

from vocab.integers import INT64_MAX, InvalidInteger, whole_number
from vocab.urls import InvalidUrl, split_url

PROBLEMS = "https://w3id.org/dbp/problems/"


@pytest.fixture
def acme(operator_token):
    return operator_token("acme")


def auth(op: dict) -> dict:
    return {"Authorization": f"Bearer {op['token']}"}


def assert_problem(response, status: int = 400, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    if code is not None:
        assert problem["type"] == PROBLEMS + code, problem
    return problem


@pytest.mark.parametrize("battery", ["[", "http://[/01/x", "http://h:99999/01/x/21/y"])
def test_access_log_battery_that_is_no_url(app_client, acme, battery):
    r = app_client.get("/access-log", params={"battery": battery}, headers=auth(acme))
    assert_problem(r, code="invalid-gs1-key")


def test_access_log_query_battery_that_is_no_url(app_client):
    r = app_client.post("/access-log/query", json={"battery": "http://[/01/x"})
    assert_problem(r, code="invalid-gs1-key")


@pytest.mark.parametrize("after", ["99999999999999999999", str(INT64_MAX + 1)])
def test_access_log_after_beyond_64_bits(app_client, acme, after):
    r = app_client.get("/access-log", params={"after": after}, headers=auth(acme))
    problem = assert_problem(r, code="invalid-request")
    assert "after" in problem["detail"]
    ok = app_client.get("/access-log", params={"after": str(INT64_MAX)}, headers=auth(acme))
    assert ok.status_code == 200, ok.text


def test_access_log_query_after_beyond_64_bits(app_client):
    r = app_client.post("/access-log/query", json={"after": 10**20})
    assert_problem(r, code="invalid-integer")


def test_job_offset_beyond_64_bits(app_client, acme):
    r = app_client.get("/jobs/x", params={"offset": str(10**20)}, headers=auth(acme))
    assert_problem(r, code="invalid-request")


def _battery(client, op) -> str:
    r = client.post(
        "/batteries", json={"gtin": "09520123456788", "serial": "B-1"}, headers=auth(op)
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


@pytest.mark.parametrize("endpoint", ["http://[/01/x", "https://h:70000", "https://[::1"])
def test_route_and_transfer_endpoints_that_are_no_url(app_client, acme, endpoint):
    battery = _battery(app_client, acme)
    r = app_client.put(
        f"/batteries/{battery}/route",
        json={"holderDid": acme["did"], "endpoint": endpoint},
        headers=auth(acme),
    )
    assert_problem(r, code="invalid-endpoint")
    r = app_client.post(
        f"/batteries/{battery}/transfers",
        json={"to": "did:web:other.example", "endpoint": endpoint},
        headers=auth(acme),
    )
    assert_problem(r)
    assert "endpoint" in r.json()["detail"]


def test_transfer_ttl_beyond_what_a_timedelta_holds(app_client, acme):
    battery = _battery(app_client, acme)
    r = app_client.post(
        f"/batteries/{battery}/transfers",
        json={"to": "did:web:other.example", "ttlSeconds": 10**20},
        headers=auth(acme),
    )
    problem = assert_problem(r)
    assert "ttlSeconds" in problem["detail"]


@pytest.mark.parametrize("path", ["/credentials/verify", "/presentations/verify"])
def test_verify_options_null_is_as_absent(app_client, path):
    member = "verifiableCredential" if "credentials" in path else "verifiablePresentation"
    r = app_client.post(path, json={member: {}, "options": None})
    assert r.status_code == 400, r.text  # a verification that fails, not a 500
    assert r.json()["verified"] is False


def test_split_url_raises_one_error_for_every_bad_url():
    for value in ("http://[/01/x", "http://h:port/", "https://h:99999", None, 7):
        with pytest.raises(InvalidUrl):
            split_url(value, field="x")
    assert split_url("https://h:8443/a?b").port == 8443


def test_whole_number_bounds():
    assert whole_number(INT64_MAX, field="n") == INT64_MAX
    for value in (INT64_MAX + 1, -1, True, 1.0, "1"):
        with pytest.raises(InvalidInteger):
            whole_number(value, field="n")
