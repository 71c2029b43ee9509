"""The outbox, batch closing, accounts and leases on both databases (no chain involved)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from anchor_testkit import signed_looking
from sqlalchemy import text
from sqlmodel import Session, col, select

from anchor import accounts, leases, merkle, outbox, receipts
from anchor.runtime import AnchorRuntime
from anchor.tables import CLOSED, AnchorAccount, AnchorBatch, AnchorLeaf
from anchor.worker import AnchorWorker
from proofs.sealing import SealError
from service.db import make_engine, migrate


@pytest.fixture
def rt(database_url, make_settings):
    settings = make_settings(
        database_url,
        anchor_worker="off",
        anchor_batch_size=8,
        anchor_batch_age_s=3600,
        master_key="MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        # these tests are about the sealed anchoring key (test_custody_anchor.py: in a token)
        key_backend="sealed",
    )
    engine = make_engine(database_url)
    migrate(engine)
    runtime = AnchorRuntime(settings, engine, settings.load_keystore())
    yield runtime
    runtime.close()
    engine.dispose()


def leaf_rows(rt) -> list[AnchorLeaf]:
    with Session(rt.engine) as session:
        return list(session.exec(select(AnchorLeaf).order_by(col(AnchorLeaf.id))))


def test_enqueue_joins_the_callers_transaction(rt):
    with Session(rt.engine) as session:
        outbox.enqueue(session, None, signed_looking(1))
        session.rollback()  # the credential was not issued after all: no leaf either
    assert leaf_rows(rt) == []
    with Session(rt.engine) as session:
        row = outbox.enqueue(session, None, signed_looking(1))
        assert row.id is None  # not even flushed by enqueue
        session.commit()
    (row,) = leaf_rows(rt)
    assert row.credential_id == signed_looking(1)["id"] and row.encoding == "jcs"
    assert row.leaf == merkle.to_hex(
        merkle.leaf_hash(__import__("rfc8785").dumps(signed_looking(1)))
    )


def test_enqueue_deduplicates_the_same_document_not_a_reissue(rt):
    doc = signed_looking(2)
    with Session(rt.engine) as session:
        outbox.enqueue(session, None, doc)
        session.commit()
    with Session(rt.engine) as session:
        outbox.enqueue(session, None, doc)  # same bytes, same id: queued once
        reissued = {**doc, "validFrom": "2027-01-01T00:00:00Z"}  # same id, new content
        outbox.enqueue(session, None, reissued)
        outbox.enqueue(session, "urn:example:other-id", doc)  # filed under another id too
        session.commit()
    assert len(leaf_rows(rt)) == 3
    assert outbox_many(rt, [doc, reissued, signed_looking(3)]) == 1


def outbox_many(rt, docs) -> int:
    with Session(rt.engine) as session:
        added = outbox.enqueue_many(session, [(None, d) for d in docs])
        session.commit()
    return added


def test_closing_stores_every_proof_and_receipts_follow_the_state(rt):
    docs = [signed_looking(i) for i in range(20)]
    assert outbox_many(rt, docs) == 20
    worker = AnchorWorker(rt)
    assert worker.close_batches() == 2  # two full batches of 8; 4 leaves wait (young, few)
    with Session(rt.engine) as session:
        found = receipts.find(session, credential_id=docs[19]["id"])
        assert found is not None and receipts.build(*found)["status"] == "queued"
    assert worker.close_batches(force=True) == 1
    rows = leaf_rows(rt)
    with Session(rt.engine) as session:
        batches = {b.id: b for b in session.exec(select(AnchorBatch))}
        assert [b.leaf_count for b in batches.values()] == [8, 8, 4]
        assert {b.state for b in batches.values()} == {CLOSED}
        for row in rows:
            proof = [bytes.fromhex(p) for p in row.proof]
            assert merkle.verify(
                merkle.from_hex(row.leaf), proof, merkle.from_hex(batches[row.batch_id].root)
            )
        receipt = receipts.build(*receipts.find(session, credential_id=docs[3]["id"]))
    assert receipt["status"] == "batched"
    assert receipt["position"] == 3 and receipt["leafCount"] == 8
    assert "transaction" not in receipt and "block" not in receipt
    assert len(receipt["batchId"]) == 66 and receipt["batchId"].endswith("0" * 32)


def test_the_anchoring_key_is_stored_sealed(rt, make_settings):
    signer = rt.signer()  # embedded: created on first use
    with Session(rt.engine) as session:
        (account,) = session.exec(select(AnchorAccount)).all()
        assert account.address == signer.address and account.active
        raw = session.execute(text("select sealed_key from anchor_accounts")).scalar_one()
    assert len(bytes(raw)) == 1 + 12 + 32 + 16  # version, nonce, key, tag: nothing in clear
    with pytest.raises(SealError):
        accounts.Signer(account, b"\x00" * 32)
    # importing a key makes it the active one; importing it again changes nothing
    key = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
    with Session(rt.engine) as session:
        imported = accounts.store_key(session, rt.master_key, accounts.parse_private_key(key))
        accounts.store_key(session, rt.master_key, accounts.parse_private_key(key))
        session.commit()
        assert imported.address == "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
        assert [
            a.address for a in session.exec(select(AnchorAccount).where(AnchorAccount.active))
        ] == [imported.address]
    for bad in ("0x1234", "zz" * 32, "00" * 32):
        with pytest.raises(accounts.InvalidPrivateKey):
            accounts.parse_private_key(bad)
    assert "59c6995e" not in repr(accounts.Signer(imported, rt.master_key))


def test_leases(rt):
    engine = rt.engine
    assert leases.acquire(engine, "worker", "a", ttl_s=30)
    assert leases.acquire(engine, "worker", "a", ttl_s=30)  # renew
    assert not leases.acquire(engine, "worker", "b", ttl_s=30)  # held by a live holder
    leases.release(engine, "worker", "a")
    assert leases.acquire(engine, "worker", "b", ttl_s=0.2)
    time.sleep(0.3)
    assert leases.acquire(engine, "worker", "c", ttl_s=30)  # b let it expire
    # a holder whose process is gone (same host) is replaced at once
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    import socket

    ghost = f"{socket.gethostname()}:{dead.stdout.strip()}:x"
    assert leases.acquire(engine, "listener", ghost, ttl_s=3600)
    assert leases.acquire(engine, "listener", "d", ttl_s=30)
