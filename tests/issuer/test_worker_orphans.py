"""Issue 13 item 10: after `kill -9` of the server, the bulk worker's signing processes exit by
themselves instead of staying behind with their memory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# A server stand-in: a BulkWorker's real process pool, started the way the worker starts it,
# with both signing processes up; it prints their pids and then waits to be killed.
SERVER = """
import os, sys
from issuer.worker import BulkWorker
worker = BulkWorker(engine=None, config=None, processes=2)
pool = worker._executor()
for future in [pool.submit(os.getpid) for _ in range(8)]:
    future.result()
print(" ".join(str(pid) for pid in pool._processes), flush=True)
sys.stdin.read()
"""


def _alive(pid: int) -> bool:
    """Running or sleeping; a zombie (exited, not yet reaped by the new parent) counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_signing_processes_exit_after_the_server_is_killed():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        line = server.stdout.readline()
        children = [int(pid) for pid in line.split()]
        assert len(children) == 2, f"expected two signing processes, got {line!r}"
        assert all(_alive(pid) for pid in children)
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
        deadline = time.monotonic() + 30
        while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.1)  # polling the condition, bounded by the deadline
        left = [pid for pid in children if _alive(pid)]
        assert not left, f"signing processes {left} outlived the killed server"
    finally:
        if server.poll() is None:
            server.kill()
        for pid in children if "children" in locals() else []:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
