"""The example pipeline against real processes: the supplier API (examples/pipeline/
supplier_api.py) on a free port and `dbp serve --demo` as a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from server_testkit import REPO, free_port, wait_for_health

EXAMPLE = REPO / "examples" / "pipeline"
sys.path.insert(0, str(EXAMPLE))

from supplier_api import make_server  # noqa: E402

# (source, field, rule) of the deliberate errors listed in examples/pipeline/generate.py
DELIBERATE_ERRORS = {
    ("erp-batteries", "gtin", "gs1-key"),
    ("erp-batteries", "serial", "gs1-key"),
    ("bom", "mass_g", "non-negative"),
    ("testlab", "capacity_unit", "unit"),
    ("telemetry", "soc_pct", "maximum"),
    ("supplier", "rated_capacity_ah", "type"),
    ("lca", "stage", "allowed-values"),
}


def copy_example(target: Path) -> Path:
    """A copy of the example's sources and YAML (tests change them)."""
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return target / "pipeline.yaml"


@contextmanager
def supplier_api(fail_first: int = 0, data: Path | None = None) -> Iterator[str]:
    port = free_port()
    server = make_server(port, "example-supplier-token", fail_first, data)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/v1/declarations"
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Demo:
    url: str
    token: str
    data_dir: Path
    env: dict[str, str]


@contextmanager
def demo_instance(data_dir: Path, pipeline_yaml: Path) -> Iterator[Demo]:
    """`dbp serve --demo` (SQLite under data_dir) with the pipeline's push API configured."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DBP_DATA_DIR": str(data_dir),
        "DBP_PUBLIC_URL": url,
        "DBP_PIPELINE_CONFIG": str(pipeline_yaml),
        # the embedded chain's anchor thread is not what these tests are about; it only takes CPU
        "DBP_ANCHOR_WORKER": "off",
    }
    env.pop("DBP_DATABASE_URL", None)
    log = open(data_dir.parent / f"demo-{port}.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--demo", "--port", str(port)],
        env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_for_health(url, process)
        token = json.loads((data_dir / "demo.json").read_text())["token"]
        yield Demo(url, token, data_dir, env)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)
        log.close()


def dbp(args: list[str], env: dict[str, str], timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "service.cli", *args],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def dbp_json(args: list[str], env: dict[str, str], ok_codes=(0,)) -> object:
    done = dbp([*args, "--json"], env)
    assert done.returncode in ok_codes, done.stderr[-3000:] + done.stdout[-2000:]
    return json.loads(done.stdout)
