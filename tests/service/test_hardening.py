"""Hardening (issue 13 item 9): security headers on every answer, HSTS only behind HTTPS, private
files for the SQLite database, the master key and demo.json, and a rate limit on challenges."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.demo import seed_demo
from service.settings import Settings

PAGE = "/01/09520123456788/21/NO-SUCH"


def test_pages_and_api_answers_carry_security_headers(app_client):
    page = app_client.get(PAGE, headers={"Accept": "text/html"})
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert policy.startswith("default-src 'none'; style-src 'sha256-")
    assert "frame-ancestors 'none'" in policy and "script-src" not in policy
    api = app_client.get("/health")
    assert api.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    for answer in (page, api):
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["referrer-policy"] == "strict-origin-when-cross-origin"
        assert "strict-transport-security" not in answer.headers  # plain HTTP here


def test_hsts_only_behind_https(sqlite_url, make_settings):
    # the request came over HTTPS (uvicorn takes the scheme from X-Forwarded-Proto of a
    # trusted proxy): HSTS; the public URL is https: HSTS whatever the hop
    app = create_app(make_settings(sqlite_url))
    with TestClient(app, base_url="https://testserver") as client:
        assert client.get("/health").headers["strict-transport-security"] == "max-age=31536000"
    app = create_app(make_settings(sqlite_url, public_url="https://dpp.example.com"))
    with TestClient(app) as client:
        assert "strict-transport-security" in client.get("/health").headers


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_database_master_key_and_demo_file_are_private(tmp_path):
    old = os.umask(0o022)  # the usual umask, which would make files world-readable
    try:
        data_dir = tmp_path / "var"
        # the master key file exists with sealed keys only (under pkcs11 none is made)
        seed_demo(
            Settings(data_dir=data_dir, public_url="http://127.0.0.1:8000", key_backend="sealed")
        )
    finally:
        os.umask(old)
    assert _mode(data_dir) & 0o077 == 0, oct(_mode(data_dir))
    for name in ("dbp.sqlite3", "master.key", "demo.json"):
        assert _mode(data_dir / name) == 0o600, (name, oct(_mode(data_dir / name)))
    for sidecar in data_dir.glob("dbp.sqlite3-*"):  # WAL and shared memory, when present
        assert _mode(sidecar) & 0o077 == 0, (sidecar.name, oct(_mode(sidecar)))


def test_challenges_are_rate_limited_per_client(sqlite_url, make_settings):
    app = create_app(make_settings(sqlite_url, challenge_rate_per_minute=3))
    with TestClient(app) as client:
        answers = [client.post("/challenges") for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        refused = answers[-1]
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"].endswith("/rate-limited")
        assert 1 <= int(refused.headers["retry-after"]) <= 20
        # another client has its own allowance
    with TestClient(app, client=("203.0.113.7", 50000)) as other:
        assert other.post("/challenges").status_code == 200


@pytest.mark.parametrize("rate", [0])
def test_a_zero_rate_turns_the_limit_off(sqlite_url, make_settings, rate):
    app = create_app(make_settings(sqlite_url, challenge_rate_per_minute=rate))
    with TestClient(app) as client:
        assert {client.post("/challenges").status_code for _ in range(5)} == {200}


def test_security_headers_added_with_a_last_header():
    """SecurityHeaders.added, as service.scans calls it: the security headers an answer lacks,
    its own kept, and `last` (the request id) replacing one of the same name, at the end."""
    from infra.headers import SecurityHeaders

    security = SecurityHeaders(None, html_policy="default-src 'self'", https_public_url=True)
    answer = [(b"Content-Type", b"text/html; charset=utf-8"), (b"X-Frame-Options", b"SAMEORIGIN"),
              (b"X-Request-ID", b"theirs")]  # fmt: skip
    headers = security.added(answer, hsts=True, last=(b"x-request-id", b"ours"))
    assert headers[-1] == (b"x-request-id", b"ours")
    assert [v for n, v in headers if n.lower() == b"x-request-id"] == [b"ours"]
    assert (b"X-Frame-Options", b"SAMEORIGIN") in headers  # the answer's own wins
    assert (b"x-frame-options", b"DENY") not in headers
    assert (b"content-security-policy", b"default-src 'self'") in headers
    assert (b"strict-transport-security", b"max-age=31536000") in headers
    plain = security.added([(b"content-type", b"application/json")], hsts=False)
    assert (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'") in plain
    assert all(n != b"strict-transport-security" for n, _ in plain)


def test_request_ids_are_unique_and_a_forked_worker_draws_its_own():
    import os

    from service import observe

    ids = [observe.new_id() for _ in range(1000)]
    assert len(set(ids)) == 1000 and all(len(i) == 32 for i in ids)
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child: its first id, then out without running the parent's cleanup
        os.write(write, observe.new_id().encode())
        os._exit(0)
    os.close(write)
    forked = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(child, 0)
    assert len(forked) == 32
    assert forked[:16] != ids[0][:16]  # another random half: no id can repeat the parent's
