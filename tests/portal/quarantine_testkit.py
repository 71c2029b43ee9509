"""Fixtures of the quarantine-fix tests: a one-source pipeline whose first run quarantines a
record, and the service (pipeline configured, operator `acme` allowed to see it) served on a
real port so that a run can issue at it; tests/portal/conftest.py makes `world` available."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from portal_testkit import GTIN, passport_data


def pipeline_folder(tmp: Path) -> Path:
    """A one-source pipeline: an item register (JSON) whose records carry the whole passport;
    the second record's serial has a space, which GS1 AI 21 does not allow."""
    passport = passport_data()
    items = [
        {"gtin": GTIN, "serial": "QF-1", "passport": passport},
        {"gtin": GTIN, "serial": "QF 2", "passport": passport},
    ]
    (tmp / "items.json").write_text(json.dumps({"items": items}))
    config = tmp / "pipeline.yaml"
    config.write_text(
        f"""name: qfix
state: {tmp / "state"}
engine: duckdb
sources:
  - name: items
    format: json
    location: items.json
    records: items
    level: item
    registers_items: true
    keys: {{gtin: gtin, serial: serial}}
    fields:
      passport: {{fragment: true}}
"""
    )
    return config


def run_pipeline(config: Path, service: str | None = None, token: str | None = None):
    from pipeline.config import load
    from pipeline.run import RunOptions, run

    return run(load(config), RunOptions(service=service, token=token))


@pytest.fixture
def world(sqlite_url, make_settings, tmp_path) -> Iterator[dict]:
    import uvicorn
    from server_testkit import free_port, wait_for_health  # noqa: F401

    from issuer import operators
    from service.app import create_app
    from service.db import session_scope

    folder = tmp_path / "pipeline"
    folder.mkdir()
    config = pipeline_folder(folder)
    first = run_pipeline(config)
    assert first.quarantined == 1 and [b.serial for b in first.complete] == ["QF-1"]

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = make_settings(
        sqlite_url, public_url=url, pipeline_config=config, portal_pipeline_operators="acme"
    )
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        rt = app.state.runtime
        with session_scope(rt.engine) as session:
            operator, token = operators.create_operator(
                session, name="acme", did_method="web", did_web_base=rt.settings.did_web_base,
                master_key=rt.master_key,
            )  # fmt: skip
            did = operator.did
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            _wait_for(url)
            yield {"client": client, "config": config, "url": url, "token": token, "did": did}
        finally:
            server.should_exit = True
            thread.join(timeout=15)


def _wait_for(url: str) -> None:
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer")
