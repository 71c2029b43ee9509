"""The bulk worker commits the signed items that are ready as one group (issuer.bulk.commit_group);
an item another worker finished, or a battery registered already, sends the group back to one
transaction per item: nothing of the others is lost, nothing is written twice."""

from __future__ import annotations

import pytest
from issuer_testkit import GTIN, passport
from sqlalchemy import text, update
from sqlmodel import Session, select

from issuer import batteries, bulk, operators
from issuer.config import IssuerConfig
from issuer.tables import BulkItem, Operator
from issuer.worker import BulkWorker
from service.db import make_engine, migrate, session_scope
from vocab.gs1 import item_key

MASTER = b"\x01" * 32


@pytest.fixture
def setup(database_url):
    engine = make_engine(database_url)
    migrate(engine)
    config = IssuerConfig("http://testserver", "did:web:testserver", MASTER)
    with session_scope(engine) as s:
        op, _ = operators.create_operator(
            s, name="acme", did_method="web", did_web_base=config.did_web_base, master_key=MASTER
        )
        items = [{"gtin": GTIN, "serial": f"G-{i}", "passport": passport("lmt")} for i in range(4)]
        job, _ = bulk.submit(s, op, "group", {"items": items})
        ids = (op.id, job.id)
    yield engine, config, *ids
    engine.dispose()


def _counts(engine) -> dict[str, int]:
    tables = ("batteries", "battery_routes", "passports", "issued_credentials", "status_entries")
    with engine.connect() as c:
        out = {t: c.execute(text(f"select count(*) from {t}")).scalar() for t in tables}
        out["anchor_leaves"] = c.execute(text("select count(*) from anchor_leaves")).scalar()
    return out


def _signed(worker: BulkWorker) -> tuple[list, dict]:
    keys: dict = {}
    fresh = worker._claim_and_submit(10, keys)
    assert fresh is not None and len(fresh) == 4
    return fresh, keys


def test_ready_items_are_committed_as_one_group(setup, monkeypatch):
    engine, config, _, job_id = setup
    worker = BulkWorker(engine, config, processes=1)
    fresh, keys = _signed(worker)

    def no_single(*_a, **_k):
        raise AssertionError("the group went one by one")

    monkeypatch.setattr(bulk, "commit_item", no_single)
    worker._finish_group(fresh, keys)
    assert _counts(engine) == {
        "batteries": 4,
        "battery_routes": 4,
        "passports": 4,
        "issued_credentials": 16,
        "status_entries": 32,
        "anchor_leaves": 16,
    }
    with Session(engine) as s:
        rows = s.exec(select(BulkItem).where(BulkItem.job_id == job_id)).all()
        assert {r.state for r in rows} == {bulk.DONE}
        assert all(r.battery_id and r.passport_id and r.claimed_until is None for r in rows)
        # the registry entries (Art 77(10)) and resolver views of the group's batteries
        assert s.execute(text("select count(*) from registry_entries")).scalar() == 4
        assert s.execute(text("select count(*) from resolver_views")).scalar() == 4


def test_an_item_done_elsewhere_or_a_taken_battery_loses_nothing_of_the_others(setup):
    engine, config, operator_id, job_id = setup
    worker = BulkWorker(engine, config, processes=1)
    fresh, keys = _signed(worker)
    with session_scope(engine) as s:
        # another worker finished item 1 meanwhile; item 3's battery was registered meanwhile
        s.execute(
            update(BulkItem)
            .where(BulkItem.job_id == job_id, BulkItem.position == 1)
            .values(state=bulk.DONE)
        )
        operator = s.get(Operator, operator_id)
        batteries.register(s, config, operator, item_key(GTIN, "G-3"))
    worker._finish_group(fresh, keys)
    counts = _counts(engine)
    assert counts["batteries"] == 3  # items 0 and 2, and the one registered beside the job
    assert (counts["passports"], counts["issued_credentials"]) == (2, 8)
    assert (counts["status_entries"], counts["anchor_leaves"]) == (16, 8)
    with Session(engine) as s:
        rows = {
            r.position: r for r in s.exec(select(BulkItem).where(BulkItem.job_id == job_id)).all()
        }
        assert rows[0].state == rows[2].state == bulk.DONE and rows[0].battery_id
        assert rows[1].state == bulk.DONE and rows[1].battery_id is None  # left as it was
        assert rows[3].state == bulk.FAILED and rows[3].error["code"] == "battery-exists"
