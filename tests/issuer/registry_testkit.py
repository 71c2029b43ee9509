"""The stand-in EU registry as a real process for tests: start, kill -9, start again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

STANDIN = Path(__file__).with_name("registry_standin.py")
TOKEN = "eo-token-for-tests"


def wait_until(condition, timeout_s: float, what: str, interval_s: float = 0.1):
    """Poll `condition` until it returns something truthy; AssertionError naming `what` after
    `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


class StandInRegistry:
    def __init__(self, folder: Path, port: int) -> None:
        self.db = folder / "registry.sqlite3"
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = folder / "registry.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.log, "ab")  # noqa: SIM115 - the process holds it
        self.process = subprocess.Popen(
            [sys.executable, str(STANDIN), "--port", str(self.port), "--db", str(self.db),
             "--token", TOKEN],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        process = self.process

        def up() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"the stand-in registry exited: {self.log.read_text()}")
            try:
                return httpx.get(self.url + "/health", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(up, 60, "the stand-in registry to answer")

    def kill(self) -> None:
        """kill -9: no chance to finish anything."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
            self.process = None

    def stats(self) -> dict:
        return httpx.get(self.url + "/_standin/stats", timeout=10).json()

    def entries(self) -> dict[str, dict]:
        rows = httpx.get(self.url + "/_standin/entries", timeout=60).json()
        return {row["upi"]: row for row in rows}

    def fail(self, status: int, times: int) -> None:
        r = httpx.post(self.url + "/_standin/fail", json={"status": status, "times": times})
        r.raise_for_status()
