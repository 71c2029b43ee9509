"""Real dbp processes for tests: a free loopback port, and waiting until a process answers."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from service.http_protocol import UVICORN_HTTP


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_health(url: str, process: subprocess.Popen, timeout_s: float = 90.0) -> None:
    """Until `url`/health answers 200; RuntimeError when the process exits or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the instance at {url} exited with {process.returncode}")
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer /health within {timeout_s} s")


REPO = Path(__file__).resolve().parents[1]


@contextmanager
def uvicorn_instance(
    url: str, port: int, env: dict[str, str], log_path: Path
) -> Iterator[subprocess.Popen]:
    """`uvicorn service.asgi:app` on 127.0.0.1:`port` with `env`, answering /health at `url`
    before it is yielded; terminated (killed if it lingers) afterwards. Output goes to
    `log_path`."""
    log = open(log_path, "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "service.asgi:app", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--http", UVICORN_HTTP],
        env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_for_health(url, process)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
        log.close()
