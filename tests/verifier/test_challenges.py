"""Challenges (single use, expiry, domain) and appends to the log from many threads at once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from service.app import create_app
from service.db import make_engine, migrate, session_scope
from verifier import audit, challenges
from verifier.audit import Decision, verify_chain
from verifier.errors import (
    ChallengeExpired,
    ChallengeReplayed,
    ChallengeUnknown,
    DomainMismatch,
    DomainNotAllowed,
)
from verifier.tables import Challenge
from vocab.datetimes import as_utc, parse_datetime, utcnow

DOMAINS = frozenset({"dpp.example", "https://dpp.example"})


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    migrate(engine)
    yield engine
    engine.dispose()


def new(engine, **kw) -> str:
    with session_scope(engine) as session:
        options = {"domain": "dpp.example", "allowed_domains": DOMAINS, "ttl": timedelta(minutes=5)}
        return challenges.issue(session, **{**options, **kw}).id


def test_a_challenge_is_used_once(engine):
    nonce = new(engine)
    assert len(nonce) >= 43
    with session_scope(engine) as session:
        assert challenges.check(session, nonce, ["dpp.example"]).domain == "dpp.example"
        challenges.spend(session, nonce)
    with session_scope(engine) as session:
        with pytest.raises(ChallengeReplayed):
            challenges.check(session, nonce, ["dpp.example"])
        with pytest.raises(ChallengeReplayed):
            challenges.spend(session, nonce)


def test_expired_unknown_and_wrong_domain(engine):
    nonce = new(engine, ttl=timedelta(seconds=30))
    later = utcnow() + timedelta(seconds=31)
    with Session(engine) as session:
        with pytest.raises(ChallengeExpired):
            challenges.check(session, nonce, ["dpp.example"], later)
        with pytest.raises(ChallengeExpired):
            challenges.spend(session, nonce, later)
        session.rollback()
        with pytest.raises(ChallengeUnknown):
            challenges.check(session, "nope", ["dpp.example"])
        with pytest.raises(DomainMismatch):
            challenges.check(session, nonce, ["evil.example"])
        with pytest.raises(DomainMismatch):
            challenges.check(session, nonce, [])


def test_only_own_domains(engine):
    with pytest.raises(DomainNotAllowed):
        new(engine, domain="evil.example")
    assert new(engine, domain="https://dpp.example")


def test_old_challenges_are_purged(engine):
    with session_scope(engine) as session:
        challenges.issue(
            session,
            domain="dpp.example",
            allowed_domains=DOMAINS,
            ttl=timedelta(seconds=10),
            now=utcnow() - timedelta(days=2),
        )
    new(engine)
    with Session(engine) as session:
        assert len(session.exec(select(Challenge)).all()) == 1


def test_concurrent_spends_one_wins(engine):
    nonce = new(engine)
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def go() -> None:
        barrier.wait()
        try:
            with session_scope(engine) as session:
                challenges.spend(session, nonce)
            outcomes.append("spent")
        except ChallengeReplayed:
            outcomes.append("replayed")

    threads = [threading.Thread(target=go) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["replayed"] * 3 + ["spent"]


def test_concurrent_appends_never_fork(engine):
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def go(worker: int) -> None:
        barrier.wait()
        for i in range(10):
            try:
                with session_scope(engine) as session:
                    audit.append(session, Decision(requester=f"did:key:{worker}-{i}"))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

    threads = [threading.Thread(target=go, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Session(engine) as session:
        assert verify_chain(session) == audit.ChainReport(40)


# --- over HTTP -------------------------------------------------------------------------------


def test_post_challenges(app_client):
    r = app_client.post("/challenges")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["domain"] == "testserver"
    assert r.headers["cache-control"] == "no-store"
    expires = parse_datetime(body["expires"])
    assert timedelta(seconds=290) < expires - utcnow() <= timedelta(seconds=300)
    r = app_client.post("/challenges", json={"domain": "http://testserver"})
    assert r.status_code == 200 and r.json()["domain"] == "http://testserver"
    r = app_client.post("/challenges", json={"domain": "evil.example"})
    assert r.status_code == 400
    assert r.json()["type"].endswith("/domain-not-allowed")
    assert app_client.post("/challenges", json={"domain": 5}).status_code == 400


def test_configured_domains_and_lifetime(database_url, make_settings):
    settings = make_settings(
        database_url, challenge_domains="wallet.example, app.example", challenge_ttl_s=60
    )
    with TestClient(create_app(settings)) as client:
        r = client.post("/challenges", json={"domain": "app.example"})
        assert r.status_code == 200
        expires = as_utc(parse_datetime(r.json()["expires"]))
        assert expires - utcnow() <= timedelta(seconds=60)
