"""Benchmarks of `issuer`: what one battery costs in bulk ingestion.

- prepare (validate + tier split + four eddsa-rdfc-2022 signatures, the work a signing process
  does per EV battery) against signing the public-tier credential alone;
- validate + split of the EV passport against validation alone;
- the database part of one bulk item (register, passport version, four credentials, eight status
  entries, item state; in-memory SQLite) against inserting one credential row.

The end-to-end number is the 10,000-battery test (tests/issuer/test_bulk_10k.py), which prints
its wall time: `make test PYTEST_ARGS="-s -k bulk_10k"`.

Measured on the 2-core development machine while other test suites shared it (load 4-7), so
every number is 2-4x what an idle machine gives (the proofs benchmarks, measured idle, sign the
public-tier credential in ~9 ms):

    issuer prepare EV (validate+split+4 signatures)  118-145 ms  vs public-tier signature 37-44 ms
    issuer validate + split EV                         24-27 ms  vs validation alone        6-8 ms
    issuer bulk item, database part (SQLite)              11 ms  vs one credential row     0.7 ms
    10,000 EV batteries, SIGKILL after ~3,335, restart, resume (server + 2 signing processes):
      PostgreSQL  733 s (13.6/s, with the anchor outbox and the claim index; load ~5),
                  663 s (15.1/s, before anchoring was merged)
      SQLite     1759 s (5.7/s, before the claim index; a second 10k run shared the machine)
"""

from __future__ import annotations

import uuid

from bench.harness import Row, compare
from issuer import bulk, operators, passports, store
from issuer.config import IssuerConfig
from proofs import dataintegrity
from proofs.keys import Ed25519Key
from service.db import make_engine, migrate, session_scope
from vocab.catalogue import Tier
from vocab.examples import load_example
from vocab.tiers import split_by_tier
from vocab.validation import validate_passport

CONFIG = IssuerConfig("http://bench.example", "did:web:bench.example", b"\x01" * 32)


def _ev() -> dict:
    data = load_example("ev")
    data["batteryIdentifier"] = "http://bench.example/01/09520123456788/21/B1"
    return data


def _entry(purpose: str) -> dict:
    url = f"http://bench.example/status-lists/{purpose}"
    return {
        "id": f"{url}#7",
        "type": "BitstringStatusListEntry",
        "statusPurpose": purpose,
        "statusListIndex": "7",
        "statusListCredential": url,
    }


def _plan(key: Ed25519Key) -> passports.IssuancePlan:
    assert key.private is not None
    return passports.IssuancePlan(
        passport=_ev(),
        battery_did="did:web:bench.example:batteries:b1",
        issuer_did="did:web:bench.example:operators:acme",
        valid_from="2026-01-01T00:00:00Z",
        credential_ids=tuple(f"urn:uuid:{uuid.uuid4()}" for _ in range(4)),
        statuses=tuple((_entry("revocation"), _entry("suspension")) for _ in range(4)),
        seed=key.private,
        verification_method="did:web:bench.example:operators:acme#key-1",
    )


def run() -> list[Row]:
    key = Ed25519Key.generate()
    plan = _plan(key)
    passport = validate_passport(_ev())
    public = passports.tier_credential(
        Tier.PUBLIC,
        split_by_tier(passport)[Tier.PUBLIC],
        credential_id="urn:uuid:1",
        issuer_did=plan.issuer_did,
        battery_did=plan.battery_did,
        valid_from=plan.valid_from,
        status=plan.statuses[0],
    )
    rows = [
        compare(
            "issuer prepare EV (validate+split+4 signatures)",
            lambda: passports.prepare(plan),
            "sign the public-tier credential",
            lambda: dataintegrity.create_proof(public, key, plan.verification_method),
        ),
        compare(
            "issuer validate + split EV",
            lambda: split_by_tier(validate_passport(_ev())),
            "validate EV",
            lambda: validate_passport(_ev()),
        ),
    ]
    engine = make_engine("sqlite://")
    migrate(engine)
    with session_scope(engine) as session:
        operator, _ = operators.create_operator(
            session,
            name="acme",
            did_method="web",
            did_web_base=CONFIG.did_web_base,
            master_key=CONFIG.master_key,
        )
    signing = None
    prepared = passports.prepare(plan)
    bare = {k: v for k, v in _ev().items() if k not in ("batteryIdentifier", "passportId")}
    counter = iter(range(10**9))

    def one_item() -> None:
        nonlocal signing
        n = next(counter)
        with session_scope(engine) as session:
            signing = signing or operators.signing_key(session, operator, CONFIG.master_key)
            job, _ = bulk.submit(
                session,
                operator,
                f"k{n}",
                {"items": [{"gtin": "09520123456788", "serial": f"S{n}", "passport": bare}]},
            )
        with session_scope(engine) as session:
            [claimed] = bulk.claim(session, "bench:1:x", 1)
            work = bulk.plan_item(session, CONFIG, operator, signing, claimed)
            fresh = passports.PreparedPassport(
                prepared.category,
                prepared.battery_status,
                prepared.predecessors,
                [
                    passports.PreparedCredential(c.tier, c.slot, {**c.document, "id": i})
                    for c, i in zip(prepared.credentials, work.plan.credential_ids, strict=False)
                ],
            )
            bulk.commit_item(session, CONFIG, operator, work, fresh)

    def one_row() -> None:
        with session_scope(engine) as session:
            store.store(
                session,
                operator_id=operator.id,
                document=prepared.credentials[0].document,
                kind=store.VC_API,
            )

    rows.append(
        compare(
            "issuer bulk item, database part (SQLite)",
            one_item,
            "store one credential row",
            one_row,
        )
    )
    engine.dispose()
    return rows
