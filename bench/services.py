"""Real parts for the end-to-end benchmarks: a PostgreSQL database per run, the service under
uvicorn, anvil from npm, and wrk from Debian. Everything listens on 127.0.0.1 and is stopped (by
process id) when its `with` block ends."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

REPO = Path(__file__).resolve().parent.parent
PG_ADMIN = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
MASTER_KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
CONTRACTS = REPO / "anchor" / "contracts"
ANVIL_CHAIN_ID = 31337
# anvil's well-known development keys ("test test ... junk"): #0 anchors, #9 deploys.
ANVIL_KEYS = {
    0: "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    9: "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
}


class Unavailable(Exception):
    """A tool the benchmark needs is missing and cannot be installed here (the row is skipped)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def pg_database(prefix: str) -> Iterator[str]:
    """A fresh PostgreSQL database for this run (dropped afterwards); yields its SQLAlchemy URL."""
    name = f"bench_{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True)
    except psycopg.OperationalError as exc:
        raise Unavailable(f"PostgreSQL at {PG_ADMIN} is not reachable: {exc}") from None
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0]
    try:
        yield f"postgresql+psycopg://{base.split('://', 1)[1]}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def service_env(database_url: str, data_dir: Path, public_url: str, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBP_")}
    env.update(
        DBP_DATA_DIR=str(data_dir),
        DBP_DATABASE_URL=database_url,
        DBP_PUBLIC_URL=public_url,
        DBP_MASTER_KEY=MASTER_KEY,
        DBP_ANCHOR_WORKER="off",
    )
    env.update(extra)
    return env


@dataclass
class Process:
    url: str
    process: subprocess.Popen
    log: Path


def wait_for(url: str, process: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status < 500:
                    return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise RuntimeError(f"{url} did not come up; log {log}:\n{tail}")
        time.sleep(0.1)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


# ASGI servers the benchmarks can run an app under (bench.ab_scans compares them): uvicorn (the
# service's own, httptools and uvloop as `uvicorn[standard]` installs them) and granian
# (`pip install granian`: not a dependency of the service; see bench/README.md).
SERVERS = ("uvicorn", "granian")


def _server_args(
    server: str, app: str, port: int, workers: int, http: str | None = None
) -> list[str]:
    if server == "granian":
        return [sys.executable, "-m", "granian", "--interface", "asgi", "--loop", "uvloop",
                "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
                "--log-level", "warning", "--no-access-log", app]  # fmt: skip
    if server != "uvicorn":
        raise ValueError(f"server {server!r}: one of {', '.join(SERVERS)}")
    args = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
            "--log-level", "warning", "--no-access-log"]  # fmt: skip
    args += ["--http", http] if http else []
    return args + (["--workers", str(workers)] if workers > 1 else [])


@contextmanager
def uvicorn(
    app: str,
    env: dict,
    *,
    port: int,
    workers: int = 1,
    log: Path,
    server: str = "uvicorn",
    tree: Path = REPO,
    http: str | None = None,
) -> Iterator[Process]:
    """`app` (module:attr) under uvicorn (or `server`) with `workers` worker processes on
    127.0.0.1:port; `tree`: the source tree whose code runs (another checkout, for an A/B);
    `http`: uvicorn's --http (its own protocol when None)."""
    args = _server_args(server, app, port, workers, http)
    with _started(args, env, port, log, tree) as process:
        yield process


@contextmanager
def _started(args: list[str], env: dict, port: int, log: Path, tree: Path) -> Iterator[Process]:
    """`args` run in `tree` with its output in `log`, until it answers GET /health on `port`."""
    if tree != REPO:
        env = {**env, "PYTHONPATH": str(tree)}
    with open(log, "ab") as out:
        process = subprocess.Popen(args, env=env, cwd=tree, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(url + "/health", process, log)
        yield Process(url, process, log)
    finally:
        _stop(process)


@contextmanager
def service(
    database_url: str,
    *,
    workers: int = 1,
    server: str = "uvicorn",
    tree: Path = REPO,
    **extra: str,
) -> Iterator[Process]:
    """The dbp service on `database_url`, migrated by its own start-up (`server`, `tree`: as
    for `uvicorn`). Under uvicorn it runs as deployed, by `dbp serve` (its HTTP protocol, its
    logging: one JSON line per request, at info unless `extra` sets DBP_LOG_LEVEL) with its
    output in a file."""
    tmp = Path(tempfile.mkdtemp(prefix="dbp-bench-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = service_env(
        database_url, tmp, url, **{"DBP_LOG_FORMAT": "json", "DBP_LOG_LEVEL": "info", **extra}
    )
    try:
        if server == "uvicorn":
            cli = [sys.executable, "-c", "from service.cli import app; app()"]
            serve = [*cli, "serve", "--host", "127.0.0.1", "--port", str(port),
                     "--workers", str(workers)]  # fmt: skip
            started = _started(serve, env, port, tmp / "log", tree)
        else:
            started = uvicorn(
                "service.asgi:app", env, port=port, workers=workers, log=tmp / "log",
                server=server, tree=tree,
            )  # fmt: skip
        with started as p:
            yield p
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def deployed_http(tree: Path = REPO) -> str | None:
    """uvicorn's --http as `dbp serve` runs the service from `tree` (None: uvicorn's own, for a
    checkout from before service/http_protocol.py)."""
    if not (tree / "service" / "http_protocol.py").exists():
        return None
    from service.http_protocol import UVICORN_HTTP

    return UVICORN_HTTP


def create_operator(database_url: str, public_url: str, name: str = "bench") -> tuple[str, str]:
    """An operator straight in the database (what `dbp operator create` does): (did, token)."""
    import base64

    from issuer import operators
    from service.db import make_engine, session_scope
    from service.settings import Settings

    settings = Settings(database_url=database_url, public_url=public_url, master_key=MASTER_KEY)
    engine = make_engine(database_url)
    try:
        with session_scope(engine) as session:
            operator, token = operators.create_operator(
                session,
                name=name,
                did_method="web",
                did_web_base=settings.did_web_base,
                master_key=base64.b64decode(MASTER_KEY),
            )
            return operator.did, token
    finally:
        engine.dispose()


# --- wrk ---------------------------------------------------------------------------------------


def wrk_binary() -> str:
    """wrk from PATH, else `apt-get install -y wrk` when running as root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        raise Unavailable("wrk is not installed and we are not root: apt-get install wrk")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "wrk"]
    if subprocess.run(install, capture_output=True, env=env).returncode != 0:
        # A fresh image has no package lists yet.
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, env=env)
        subprocess.run(install, capture_output=True, env=env)
    found = shutil.which("wrk")
    if not found:
        raise Unavailable("apt-get install wrk failed (no Debian mirror reachable?)")
    return found


@dataclass(frozen=True)
class LoadResult:
    requests_per_s: float
    p50_s: float
    p99_s: float
    requests: int
    errors: int  # non-2xx/3xx answers, socket errors and timeouts


_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def _duration(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not m:
        raise ValueError(f"wrk latency {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def cpu_seconds(pid: int) -> float:
    """User+system seconds of `pid` and of its live children (uvicorn's workers)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    children = Path(f"/proc/{pid}/task/{pid}/children")
    kids = children.read_text().split() if children.exists() else []
    return own + sum(cpu_seconds(int(kid)) for kid in kids)


@dataclass(frozen=True)
class Run:
    load: LoadResult
    cpu_s: float  # the server's user+system CPU per request over the run (its process tree)


def wrk_on(server: Process, script: Path, *, seconds: float, connections: int = 64) -> Run:
    """`wrk` against `server`, with the CPU its process tree spent per request meanwhile."""
    pid = server.process.pid
    before = cpu_seconds(pid)
    load = wrk(server.url, script, seconds=seconds, connections=connections)
    return Run(load, (cpu_seconds(pid) - before) / max(load.requests, 1))


def wrk(url: str, script: Path, *, seconds: float, connections: int = 64) -> LoadResult:
    args = [wrk_binary(), "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency",
            "--timeout", "30s", "-s", str(script), url]  # fmt: skip
    done = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {done.stderr or done.stdout}")
    return parse_wrk(done.stdout)


def parse_wrk(out: str) -> LoadResult:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _duration(re.search(r"\s50%\s+(\S+)", out).group(1))
    p99 = _duration(re.search(r"\s99%\s+(\S+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    errors = 0
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        errors += int(m.group(1))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        errors += sum(int(g) for g in m.groups())
    return LoadResult(rps, p50, p99, total, errors)


# --- anvil -------------------------------------------------------------------------------------


def anvil_binary() -> Path:
    """anvil from the npm package pinned in anchor/contracts (npm ci there when missing)."""
    if not (CONTRACTS / "node_modules" / ".package-lock.json").exists():
        npm = shutil.which("npm")
        if npm is None:
            raise Unavailable("npm is not installed: cannot install anvil")
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=CONTRACTS,
                              capture_output=True, text=True)  # fmt: skip
        if done.returncode != 0:
            raise Unavailable(f"npm ci in {CONTRACTS} failed: {done.stderr[-500:]}")
    found = sorted((CONTRACTS / "node_modules" / "@foundry-rs").glob("anvil-*/bin/anvil"))
    if not found:
        raise Unavailable("no anvil binary for this platform in @foundry-rs/anvil")
    return found[0]


_RPC = httpx.Client(timeout=10)  # one keep-alive connection, as a JSON-RPC backend keeps


def rpc(url: str, method: str, params: list | None = None):
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}
    answer = _RPC.post(url, json=body).json()
    if "error" in answer:
        raise RuntimeError(f"{method}: {answer['error']}")
    return answer["result"]


@contextmanager
def anvil(block_time: float | None = None) -> Iterator[str]:
    """anvil on a free port (automine unless `block_time`); yields its JSON-RPC URL."""
    tmp = Path(tempfile.mkdtemp(prefix="dbp-bench-anvil-"))
    port = free_port()
    args = [str(anvil_binary()), "--host", "127.0.0.1", "--port", str(port), "--silent"]
    if block_time is not None:
        args += ["--block-time", f"{block_time:g}"]
    log = tmp / "anvil.log"
    with open(log, "ab") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                rpc(url, "eth_chainId")
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"anvil did not start; see {log}") from None
                time.sleep(0.05)
        yield url
    finally:
        _stop(process)
        shutil.rmtree(tmp, ignore_errors=True)


def send_raw(url: str, key: str, *, to: str | None, data: str, gas: int) -> dict:
    """Sign and send one transaction from `key`; wait for its receipt (what a deploy needs)."""
    from eth_account import Account

    account = Account.from_key(key)
    nonce = int(rpc(url, "eth_getTransactionCount", [account.address, "pending"]), 16)
    tx = {"type": 2, "chainId": ANVIL_CHAIN_ID, "nonce": nonce, "gas": gas, "value": 0,
          "maxFeePerGas": 10**11, "maxPriorityFeePerGas": 10**9, "data": data}  # fmt: skip
    if to is not None:
        tx["to"] = to
    signed = account.sign_transaction(tx)
    tx_hash = rpc(url, "eth_sendRawTransaction", ["0x" + bytes(signed.raw_transaction).hex()])
    for _ in range(5000):
        receipt = rpc(url, "eth_getTransactionReceipt", [tx_hash])
        if receipt:
            return receipt
        time.sleep(0.002)
    raise RuntimeError("transaction not mined")


def deploy_anchor_contract(url: str) -> str:
    from anchor.chain import artifact

    receipt = send_raw(url, ANVIL_KEYS[9], to=None, data=artifact()["bytecode"], gas=400_000)
    return receipt["contractAddress"]
