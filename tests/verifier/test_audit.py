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
    answer = json.loads(result.output)
    head = answer.pop("head")
    assert answer == {"ok": True, "rows": 5, "brokenAt": None, "problem": None}
    with Session(engine) as session:
        assert head == f"5:{audit.entries(session)[-1].row_hash}"


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


# --- the real attacks: rows rewritten together with their own hashes -----------------------------
# An editor who changes a row can recompute that row's hash too; the chain shows it only because
# the next row's prev_hash still names the old hash. (Editing a column alone, above, is caught by
# the row's own hash already, so it does not test the link.)


def rows_of(engine) -> list[dict]:
    with Session(engine) as session:
        return [dict(r.model_dump()) for r in audit.entries(session, limit=1000)]


def rewrite(engine, rows: list[dict]) -> None:
    """Replace the whole log with `rows`, each row's own hash recomputed (a careful forger)."""
    from verifier.tables import AccessLogEntry

    with session_scope(engine) as session:
        session.execute(text("DELETE FROM access_log"))
        for values in rows:
            row = AccessLogEntry(**values)
            row.row_hash = audit.row_digest(row)
            session.add(row)


def test_a_row_rewritten_with_its_own_hash_breaks_the_next_link(engine):
    fill(engine)
    rows = rows_of(engine)
    rows[2]["outcome"], rows[2]["tiers"] = "released", '["authorities","public"]'
    rewrite(engine, rows)
    broken = report(engine)
    assert (broken.broken_at, broken.rows) == (4, 3), broken
    assert broken.problem == "its prev_hash is not the hash of row 3"


def test_a_deleted_row_with_the_rest_renumbered_breaks_at_its_place(engine):
    fill(engine)
    rows = rows_of(engine)
    del rows[1]
    for seq, row in enumerate(rows, start=1):
        row["seq"] = seq
    rewrite(engine, rows)
    broken = report(engine)
    assert (broken.broken_at, broken.rows) == (2, 1), broken
    assert broken.problem == "its prev_hash is not the hash of row 1"


def test_reordered_rows_break_the_chain(engine):
    fill(engine)
    rows = rows_of(engine)
    rows[1]["seq"], rows[2]["seq"] = 3, 2
    rewrite(engine, sorted(rows, key=lambda r: r["seq"]))
    broken = report(engine)
    assert (broken.broken_at, broken.rows) == (2, 1), broken


def test_a_cut_tail_needs_the_head_kept_elsewhere(engine, database_url, tmp_path):
    fill(engine)
    intact = report(engine)
    kept = (intact.rows, intact.head)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM access_log WHERE seq > 3"))
    # the chain alone cannot tell: three rows, intact
    assert report(engine) == audit.ChainReport(3)
    # the head recorded before can
    with Session(engine) as session:
        cut = verify_chain(session, kept)
    assert (cut.broken_at, cut.rows) == (4, 3), cut
    assert "cut off the end" in cut.problem
    result = run_cli(database_url, tmp_path, "--head", f"{kept[0]}:{kept[1]}")
    assert result.exit_code == 1 and "BROKEN at row 4" in result.output, result.output
    # rows appended after the cut (a rewritten tail) make a valid chain too; the head shows it
    fill(engine, 2)
    with Session(engine) as session:
        assert verify_chain(session).ok
        assert verify_chain(session, kept).broken_at == 5
        assert verify_chain(session, (2, intact_row_hash(engine, 2))).ok


def intact_row_hash(engine, seq: int) -> str:
    with Session(engine) as session:
        return audit.entries(session, after=seq - 1, limit=1)[0].row_hash


def test_a_malformed_head_is_a_usage_error(engine, database_url, tmp_path):
    result = run_cli(database_url, tmp_path, "--head", "nonsense")
    assert result.exit_code == 2
    assert "--head must be ROW:HASH" in result.output


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
    rivals_battery = world.register("SN9", rival)
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
    rivals_battery = world.register("SN9", rival)
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
