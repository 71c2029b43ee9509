"""One pooled connection per request, and a busy pool answers 503 at once (issue 13 item 10).
tests/resolver/test_page_burst.py is the load test; tests/conftest.py asserts the guard below
saw no second connection in any request of any test."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session

from infra import db as guard
from service.db import make_engine


def _guarded_app(engine, sessions: int) -> FastAPI:
    app = FastAPI()
    app.add_middleware(guard.OneConnectionPerRequest)

    @app.get("/sessions")
    def open_sessions() -> dict:
        opened = [Session(engine) for _ in range(sessions)]
        try:
            for session in opened:
                session.exec(text("SELECT 1"))
        finally:
            for session in opened:
                session.close()
        return {"ok": True}

    return app


@pytest.mark.parametrize("sessions, second", [(1, 0), (2, 1)])
def test_the_guard_sees_a_second_connection_in_one_request(sqlite_url, sessions, second):
    engine = make_engine(sqlite_url)
    try:
        with TestClient(_guarded_app(engine, sessions)) as client:
            for _ in range(2):  # the count is per request: two requests in turn are fine
                assert client.get("/sessions").status_code == 200
        found = list(guard.second_checkouts)
        guard.second_checkouts.clear()
        assert len(found) == 2 * second, found
        if second:
            assert found[0].startswith("GET /sessions: connection 2 taken at")
            assert "test_pool.py" in found[0]  # where it was taken
    finally:
        engine.dispose()


def test_an_exhausted_pool_answers_503_with_retry_after(app_client, operator_token):
    acme = operator_token("acme")
    engine = app_client.app.state.runtime.engine
    assert engine.pool.timeout() == guard.POOL_TIMEOUT_S
    held = [engine.connect() for _ in range(engine.pool.size() + engine.pool._max_overflow)]
    try:
        # before: the request queued for the pool's default 30 s, then answered 500
        r = app_client.get("/access-log", headers={"Authorization": f"Bearer {acme['token']}"})
    finally:
        for connection in held:
            connection.close()
    assert r.status_code == 503, r.text
    assert r.headers["retry-after"] == "1"
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("/database-busy")
    ok = app_client.get("/access-log", headers={"Authorization": f"Bearer {acme['token']}"})
    assert ok.status_code == 200, ok.text
