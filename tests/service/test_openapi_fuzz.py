"""Bad input never gives a 5xx, and the OpenAPI document says what each route answers (issue 13
item 7): schemathesis generates requests from the service's own /openapi.json (valid and
invalid parameters and bodies, every phase: coverage, fuzzing, stateful) and sends them to a
real `uvicorn service.asgi:app` seeded with the demo data, with and without an operator token.

Checks: no server error; every status code and Content-Type answered is one the document lists
for that route (status_code_conformance, content_type_conformance); JSON answers match the
schemas the document gives. Bounded by --max-examples per operation (about a minute per run on
a quiet 2-core machine); a fixed seed keeps CI repeatable, DBP_FUZZ_SEED / DBP_FUZZ_EXAMPLES
explore further."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from server_testkit import free_port, uvicorn_instance

from service.demo import seed_demo
from service.settings import Settings

pytestmark = pytest.mark.slow

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    ]
)
SEED = os.environ.get("DBP_FUZZ_SEED", "20261204")
EXAMPLES = os.environ.get("DBP_FUZZ_EXAMPLES", "25")


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> Iterator[tuple[str, str]]:
    """(base URL, demo operator token) of a real instance with the demo batteries."""
    data_dir = tmp_path_factory.mktemp("fuzz") / "var"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    demo = seed_demo(Settings(data_dir=data_dir, public_url=url))
    env = {
        **os.environ,
        "DBP_DATA_DIR": str(data_dir),
        "DBP_PUBLIC_URL": url,
        "DBP_BULK_WORKER": "false",
    }
    with uvicorn_instance(url, port, env, data_dir.parent / "uvicorn.log"):
        yield url, demo["token"]


@pytest.mark.parametrize("authenticated", [True, False], ids=["with-token", "without-token"])
def test_generated_requests_get_documented_answers_and_never_a_5xx(
    service, authenticated, tmp_path
):
    url, token = service
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "run",
        f"{url}/openapi.json",
        "--checks",
        CHECKS,
        "--max-examples",
        EXAMPLES,
        "--seed",
        SEED,
        "--generation-database",
        "none",
        "--request-timeout",
        "60",
        "--workers",
        "1",
        "--no-color",
    ]
    if authenticated:
        command += ["--header", f"Authorization: Bearer {token}"]
    run = subprocess.run(
        command,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "SCHEMATHESIS_TELEMETRY": "false"},
    )
    report = run.stdout + run.stderr
    assert run.returncode == 0, report[-20_000:]
    assert "Server error" not in report
