"""Helpers for resolver tests: batteries registered and passports issued through the issuer's API
into the database (the runtime's real passport source), batteries only in the routing registry,
signed public passport credentials, and other dbp instances really listening."""

from __future__ import annotations

import copy
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from resolver import registry
from service.db import session_scope
from service.http_protocol import UVICORN_HTTP
from vocab.catalogue import Tier
from vocab.context import (
    BATTERY_PASSPORT_CREDENTIAL,
    CREDENTIAL_CONTEXTS,
    PUBLIC_PASSPORT_CREDENTIAL,
)
from vocab.examples import load_example
from vocab.gs1 import item_key
from vocab.schemas import credential_schema
from vocab.tiers import split_by_tier

GTIN = "09520123456788"
REPO = Path(__file__).resolve().parents[2]


def register_battery(
    runtime: Any, holder_did: str, serial: str, gtin: str = GTIN, battery_id: str | None = None
) -> dict[str, str]:
    """A battery in the routing registry of `runtime`'s database; returns its ids and URIs."""
    battery_id = battery_id or str(uuid.uuid4())
    key = item_key(gtin, serial)
    with session_scope(runtime.engine) as session:
        route = registry.register(
            session,
            battery_id=battery_id,
            key=key,
            did_web_base=runtime.settings.did_web_base,
            holder_did=holder_did,
        )
        did = route.did
    return {
        "id": battery_id,
        "did": did,
        "path": key.path(),
        "uri": key.uri(runtime.settings.public_url),
        "gtin": key.gtin,
        "serial": serial,
    }


def public_subject(item_uri: str, example: str = "ev") -> dict[str, Any]:
    """The public tier of an example passport, about the battery `item_uri`."""
    passport = load_example(example)
    passport["batteryIdentifier"] = item_uri
    document = split_by_tier(passport)[Tier.PUBLIC]
    return {"id": item_uri, **document}


def public_credential(issuer: str, item_uri: str) -> dict[str, Any]:
    return {
        "@context": list(CREDENTIAL_CONTEXTS),
        "id": f"urn:uuid:{uuid.uuid4()}",
        "type": ["VerifiableCredential", BATTERY_PASSPORT_CREDENTIAL, PUBLIC_PASSPORT_CREDENTIAL],
        "issuer": issuer,
        "validFrom": "2026-06-15T09:30:00Z",
        "credentialSchema": credential_schema(Tier.PUBLIC),
        "credentialSubject": public_subject(item_uri),
    }


def issue(client: TestClient, operator: dict, credential: dict) -> dict:
    r = client.post(
        "/credentials/issue",
        json={"credential": credential},
        headers={"Authorization": f"Bearer {operator['token']}"},
    )
    assert r.status_code == 201, r.text
    return r.json()["verifiableCredential"]


def battery_with_passport(client: TestClient, operator: dict, serial: str) -> dict[str, Any]:
    """A battery registered with `POST /batteries` whose passport was issued with `POST
    .../passport` (stored in the database); its ids, URIs and signed public credential."""
    issued = issued_battery(client, operator, serial)
    return {
        "id": issued["id"],
        "did": issued["did"],
        "path": issued["path"],
        "uri": issued["itemUri"],
        "gtin": issued["gtin"],
        "serial": serial,
        "passportId": issued["passportId"],
        "credential": issued_public_credential(issued),
    }


def tamper_stored_credential(runtime: Any, credential_id: str, change: Any) -> None:
    """Change a signed credential where it is kept (its database row), as an intruder with write
    access to the database would; `change` edits the document in place."""
    from sqlalchemy.orm.attributes import flag_modified
    from sqlmodel import select

    from issuer.tables import IssuedCredential

    with session_scope(runtime.engine) as session:
        row = session.exec(
            select(IssuedCredential).where(IssuedCredential.credential_id == credential_id)
        ).one()
        document = copy.deepcopy(row.document)
        change(document)
        row.document = document
        flag_modified(row, "document")
        session.add(row)


# --- other dbp instances, really listening ---


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_health(base_url: str, timeout_s: float = 60.0, process=None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the instance at {base_url} exited with {process.returncode}")
        try:
            if httpx.get(base_url + "/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{base_url} did not answer /health within {timeout_s} s")


@dataclass
class Instance:
    """A second dbp service: `uvicorn service.asgi:app` in its own process with its own data."""

    url: str
    settings: Any
    process: subprocess.Popen

    def engine(self):
        from service.db import make_engine

        return make_engine(self.settings.resolved_database_url)


@contextmanager
def running_instance(data_dir: Path) -> Iterator[Instance]:
    from service.settings import Settings

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DBP_DATA_DIR": str(data_dir),
        "DBP_PUBLIC_URL": url,
        "DBP_DATABASE_URL": f"sqlite:///{data_dir / 'dbp.sqlite3'}",
    }
    settings = Settings(data_dir=data_dir, public_url=url, database_url=env["DBP_DATABASE_URL"])
    log = open(data_dir.parent / f"instance-{port}.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "service.asgi:app", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--http", UVICORN_HTTP],
        env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_for_health(url, process=process)
        yield Instance(url, settings, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
        log.close()


@contextmanager
def serving_in_thread(app: Any) -> Iterator[str]:
    """`app` served by uvicorn on a free port in this process, so a test can still swap parts of
    its runtime (the passport source) while a browser talks to it over real HTTP. The app's
    lifespan already ran (a TestClient started it), so uvicorn must not start another runtime."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(url)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=15)


# --- through the issuer's API (issue 3): registration, issuance, status ---


def auth(operator: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {operator['token']}"}


def issued_battery(client: TestClient, operator: dict, serial: str, gtin: str = GTIN) -> dict:
    """A battery registered with `POST /batteries` and issued with `POST .../passport`."""
    r = client.post("/batteries", json={"gtin": gtin, "serial": serial}, headers=auth(operator))
    assert r.status_code == 201, r.text
    battery = r.json()
    data = load_example("ev")
    for name in ("batteryIdentifier", "passportId", "passportVersion"):
        data.pop(name)
    r = client.post(f"/batteries/{battery['id']}/passport", json=data, headers=auth(operator))
    assert r.status_code == 201, r.text
    public_url = client.app.state.runtime.settings.public_url
    return {**battery, **r.json(), "path": battery["itemUri"].removeprefix(public_url)}


def issued_public_credential(battery: dict) -> dict:
    (public,) = [
        c for c in battery["verifiableCredentials"] if PUBLIC_PASSPORT_CREDENTIAL in c["type"]
    ]
    return public


def set_status(client: TestClient, operator: dict, credential_id: str, purpose: str, value: bool):
    return client.post(
        "/credentials/status",
        json={
            "credentialId": credential_id,
            "credentialStatus": {"type": "BitstringStatusListEntry", "statusPurpose": purpose},
            "status": value,
        },
        headers=auth(operator),
    )
