"""Registering 10,000 batteries through the stand-in EU registry exactly once, with the registry
killed (kill -9) and restarted midway and the sync process killed and restarted too; then an
archived passport is deactivated there. On PostgreSQL, the production shape."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from pg_testkit import create_database
from registry_testkit import TOKEN, StandInRegistry, wait_until
from server_testkit import REPO, free_port
from sqlalchemy import func, insert
from sqlmodel import Session, select

from issuer import operators
from issuer.dppregistry import outbox
from issuer.dppregistry.tables import RegistryEntry, RegistryProfile
from issuer.tables import Battery
from proofs.sealing import new_master_key
from service.db import make_engine, migrate
from vocab.datetimes import utcnow

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

N = 10_000
PUBLIC = "https://dbp.example"
GTIN = "09520123456788"


@pytest.fixture
def pg_url():
    url, drop = create_database("dbp_reg10k")
    try:
        yield url
    finally:
        drop()


def _seed(engine) -> None:
    """10,000 batteries with a first passport queued for the registry (the rows
    `passports.commit` writes: `outbox.register_battery` in the issuing transaction)."""
    with Session(engine) as session:
        operator, _token = operators.create_operator(
            session, name="acme", did_method="web", did_web_base="did:web:dbp.example",
            master_key=new_master_key(),
        )  # fmt: skip
        session.add(RegistryProfile(operator_id=operator.id, reo_id="529900T8BM49AURSDO55"))
        rows = []
        now = utcnow()
        for i in range(N):
            bid = str(uuid.uuid4())
            serial = f"R{i:06d}"
            rows.append(
                {
                    "id": bid,
                    "gtin": GTIN,
                    "serial": serial,
                    "item_uri": f"{PUBLIC}/01/{GTIN}/21/{serial}",
                    "did": f"did:web:dbp.example:batteries:{bid}",
                    "operator_id": operator.id,
                    "passport_id": f"urn:uuid:{uuid.uuid4()}",
                    "created_at": now,
                    "updated_at": now,
                }  # fmt: skip
            )
        session.execute(insert(Battery), rows)
        session.commit()
        for battery in session.exec(select(Battery)):
            outbox.register_battery(session, battery)
        session.commit()


def _sync_process(env: dict, log: Path) -> subprocess.Popen:
    out = open(log, "ab")  # noqa: SIM115 - the process holds it
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "service.cli", "registry", "sync", "--follow"],
            env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    finally:
        out.close()


def _registered(engine) -> int:
    with Session(engine) as session:
        return session.exec(
            select(func.count()).where(RegistryEntry.state == outbox.REGISTERED)
        ).one()


def test_10k_batteries_registered_exactly_once_through_kills(pg_url, tmp_path):
    engine = make_engine(pg_url)
    migrate(engine)
    _seed(engine)
    registry = StandInRegistry(tmp_path, free_port())
    registry.start()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "DBP_DATABASE_URL": pg_url,
        "DBP_DATA_DIR": str(tmp_path / "var"),
        "DBP_PUBLIC_URL": PUBLIC,
        "DBP_REGISTRY_URL": registry.url,
        "DBP_REGISTRY_TOKEN": TOKEN,
        "DBP_REGISTRY_COMMODITY_CODE": "850760",
        "DBP_REGISTRY_POLL_S": "0.2",
        "DBP_REGISTRY_TIMEOUT_S": "5",
        "DBP_BACKUP_URL": "https://backup.example.org",
    }
    log = tmp_path / "sync.log"
    sync = _sync_process(env, log)
    try:
        # kill -9 the registry a third of the way through, while requests are in flight
        wait_until(lambda: registry.stats()["entries"] >= N // 3, 300, "a third registered")
        registry.kill()

        def failures_recorded() -> bool:
            with Session(engine) as session:
                return bool(
                    session.exec(select(func.count()).where(RegistryEntry.attempts > 0)).one()
                )

        wait_until(failures_recorded, 60, "the sync to record failed attempts")
        registry.start()  # the same entries file: what it had committed survives
        # kill -9 the sync process two thirds of the way, with entries claimed and in flight
        wait_until(lambda: registry.stats()["entries"] >= 2 * N // 3, 300, "two thirds")
        os.kill(sync.pid, signal.SIGKILL)
        sync.wait(timeout=30)
        sync = _sync_process(env, log)
        wait_until(lambda: _registered(engine) == N, 600, f"all {N} registered", 0.5)

        stats = registry.stats()
        there = registry.entries()
        assert stats["entries"] == N, stats
        assert stats["created"] == N, stats  # each UPI created once: nothing duplicated
        with Session(engine) as session:
            ours = {e.upi: e for e in session.exec(select(RegistryEntry))}
        assert set(ours) == set(there)  # nothing lost
        assert all(ours[u].registry_id == there[u]["registryId"] for u in ours)
        # sent again only where an answer was lost to a kill (at most the requests in flight)
        resent = sum(row["writes"] - 1 for row in there.values())
        assert resent == stats.get("modified", 0)
        assert resent <= 2 * 200, resent

        # the passport of one battery is archived (recycled): its entry is deactivated there
        with Session(engine) as session:
            battery = session.exec(select(Battery).where(Battery.serial == "R004711")).one()
            outbox.deactivate_battery(session, battery)
            session.commit()
        upi = f"{PUBLIC}/01/{GTIN}/21/R004711"
        wait_until(
            lambda: httpx_entry(registry, upi)["metadata"]["deactivated"] is True,
            60,
            "the deactivation to reach the registry",
        )
        assert registry.stats()["entries"] == N
    finally:
        sync.terminate()
        try:
            sync.wait(timeout=30)
        except subprocess.TimeoutExpired:
            sync.kill()
        registry.stop()
        engine.dispose()
    print(f"registry stats {stats}; re-sent after kills: {resent}")


def httpx_entry(registry: StandInRegistry, upi: str) -> dict:
    return registry.entries()[upi]
