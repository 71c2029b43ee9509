"""A bulk job against a real server process that is SIGKILLed twice mid-job and restarted: the job
resumes each time and every battery is issued exactly once."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import pytest
from issuer_testkit import GTIN, auth, passport
from sqlalchemy import text

from issuer import operators
from service.db import make_engine, migrate, session_scope
from service.http_protocol import UVICORN_HTTP

# The crash-and-resume story needs a job that crosses many claim windows (the worker claims up to
# 48 items at a time) and survives several restarts, not 10,000 items: 1,500 (SQLite) and 1,000
# (PostgreSQL) cross ~30 windows each and are killed twice, in ~1/5 of the time 10,000 took (324 of
# the suite's 595 s). The figure is an opt-in: DBP_TEST_BULK_ITEMS=10000
# (DBP_TEST_BULK_ITEMS_POSTGRES for PostgreSQL); bench/ measures issuance throughput.
ITEMS = {
    "sqlite": int(os.environ.get("DBP_TEST_BULK_ITEMS", "1500")),
    "postgres": int(os.environ.get("DBP_TEST_BULK_ITEMS_POSTGRES", "1000")),
}
CLAIM_WINDOW = 48  # issuer/worker.py BulkWorker(window=48)
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.env, self.port, self.log = env, port, log
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "service.asgi:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
                "--http",
                UVICORN_HTTP,
            ],
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the pool's processes die with it
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise AssertionError("server did not start:\n" + self.log.read_text()[-3000:])

    def kill(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


@pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_bulk_10k_survives_sigkill(database_url, tmp_path):
    items = ITEMS["sqlite" if database_url.startswith("sqlite") else "postgres"]
    assert items >= 10 * CLAIM_WINDOW, "too few items to cross several claim windows"
    kill_points = [items // 3, 2 * items // 3]
    engine = make_engine(database_url)
    migrate(engine)
    port = _free_port()
    public_url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DBP_DATABASE_URL": database_url,
        "DBP_DATA_DIR": str(tmp_path / "var"),
        "DBP_PUBLIC_URL": public_url,
    }
    from service.settings import Settings

    settings = Settings(data_dir=tmp_path / "var", database_url=database_url, public_url=public_url)
    with session_scope(engine) as session:
        operators.ensure_instance(
            session, did_web_base=settings.did_web_base, master_key=settings.load_keystore()
        )
        operator, token = operators.create_operator(
            session,
            name="acme",
            did_method="web",
            did_web_base=settings.did_web_base,
            master_key=settings.load_keystore(),
        )
        acme = {"did": operator.did, "token": token}
    template = passport("ev")
    body = orjson.dumps(
        {
            "items": [
                {"gtin": GTIN, "serial": f"K{i:06d}", "passport": template} for i in range(items)
            ]
        }
    )
    headers = {**auth(acme), "Idempotency-Key": "bulk-10k", "Content-Type": "application/json"}
    server = Server(env, port, tmp_path / "server.log")
    client = httpx.Client(base_url=public_url, timeout=120)
    try:
        started = time.monotonic()
        server.start()
        r = client.post("/batteries:bulk", content=body, headers=headers)
        assert r.status_code == 202, r.text
        job = r.json()["jobId"]
        killed_at = []
        for kill_after in kill_points:
            deadline = time.monotonic() + 1800
            while time.monotonic() < deadline:  # let part of the job through, then kill mid-job
                report = client.get(f"/jobs/{job}?limit=1", headers=auth(acme)).json()
                if report["done"] >= kill_after:
                    break
                time.sleep(0.2)  # polling a condition; the deadline bounds it
            server.kill()
            assert report["done"] < items, "the job finished before the crash"
            killed_at.append(report["done"])
            server.start()
            # the client retries its request after the crash: same key, same body, same job
            r = client.post("/batteries:bulk", content=body, headers=headers)
            assert r.status_code == 200, r.text
            assert r.json()["jobId"] == job
        deadline = time.monotonic() + 3600
        while time.monotonic() < deadline:
            report = client.get(f"/jobs/{job}?limit=1", headers=auth(acme)).json()
            if report["state"] == "finished":
                break
            time.sleep(1)
        elapsed = time.monotonic() - started
        print(
            f"\nbulk {items} EV batteries: {elapsed:.1f} s with SIGKILLs after {killed_at} "
            f"({items / elapsed:.1f} batteries/s)"
        )
        assert report["state"] == "finished", report
        assert (report["done"], report["failed"]) == (items, 0), report["errors"][:3]
    finally:
        client.close()
        server.stop()
    with engine.connect() as conn:
        q = lambda sql: conn.execute(text(sql)).scalar()  # noqa: E731
        assert q("select count(*) from batteries") == items
        assert q("select count(distinct serial) from batteries") == items
        assert q("select count(*) from battery_routes") == items
        assert q("select count(*) from passports") == items
        assert q("select count(*) from passports where version <> 1") == 0
        assert q("select count(*) from issued_credentials") == 4 * items
        assert (
            q(
                "select count(*) from (select battery_id from issued_credentials "
                "group by battery_id having count(*) <> 4 or count(distinct tier) <> 4) x"
            )
            == 0
        )
        assert q("select count(*) from status_entries") == 8 * items
        assert q("select count(*) from bulk_items where state <> 'done'") == 0
        assert (
            q("select count(*) from bulk_items b join batteries t on t.id = b.battery_id") == items
        )
    engine.dispose()
