"""Fixing a quarantined record (`pipeline.quarantine.fix_record`, what the company portal calls):
checked with the run's own validation, all of the record's entries at once, every attempt kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline import quarantine
from pipeline.config import parse
from pipeline.errors import UnknownQuarantineEntry
from pipeline.records import Facts, RecordRejected, add_record
from pipeline.state import State

AT = "2026-12-05T09:00:00Z"
BAD = {"gtin": "09520123456789", "serial": "SN 1", "at": "2026-02-10T06:00:00Z"}


@pytest.fixture
def setup(tmp_path: Path):
    config = parse(
        {
            "name": "t",
            "state": str(tmp_path / "state"),
            "sources": [{"name": "s", "level": "item", "registers_items": True,
                         "location": "x.csv", "keys": {"gtin": "gtin", "serial": "serial"},
                         "timestamp": "at", "fields": {}}],
        },
        tmp_path,
    )  # fmt: skip
    state = State(tmp_path / "state")
    with pytest.raises(RecordRejected) as caught:
        add_record(Facts(), config.sources[0], "x.csv", 3, dict(BAD))
    ids = quarantine.put(state, "run-1", AT, "s", "x.csv", 3, dict(BAD), caught.value.problems)
    yield config, state, ids
    state.close()


def test_every_broken_rule_of_the_record_must_be_fixed(setup):
    config, state, ids = setup
    assert len(ids) == 2  # the GTIN's check digit and the serial's space
    by_field = {quarantine.entry(state, i)["field"]: i for i in ids}
    ok, problems = quarantine.fix_record(
        state, config, by_field["serial"], {"serial": "SN-1"}, actor="did:web:op", at=AT
    )
    assert not ok and [p.field for p in problems] == ["gtin"]
    assert {quarantine.entry(state, i)["state"] for i in ids} == {"open"}
    ok, problems = quarantine.fix_record(
        state, config, by_field["serial"], {"serial": "SN-1", "gtin": "09520123456788"},
        actor="did:web:op", at=AT, reason="both typos",
    )  # fmt: skip
    assert ok and problems == []
    fixes = quarantine.fixes(state)
    assert fixes == {("s", "x.csv", 3): {"serial": {"value": "SN-1"},
                                          "gtin": {"value": "09520123456788"}}}  # fmt: skip
    history = quarantine.fix_history(state, "s", "x.csv", 3)
    assert [h["outcome"] for h in history] == ["accepted", "refused"]
    assert history[0]["changes"]["gtin"] == {"from": "09520123456789", "to": "09520123456788"}
    assert history[0]["reason"] == "both typos" and history[0]["actor"] == "did:web:op"


def test_only_the_quarantined_fields_of_an_open_entry(setup):
    config, state, ids = setup
    with pytest.raises(UnknownQuarantineEntry, match="not in quarantine"):
        quarantine.fix_record(state, config, ids[0], {"at": "x"}, actor="did:web:op", at=AT)
    with pytest.raises(UnknownQuarantineEntry):
        quarantine.fix_record(state, config, "q-nope", {}, actor="did:web:op", at=AT)
    assert quarantine.fix_history(state, "s", "x.csv", 3) == []


def test_a_retry_is_audited_with_the_operator_and_channel(setup):
    """`dbp pipeline quarantine retry` (quarantine.retry) writes `quarantine_fixes` like a fix
    from the portal: who (the operator DID), the channel, the value before and after, why."""
    config, state, ids = setup
    by_field = {quarantine.entry(state, i)["field"]: i for i in ids}
    done = quarantine.retry(state, by_field["serial"], AT, actor="did:web:op", value="SN-1",
                            reason="typo")  # fmt: skip
    assert done["state"] == "retry" and done["fix"] == {"value": "SN-1"}
    quarantine.retry(state, by_field["gtin"], "2026-12-05T09:01:00Z", actor="did:web:op",
                     override=True, reason="the supplier's GTIN, confirmed")  # fmt: skip
    history = quarantine.fix_history(state, "s", "x.csv", 3)
    assert [(h["channel"], h["outcome"], h["actor"]) for h in history] == [
        ("cli", "overridden", "did:web:op"),
        ("cli", "accepted", "did:web:op"),
    ]
    assert history[1]["changes"] == {"serial": {"from": "SN 1", "to": "SN-1"}}
    assert history[1]["reason"] == "typo" and history[0]["changes"] == {}
    with pytest.raises(UnknownQuarantineEntry):
        quarantine.retry(state, "q-000000000000", AT, actor="did:web:op")
    assert len(quarantine.fix_history(state, "s", "x.csv", 3)) == 2  # nothing for an unknown id
