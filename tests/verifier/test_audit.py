"""The access log: tamper evidence (any edited field is reported at its row, by the library and by
`dbp audit verify`), the operators' and authorities' views, and the challenge race."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlmodel import Session
from typer.testing import CliRunner
from verifier_testkit import Holder

from service.cli import app as cli
from service.db import make_engine, migrate, session_scope
from verifier import audit
from verifier.access import request_restricted_data
from verifier.audit import Decision, verify_chain
from verifier.authority import responsible_operator
from verifier.errors import ChallengeReplayed
from verifier.tables import Challenge
from vocab.catalogue import Tier
from vocab.datetimes import utcnow
from vocab.gs1 import ItemKey

PUBLIC, LI, LIC, AUTH = (t.value for t in Tier)


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    migrate(engine)
    yield engine
    engine.dispose()


def fill(engine, rows: int = 5) -> None:
    for i in range(rows):
        with session_scope(engine) as session:
            audit.append(
                session,
                Decision(
                    requester=f"did:key:z6Mk{i}",
                    role="legitimate-interest:recycling",
                    credentials=[f"urn:uuid:{i}"],
                    battery="http://testserver/01/09520123456788/21/SN1",
                    operator="did:web:testserver:operators:acme",
                    tiers=["public", "legitimate-interest"],
                    outcome="released" if i % 2 == 0 else "refused",
                    reason=None if i % 2 == 0 else "untrusted-issuer",
                ),
            )


def report(engine) -> audit.ChainReport:
    with Session(engine) as session:
        return verify_chain(session)


def run_cli(database_url: str, tmp_path, *args: str):
    env = {"DBP_DATABASE_URL": database_url, "DBP_DATA_DIR": str(tmp_path / "cli")}
    return CliRunner().invoke(cli, ["audit", "verify", *args], env=env)


def test_empty_and_intact_chain(engine, database_url, tmp_path):
    assert report(engine) == audit.ChainReport(0)
    fill(engine)
    assert report(engine) == audit.ChainReport(5)
    result = run_cli(database_url, tmp_path)
    assert result.exit_code == 0, result.output
    assert "OK: 5 rows" in result.output
    result = run_cli(database_url, tmp_path, "--json")
    assert json.loads(result.output) == {"ok": True, "rows": 5, "brokenAt": None, "problem": None}


def test_rows_link_to_their_predecessor(engine):
    fill(engine, 3)
    with Session(engine) as session:
        rows = audit.entries(session)
    assert rows[0].prev_hash == audit.GENESIS
    assert [r.prev_hash for r in rows[1:]] == [r.row_hash for r in rows[:-1]]
    assert all(audit.row_digest(r) == r.row_hash for r in rows)


EDITS = {
    "at": "at = at + INTERVAL '1 second'",
    "action": "action = 'access-log'",
    "requester": "requester = 'did:key:z6MkSomeoneElse'",
    "requester-null": "requester = NULL",
    "role": "role = 'authority:commission'",
    "credentials": "credentials = '[]'",
    "battery": "battery = 'http://testserver/01/09520123456788/21/SN2'",
    "operator": "operator = 'did:web:testserver:operators:rival'",
    "tiers": """tiers = '["authorities","public"]'""",
    "outcome": "outcome = CASE WHEN outcome = 'released' THEN 'refused' ELSE 'released' END",
    "reason": "reason = 'grant-expired'",
    "prev_hash": "prev_hash = '" + "1" * 64 + "'",
    "row_hash": "row_hash = '" + "2" * 64 + "'",
    "seq": "seq = 99",
}


@pytest.mark.parametrize("field", sorted(EDITS))
def test_editing_any_field_breaks_the_chain_at_that_row(engine, database_url, tmp_path, field):
    fill(engine)
    edit = EDITS[field]
    if field == "at" and engine.dialect.name == "sqlite":
        edit = "at = datetime(at, '+1 second')"
    with engine.begin() as conn:
        assert conn.execute(text(f"UPDATE access_log SET {edit} WHERE seq = 3")).rowcount == 1
    broken = report(engine)
    assert broken.broken_at == 3, broken
    assert broken.rows == 2
    result = run_cli(database_url, tmp_path)
    assert result.exit_code == 1
    assert "BROKEN at row 3" in result.output


def test_a_deleted_row_is_reported_where_it_was(engine):
    fill(engine)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM access_log WHERE seq = 2"))
    broken = report(engine)
    assert (broken.broken_at, broken.rows) == (2, 1)
    assert "missing" in broken.problem


def test_appends_continue_the_chain(engine):
    fill(engine, 2)
    fill(engine, 2)
    assert report(engine) == audit.ChainReport(4)


# --- who sees which rows ------------------------------------------------------------------------


def test_operator_sees_decisions_about_its_batteries(world, operator_token):
    recycler = Holder.new()
    role = world.accredit(recycler.did, "recycling")
    world.present_and_access(recycler, [role], world.b1)
    world.access(world.b2, {})
    rival = operator_token("rival")
    rivals_battery = world.register("SN9", rival["did"])
    world.access(rivals_battery, {})

    r = world.client.get("/access-log", headers={"Authorization": f"Bearer {world.acme['token']}"})
    assert r.status_code == 200, r.text
    entries = r.json()["entries"]
    assert [(e["battery"], e["outcome"], e["reason"]) for e in entries] == [
        (world.b1.item_uri, "released", None),
        (world.b2.item_uri, "refused", "no-presentation"),
    ]
    assert entries[0]["requester"] == recycler.did
    assert entries[0]["tiers"] == sorted(
        ["public", "legitimate-interest", "legitimate-interest+commission"]
    )
    assert r.json()["next"] is None

    mine = world.client.get(
        "/access-log", headers={"Authorization": f"Bearer {rival['token']}"}
    ).json()["entries"]
    assert [e["battery"] for e in mine] == [rivals_battery.item_uri]

    only_b2 = world.client.get(
        "/access-log",
        params={"battery": "/01/09520123456788/21/SN2"},
        headers={"Authorization": f"Bearer {world.acme['token']}"},
    ).json()["entries"]
    assert [e["battery"] for e in only_b2] == [world.b2.item_uri]

    page = world.client.get(
        "/access-log",
        params={"limit": 1},
        headers={"Authorization": f"Bearer {world.acme['token']}"},
    ).json()
    assert len(page["entries"]) == 1 and page["next"] == page["entries"][0]["seq"]

    assert world.client.get("/access-log").status_code == 401


def test_authority_reads_the_whole_log(world, operator_token):
    rival = operator_token("rival")
    rivals_battery = world.register("SN9", rival["did"])
    world.access(rivals_battery, {})
    world.access(world.b1, {})
    officer = Holder.new()
    role = world.accredit(officer.did, "market-surveillance", jurisdiction="DE")
    nonce, domain = world.challenge()
    vp = officer.present([role], nonce, domain)
    r = world.client.post("/access-log/query", json={"verifiablePresentation": vp})
    assert r.status_code == 200, r.text
    entries = r.json()["entries"]
    assert [e["battery"] for e in entries[:2]] == [rivals_battery.item_uri, world.b1.item_uri]
    # the query itself is on record, and it is the last row
    last = entries[-1]
    assert (last["action"], last["requester"], last["outcome"]) == (
        "access-log",
        officer.did,
        "released",
    )
    assert last["role"] == "authority:market-surveillance"
    # one challenge, one query
    again = world.client.post("/access-log/query", json={"verifiablePresentation": vp})
    assert again.status_code == 401
    assert again.json()["type"].endswith("/challenge-replayed")


def test_legitimate_interest_cannot_read_the_log(world):
    recycler = Holder.new()
    role = world.accredit(recycler.did, "recycling")
    nonce, domain = world.challenge()
    vp = recycler.present([role], nonce, domain)
    r = world.client.post("/access-log/query", json={"verifiablePresentation": vp})
    assert r.status_code == 403
    assert r.json()["type"].endswith("/role-not-allowed")
    row = world.last_log()
    assert (row.action, row.outcome, row.reason, row.requester) == (
        "access-log",
        "refused",
        "role-not-allowed",
        recycler.did,
    )


def test_access_log_query_without_presentation(world):
    r = world.client.post("/access-log/query", json={})
    assert r.status_code == 401
    assert world.last_log().reason == "no-presentation"


# --- the challenge race ---------------------------------------------------------------------


def test_release_turns_into_refusal_when_the_challenge_was_spent_meanwhile(world):
    """Another request spends the challenge between this one's check and its commit: the log
    records the refusal, and no release."""
    recycler = Holder.new()
    role = world.accredit(recycler.did, "recycling")
    nonce, domain = world.challenge()
    vp = recycler.present([role], nonce, domain)
    rt = world.rt
    inner = rt.presentation_verifier()

    def verify_then_lose_the_race(session, presentation, challenge, dom):
        result = inner(session, presentation, challenge, dom)
        with session_scope(rt.engine) as other:
            other.get(Challenge, nonce).used_at = utcnow() - timedelta(seconds=1)
        return result

    with Session(rt.engine, expire_on_commit=False) as session, pytest.raises(ChallengeReplayed):
        request_restricted_data(
            session,
            key=ItemKey(world.b1.gtin, world.b1.serial),
            battery_ref=world.b1.item_uri,
            body={"verifiablePresentation": vp},
            passports=world.passports,
            policy=rt.policy,
            verify=verify_then_lose_the_race,
            operator_of=responsible_operator,
        )
    rows = world.log()
    assert [(r.outcome, r.reason) for r in rows] == [("refused", "challenge-replayed")]
