"""Benchmarks of `verifier`'s restricted-data path on a SQLite file, each against the bare work
it wraps:

- a restricted-data request (challenge, presentation and embedded credential verified with every
  check, policy, passport lookup, challenge spent and log row appended in one transaction) against
  verifying the same presentation alone (proofs and checks, no challenge, no log);
- appending one access-log row (writer lock, predecessor read, JCS + SHA-256, insert) against a
  plain insert of the same row;
- recomputing the chain, per row, against reading the rows.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text
from sqlmodel import Session, select

from bench.harness import Row, compare
from issuer import operators
from proofs import dataintegrity
from proofs.didkey import did_key, did_key_verification_method_id
from proofs.keys import Ed25519Key
from resolver import registry
from service.db import session_scope
from service.runtime import Runtime
from service.settings import Settings
from verifier import audit, challenges
from verifier.access import request_restricted_data
from verifier.accreditation import role_credential
from verifier.audit import Decision, verify_chain
from verifier.authority import responsible_operator
from verifier.tables import AccessLogEntry
from vocab.catalogue import Tier
from vocab.context import BATTERY_PASSPORT_CREDENTIAL, CREDENTIAL_CONTEXTS
from vocab.datetimes import utcnow
from vocab.examples import load_example
from vocab.gs1 import ItemKey
from vocab.schemas import credential_schema
from vocab.tiers import credential_type, split_by_tier

V2 = "https://www.w3.org/ns/credentials/v2"


@dataclass
class _Battery:
    id: str
    item_uri: str


class _Passports:
    def __init__(self, battery: _Battery, credentials: dict[Tier, dict]) -> None:
        self.battery, self.credentials = battery, credentials

    def battery_by_key(self, session: Session, gtin: str, serial: str) -> _Battery:
        return self.battery

    def credentials_for_tiers(self, session, battery_id: str, tiers: Iterable[Tier]) -> list:
        return [self.credentials[t] for t in Tier if t in set(tiers) and t in self.credentials]


def _setup(tmp: Path):
    settings = Settings(
        data_dir=tmp, database_url=f"sqlite:///{tmp / 'bench.sqlite3'}", public_url="http://b"
    )
    rt = Runtime.start(settings)
    key = ItemKey("09520123456788", "SN1")
    with session_scope(rt.engine) as session:
        acme, _ = operators.create_operator(
            session,
            name="acme",
            did_method="web",
            did_web_base=settings.did_web_base,
            master_key=rt.master_key,
        )
        battery_id = str(uuid.uuid4())
        registry.register(
            session,
            battery_id=battery_id,
            key=key,
            did_web_base=settings.did_web_base,
            holder_did=acme.did,
        )
        signing = operators.signing_key(session, acme, rt.master_key)
    passport = load_example("ev")
    passport["batteryIdentifier"] = key.uri(settings.public_url)
    credentials = {}
    for tier, doc in split_by_tier(passport).items():
        unsigned = {
            "@context": list(CREDENTIAL_CONTEXTS),
            "type": ["VerifiableCredential", BATTERY_PASSPORT_CREDENTIAL, credential_type(tier)],
            "issuer": acme.did,
            "validFrom": "2025-01-01T00:00:00Z",
            "credentialSchema": credential_schema(tier),
            "credentialSubject": doc,
        }
        credentials[tier] = dataintegrity.create_proof(
            unsigned, signing.key, signing.verification_method
        )
    rt.passports = _Passports(_Battery(battery_id, key.uri(settings.public_url)), credentials)
    holder_key = Ed25519Key.generate()
    holder = did_key(holder_key.public)
    with session_scope(rt.engine) as session:
        role = rt.sign_as_instance(
            session,
            role_credential(issuer=settings.did_web_base, subject=holder, roles=["recycling"]),
        )
    return rt, key, holder_key, holder, role


def run() -> list[Row]:
    tmp = Path(tempfile.mkdtemp(prefix="dbp-bench-verifier-"))
    rt, key, holder_key, holder, role = _setup(tmp)
    vm = did_key_verification_method_id(holder)
    domain = rt.settings.public_host

    def presentation(nonce: str) -> dict:
        vp = {
            "@context": [V2],
            "type": ["VerifiablePresentation"],
            "holder": holder,
            "verifiableCredential": [role],
        }
        return dataintegrity.create_proof(
            vp, holder_key, vm, proof_purpose="authentication", challenge=nonce, domain=domain
        )

    # Signing is the requester's work, not the verifier's: presentations are made in advance.
    def fresh_presentations(n: int) -> list[dict]:
        with session_scope(rt.engine) as session:
            nonces = [
                challenges.issue(
                    session,
                    domain=domain,
                    allowed_domains=rt.settings.allowed_challenge_domains,
                    ttl=timedelta(hours=1),
                ).id
                for _ in range(n)
            ]
        return [presentation(n) for n in nonces]

    pool = fresh_presentations(400)
    fixed = pool.pop()

    def access() -> None:
        vp = pool.pop()
        with Session(rt.engine, expire_on_commit=False) as session:
            request_restricted_data(
                session,
                key=key,
                battery_ref=key.uri(rt.settings.public_url),
                body={"verifiablePresentation": vp},
                passports=rt.passports,
                policy=rt.policy,
                verify=rt.presentation_verifier(),
                operator_of=responsible_operator,
            )

    def verify_only() -> None:
        with Session(rt.engine) as session:
            result = rt.verify_presentation(
                session, fixed, challenge=fixed["proof"]["challenge"], domain=domain
            )
        assert result.verified, result.as_dict()["errors"]

    rows = [
        compare("restricted-data request (SQLite)", access, "verify the same VP alone", verify_only)
    ]

    decision = Decision(requester=holder, role="legitimate-interest:recycling", tiers=["public"])

    def append() -> None:
        with session_scope(rt.engine) as session:
            audit.append(session, decision)

    # Negative sequence numbers: the timed appends (max(seq) + 1) never run into them.
    plain_seq = iter(range(-1, -10_000_000, -1))

    def plain_insert() -> None:
        with session_scope(rt.engine) as session:
            session.add(
                AccessLogEntry(
                    seq=next(plain_seq),
                    at=utcnow(),
                    action="restricted-data",
                    requester=holder,
                    tiers='["public"]',
                    outcome="refused",
                    prev_hash="0" * 64,
                    row_hash=uuid.uuid4().hex * 2,
                )
            )

    rows.append(
        compare("access-log append (one transaction)", append, "plain INSERT", plain_insert)
    )
    with session_scope(rt.engine) as session:  # the plain rows would break the chain
        session.execute(text("DELETE FROM access_log WHERE seq < 0"))
        for _ in range(2000):
            audit.append(session, decision)
    with Session(rt.engine) as session:
        count = verify_chain(session).rows

    def verify_all() -> None:
        with Session(rt.engine) as session:
            assert verify_chain(session).ok

    def read_all() -> None:
        with Session(rt.engine) as session:
            session.exec(select(AccessLogEntry).order_by(AccessLogEntry.seq)).all()

    chain = compare(f"dbp audit verify ({count} rows)", verify_all, "SELECT the rows", read_all)
    rows.append(chain)
    rt.close()
    return rows
