"""Two real dbp instances (`uvicorn service.asgi:app` processes on loopback ports) that allow
each other (DBP_DID_WEB_ALLOWED_HOSTS), each with an operator, for hand-over tests."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from server_testkit import free_port, uvicorn_instance

from issuer import operators
from service.db import make_engine, session_scope
from service.settings import Settings
from vocab.examples import load_example

GTIN = "09520123456788"


@dataclass
class Instance:
    url: str
    settings: Settings
    process: subprocess.Popen
    operators: dict[str, dict[str, str]] = field(default_factory=dict)

    def add_operator(self, name: str) -> dict[str, str]:
        engine = make_engine(self.settings.resolved_database_url)
        try:
            with session_scope(engine) as session:
                operator, token = operators.create_operator(
                    session,
                    name=name,
                    did_method="web",
                    did_web_base=self.settings.did_web_base,
                    master_key=self.settings.load_keystore(),
                )
                self.operators[name] = {"name": name, "did": operator.did, "token": token}
        finally:
            engine.dispose()
        return self.operators[name]

    def client(self, operator: str | None = None) -> httpx.Client:
        headers = {}
        if operator is not None:
            headers["Authorization"] = f"Bearer {self.operators[operator]['token']}"
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


@contextmanager
def instance(
    data_dir: Path, port: int, database_url: str, allowed: str, extra_env: dict | None = None
) -> Iterator[Instance]:
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        **(extra_env or {}),
        "DBP_DATA_DIR": str(data_dir),
        "DBP_PUBLIC_URL": url,
        "DBP_DATABASE_URL": database_url,
        "DBP_DID_WEB_ALLOWED_HOSTS": allowed,
        "DBP_BULK_WORKER": "false",
        # calls between the two instances (did:web, status lists, transfers) get a total time
        # limit (infra/fetch.py); 5 s is tight for two busy local processes on a loaded CI box
        "DBP_DID_WEB_TIMEOUT_S": "30",
    }
    settings = Settings(data_dir=data_dir, public_url=url, database_url=database_url)
    with uvicorn_instance(url, port, env, data_dir.parent / f"instance-{port}.log") as process:
        yield Instance(url, settings, process)


@contextmanager
def two_instances(
    tmp: Path, database_url_a: str, env_b: dict | None = None
) -> Iterator[tuple[Instance, Instance]]:
    """Instance A (the manufacturer's, on `database_url_a`) and B (the second-life operator's,
    SQLite), each allowing the other; operators `acme` on A and `second-life` on B."""
    port_a, port_b = free_port(), free_port()
    allowed = f"http://127.0.0.1:{port_a},http://127.0.0.1:{port_b}"
    (tmp / "a" / "var").mkdir(parents=True)
    (tmp / "b" / "var").mkdir(parents=True)
    with ExitStack() as stack:
        a = stack.enter_context(instance(tmp / "a" / "var", port_a, database_url_a, allowed))
        b = stack.enter_context(
            instance(
                tmp / "b" / "var",
                port_b,
                f"sqlite:///{tmp / 'b' / 'dbp.sqlite3'}",
                allowed,
                env_b,
            )
        )
        a.add_operator("acme")
        b.add_operator("second-life")
        yield a, b


def passport_data(name: str = "ev") -> dict[str, Any]:
    data = load_example(name)
    for key in ("batteryIdentifier", "passportId", "passportVersion"):
        data.pop(key)
    return data


def issued_battery(a: Instance, operator: str, serial: str) -> dict[str, Any]:
    with a.client(operator) as client:
        r = client.post("/batteries", json={"gtin": GTIN, "serial": serial})
        assert r.status_code == 201, r.text
        battery = r.json()
        r = client.post(f"/batteries/{battery['id']}/passport", json=passport_data())
        assert r.status_code == 201, r.text
    return {**battery, **r.json(), "path": battery["itemUri"].removeprefix(a.url)}
