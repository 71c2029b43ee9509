"""docker-compose.yml as data: services, their commands and environments, with `${VAR:-default}`
interpolated the way Compose does, and rewritten for loopback (host names and ports only)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
SCHEMA_FILE = Path(__file__).parent / "compose-spec.json"
DBP = Path(sys.executable).parent / "dbp"  # the image's ENTRYPOINT, installed in this venv

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}")


def load() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def interpolate(value: str, env: dict[str, str]) -> str:
    """`${VAR}`, `${VAR:-default}` (unset or empty) and `${VAR-default}` (unset)."""

    def one(m: re.Match[str]) -> str:
        name, op, default = m.group(1), m.group(2), m.group(3) or ""
        if op == ":-":
            return env.get(name) or default
        if op == "-":
            return env.get(name, default)
        return env.get(name, "")

    return _VAR.sub(one, value)


def environment(service: dict[str, Any], env: dict[str, str] | None = None) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {k: interpolate(str(v), env or {}) for k, v in raw.items()}


@dataclass
class Loopback:
    """Where the compose file's host names point in a test: a database, anvil, secret files."""

    database_url: str
    chain_url: str
    secrets: Path
    data_root: Path

    def rewrite_env(self, env: dict[str, str], name: str) -> dict[str, str]:
        out = dict(env)
        if "DBP_DATABASE_URL" in out:
            # the compose URL names host `postgres`, user and database `dbp`: the test server's
            out["DBP_DATABASE_URL"] = self.database_url
        if "DBP_CHAIN_RPC_URL" in out:
            out["DBP_CHAIN_RPC_URL"] = self.chain_url
        for key, value in out.items():
            if value.startswith("/run/secrets/"):
                out[key] = str(self.secrets / value.removeprefix("/run/secrets/"))
        if "DBP_DATA_DIR" in out:
            data = self.data_root / name
            data.mkdir(parents=True, exist_ok=True)
            out["DBP_DATA_DIR"] = str(data)
        return out


def rewrite_command(command: list[str], port: int | None) -> list[str]:
    """The image's `dbp` entrypoint and the command, listening on 127.0.0.1:`port`."""
    out = list(command)
    for flag, value in (("--host", "127.0.0.1"), ("--port", str(port))):
        if flag in out and port is not None:
            out[out.index(flag) + 1] = value
    return [str(DBP), *out]


def same_database(url: str) -> str:
    return make_url(url).render_as_string(hide_password=False)


@dataclass
class Process:
    name: str
    args: list[str]
    env: dict[str, str]
    log_path: Path
    port: int | None = None
    popen: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Process:
        env = {**_base_env(), **self.env}
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps it; closed on stop
        self.popen = subprocess.Popen(
            self.args, env=env, cwd=self.log_path.parent, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        return self

    def wait_ready(self, path: str = "/readyz", timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if self.popen is not None and self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.popen.returncode}):\n{self.tail()}")
            try:
                r = httpx.get(self.url + path, timeout=5)
                if r.status_code == 200:
                    return
                last = r.text
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.25)
        raise RuntimeError(f"{self.name} not ready: {last}\n{self.tail()}")

    def stop(self) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=20)

    def log_lines(self) -> list[str]:
        return self.log_path.read_text(errors="replace").splitlines()

    def tail(self, n: int = 40) -> str:
        return "\n".join(self.log_lines()[-n:])


def _base_env() -> dict[str, str]:
    """This machine's environment without any DBP_* or alias setting that could leak in."""
    drop = {"DATABASE_URL", "CHAIN_RPC_URL"}
    return {k: v for k, v in os.environ.items() if not k.startswith("DBP_") and k not in drop}


def run(args: list[str], env: dict[str, str], cwd: Path, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, env={**_base_env(), **env}, cwd=cwd, capture_output=True, text=True, **kw
    )
