"""Issue 8 (4): anchoring on anvil through the real JSON-RPC backend.

anvil (npm, automining) runs the PassportAnchor contract; the service runs under uvicorn on a
fresh PostgreSQL database with its anchoring worker on (`DBP_ANCHOR_WORKER=on`, batch size 5,000,
batch age 5 s, one confirmation, polling every 0.2 s).

- Throughput: 10,000 signed credentials' leaves are queued in one transaction (what bulk issuance
  does), then the worker closes batches, builds the Merkle proofs, sends one transaction per
  batch and confirms it. Credentials anchored per second = 10,000 / time until every leaf's batch
  is confirmed; baseline: building the Merkle root and all 10,000 inclusion proofs in-process,
  the least any batching scheme has to compute.
- Transactions per 10,000 credentials, from the anchor_transactions table; baseline: 10,000 /
  batch size, what the configuration allows at best.
- Issue to confirmed anchor: one passport issued over HTTP, then `GET /anchors/{credential id}`
  polled until `confirmed`. Dominated by the batch age (a lone passport's batch closes when its
  oldest leaf is 5 s old); baseline: one raw anvil transaction and its receipt.
"""

from __future__ import annotations

import time

import httpx
from sqlalchemy import create_engine, text

from bench.harness import Row, Stat, Target, per_op, quick, skipped
from bench.services import (
    ANVIL_KEYS,
    Unavailable,
    anvil,
    create_operator,
    deploy_anchor_contract,
    pg_database,
    send_raw,
    service,
)
from vocab.examples import load_example

SECTION = "anchoring"
BATCH_SIZE = 5000
BATCH_AGE_S = 5.0
LEAVES = 10_000


def credential(tag: str, i: int) -> dict:
    """A signed credential as the anchor layer sees it (it hashes the JCS bytes, verifies none)."""
    issuer = "did:web:bench.example:operators:acme"
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2", "https://w3id.org/dbp/v1"],
        "id": f"urn:uuid:{tag}-{i:08d}",
        "type": ["VerifiableCredential", "BatteryPassportCredential"],
        "issuer": issuer,
        "validFrom": "2026-01-01T00:00:00Z",
        "credentialSubject": {"id": f"did:web:bench.example:batteries:{tag}-{i}"},
        "proof": {
            "type": "DataIntegrityProof",
            "cryptosuite": "eddsa-rdfc-2022",
            "created": "2026-01-01T00:00:00Z",
            "verificationMethod": issuer + "#key-1",
            "proofPurpose": "assertionMethod",
            "proofValue": "z" + format(i * 7919, "x").rjust(86, "3"),
        },
    }


def _queue(database_url: str, tag: str, n: int) -> None:
    from anchor import outbox
    from service.db import make_engine, session_scope

    engine = make_engine(database_url)
    with session_scope(engine) as session:
        outbox.enqueue_many(session, [(None, credential(tag, i)) for i in range(n)])
    engine.dispose()


def _confirmed(conn, tag: str) -> int:
    return conn.execute(
        text(
            "SELECT count(*) FROM anchor_leaves l JOIN anchor_batches b ON l.batch_id = b.id "
            "WHERE b.state = 'confirmed' AND l.credential_id LIKE :p"
        ),
        {"p": f"urn:uuid:{tag}-%"},
    ).scalar_one()


def _anchor_transactions(conn) -> int:
    return conn.execute(text("SELECT count(*) FROM anchor_transactions WHERE kind = 'anchor'"))\
        .scalar_one()  # fmt: skip


def _throughput(database_url: str, tag: str, n: int) -> tuple[float, int]:
    """Credentials anchored per second and anchoring transactions sent, for `n` queued leaves."""
    engine = create_engine(database_url)
    with engine.connect() as conn:
        before = _anchor_transactions(conn)
    started = time.perf_counter()
    _queue(database_url, tag, n)
    while True:
        with engine.connect() as conn:
            if _confirmed(conn, tag) >= n:
                elapsed = time.perf_counter() - started
                sent = _anchor_transactions(conn) - before
                break
        if time.perf_counter() - started > 300:
            raise RuntimeError(f"{n} leaves not confirmed after 300 s")
        time.sleep(0.1)
    engine.dispose()
    return n / elapsed, sent


def _issue_to_confirmed(client: httpx.Client, serial: str) -> float:
    passport = load_example("ev")
    for key in ("batteryIdentifier", "passportId", "passportVersion"):
        passport.pop(key, None)
    battery = client.post("/batteries", json={"gtin": "09520123456788", "serial": serial})
    battery.raise_for_status()
    started = time.perf_counter()
    issued = client.post(f"/batteries/{battery.json()['id']}/passport", json=passport)
    issued.raise_for_status()
    credential_id = issued.json()["verifiableCredentials"][0]["id"]
    while True:
        receipt = client.get(f"/anchors/{credential_id}")
        if receipt.status_code == 200 and receipt.json().get("status") == "confirmed":
            return time.perf_counter() - started
        if time.perf_counter() - started > 120:
            raise RuntimeError(f"not confirmed after 120 s: {receipt.text[:300]}")
        time.sleep(0.05)


def _merkle_floor(n: int) -> Stat:
    from anchor import leaves, merkle

    digests = [merkle.leaf_hash(leaves.canonical_bytes(credential("m", i))[1]) for i in range(n)]
    stat = per_op(lambda: merkle.proofs(digests), min_time=0.3)
    return Stat(n / stat.median, n / stat.max, n / stat.min, "1/s", stat.n)


def run() -> list[Row]:
    rounds = 2 if quick() else 3
    n = LEAVES
    try:
        chain = anvil()
        rpc_url = chain.__enter__()
    except Unavailable as exc:
        return [skipped(SECTION, "anchoring on anvil", str(exc))]
    try:
        contract = deploy_anchor_contract(rpc_url)
        from eth_account import Account

        payee = Account.from_key(ANVIL_KEYS[0]).address  # a plain transfer: the chain's floor
        raw_tx = per_op(lambda: send_raw(rpc_url, ANVIL_KEYS[9], to=payee, data="0x", gas=21_000))
        env = {
            "DBP_CHAIN_BACKEND": "rpc", "DBP_CHAIN_RPC_URL": rpc_url, "DBP_CHAIN_ID": "31337",
            "DBP_ANCHOR_CONTRACT": contract, "DBP_ANCHOR_PRIVATE_KEY": ANVIL_KEYS[0],
            "DBP_ANCHOR_WORKER": "on", "DBP_ANCHOR_BATCH_SIZE": str(BATCH_SIZE),
            "DBP_ANCHOR_BATCH_AGE_S": str(BATCH_AGE_S), "DBP_ANCHOR_CONFIRMATIONS": "1",
            "DBP_ANCHOR_POLL_S": "0.2", "DBP_BULK_WORKER": "false",
        }  # fmt: skip
        rates, txs, latencies = [], [], []
        with pg_database("anchor") as db, service(db, **env) as svc:
            did, token = create_operator(db, svc.url)
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=svc.url, headers=headers, timeout=60) as client:
                for r in range(rounds):
                    latencies.append(_issue_to_confirmed(client, f"A{r}"))
            for r in range(rounds):
                rate, sent = _throughput(db, f"bench-r{r}", n)
                rates.append(rate)
                txs.append(sent * 10_000 / n)
        del did
    finally:
        chain.__exit__(None, None, None)
    ideal = 10_000 / BATCH_SIZE
    return [
        Row(SECTION, f"credentials anchored per second ({n:,} queued)", Stat.of(rates, "1/s"),
            "Merkle root + all proofs in-process", _merkle_floor(n)),
        Row(SECTION, "anchoring transactions per 10,000 credentials", Stat.of(txs, "count"),
            f"10,000 / batch size {BATCH_SIZE:,}", Stat.single(ideal, "count"),
            Target("<= 2 (one per 5,000)", "value", "<=", 2)),
        Row(SECTION, f"issue to confirmed anchor (batch age {BATCH_AGE_S:g} s)",
            Stat.of(latencies), "one raw anvil tx + receipt", raw_tx,
            Target("< 10 s", "value", "<=", 10.0)),
    ]  # fmt: skip
