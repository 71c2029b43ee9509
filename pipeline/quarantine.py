"""The quarantine: records that broke a rule, kept with the source, staged object, row, field,
passport path and rule, until the source delivers a fixed record (the entry resolves itself at
the next run) or an operator fixes or overrides it (`dbp pipeline quarantine retry`), after which
the next run reprocesses the record.

A fix from the company portal (`fix_record`) is checked at once with the pipeline's own record
validation (`records.add_record`, the same code a run uses): a record that still breaks a rule is
refused with every problem, and nothing changes; one that passes has its entries set to `retry`
with the corrected values, which the next run applies, validates again and issues like any
record (the portal starts that run at once: portal/pipeline_issuing.py). A run settles the
quarantine only after its issue stage, so a fix outlives a run that fails before issuing.
Every attempt, accepted or refused, is kept in `quarantine_fixes` (who, when, the values before
and after, why), and so is every `dbp pipeline quarantine retry` (channel `cli`, outcome
`accepted`, or `overridden` for an override).

States: `open` (the record is withheld), `retry` (a fix or override waits for the next run),
`resolved` (the record passed), `overridden` (accepted as it was, by an operator's decision).
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from pipeline.config import PipelineConfig
from pipeline.errors import UnknownQuarantineEntry
from pipeline.formats import member
from pipeline.records import Facts, Problem, RecordRejected, add_record
from pipeline.state import State

OPEN, RETRY, RESOLVED, OVERRIDDEN = "open", "retry", "resolved", "overridden"
OVERRIDE = {"override": True}
# outcomes of an attempt in `quarantine_fixes`
ACCEPTED, REFUSED = "accepted", "refused"


def entry_id(source: str, object_key: str, row: int, field: str, rule: str) -> str:
    text = f"{source}\x00{object_key}\x00{row}\x00{field}\x00{rule}"
    return "q-" + hashlib.sha256(text.encode()).hexdigest()[:12]


def put(
    state: State,
    run_id: str,
    at: str,
    source: str,
    object_key: str,
    row: int,
    record: dict[str, Any],
    problems: list[Problem],
) -> list[str]:
    ids = []
    with state.transaction() as db:
        for p in problems:
            qid = entry_id(source, object_key, row, p.field, p.rule)
            ids.append(qid)
            db.execute(
                "insert into quarantine (id, source, object_key, row, field, path, rule, message, "
                "record, first_run, last_run, state, updated_at) values "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?) on conflict (id) do update set "
                "last_run = excluded.last_run, message = excluded.message, state = 'open', "
                "record = excluded.record, updated_at = excluded.updated_at",
                (qid, source, object_key, row, p.field, p.path, p.rule, p.message,
                 orjson.dumps(record, default=str).decode(), run_id, run_id, at),
            )  # fmt: skip
    return ids


def fixes(state: State) -> dict[tuple[str, str, int], dict[str, Any]]:
    """Operators' fixes waiting for this run: (source, object, row) -> {field: value|OVERRIDE}."""
    out: dict[tuple[str, str, int], dict[str, Any]] = {}
    for row in state.rows("select * from quarantine where state = 'retry' and fix is not null"):
        key = (row["source"], row["object_key"], row["row"])
        out.setdefault(key, {})[row["field"]] = orjson.loads(row["fix"])
    return out


def settle(state: State, run_id: str, at: str, seen: set[str], sources: set[str]) -> None:
    """After a run: entries of the processed sources not seen again are settled: `overridden`
    when an operator overrode them, else `resolved` (the record now passes or is gone)."""
    with state.transaction() as db:
        rows = db.execute(
            "select id, source, state, fix from quarantine where state in ('open', 'retry')"
        ).fetchall()
        for qid, source, current, fix in rows:
            if qid in seen or source not in sources:
                continue
            is_override = fix is not None and orjson.loads(fix) == OVERRIDE
            new = OVERRIDDEN if (current == RETRY and is_override) else RESOLVED
            db.execute(
                "update quarantine set state = ?, last_run = ?, updated_at = ? where id = ?",
                (new, run_id, at, qid),
            )


def entries(state: State, *, all_states: bool = False) -> list[dict[str, Any]]:
    sql = "select * from quarantine"
    if not all_states:
        sql += " where state in ('open', 'retry')"
    return [_public(r) for r in state.rows(sql + " order by source, object_key, row, field")]


def entry(state: State, qid: str) -> dict[str, Any]:
    row = state.one("select * from quarantine where id = ?", (qid,))
    if row is None:
        raise UnknownQuarantineEntry(f"no quarantine entry {qid!r}")
    return _public(row)


def retry(state: State, qid: str, at: str, *, actor: str, value: Any = None,
          override: bool = False, reason: str | None = None,
          channel: str = "cli") -> dict[str, Any]:  # fmt: skip
    """Mark an entry for reprocessing: with a corrected `value` for its field, or `override`
    (accept the record as it is). Without either, the record is simply read again (after a
    change of the pipeline's configuration, for instance). Like a fix from the portal, it is
    kept in `quarantine_fixes` with `actor` (the operator DID it is made as) and `channel`,
    in the same transaction as the change, so no retry goes unaudited."""
    current = entry(state, qid)
    fix = OVERRIDE if override else ({"value": value} if value is not None else None)
    record = current["record"]
    field = current["field"]
    before = member(record, field) if isinstance(record, dict) and field else None
    if override:
        changes: dict[str, Any] = {}
        outcome = OVERRIDDEN
    else:
        to = value if value is not None else before  # read again as it is
        changes = {field: {"from": before, "to": to}} if field else {}
        outcome = ACCEPTED
    with state.transaction() as db:
        db.execute(
            "insert into quarantine_fixes (at, source, object_key, row, entries, actor, channel, "
            "changes, reason, outcome, problems) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, null)",
            (at, current["source"], current["object"], current["row"],
             orjson.dumps([qid]).decode(), actor, channel,
             orjson.dumps(changes, default=str).decode(), reason, outcome),
        )  # fmt: skip
        db.execute(
            "update quarantine set state = 'retry', fix = ?, reason = ?, updated_at = ? "
            "where id = ?",
            (orjson.dumps(fix).decode() if fix is not None else None, reason, at, qid),
        )
    return entry(state, qid)


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "state": row["state"],
        "source": row["source"],
        "object": row["object_key"],
        "row": row["row"],
        "field": row["field"],
        "path": row["path"],
        "rule": row["rule"],
        "message": row["message"],
        "record": orjson.loads(row["record"]),
        "firstRun": row["first_run"],
        "lastRun": row["last_run"],
        "fix": orjson.loads(row["fix"]) if row["fix"] else None,
        "reason": row["reason"],
    }


# --- fixes from the company portal ----------------------------------------------------------------


def record_entries(state: State, qid: str) -> list[dict[str, Any]]:
    """The open entries of the record `qid` belongs to (one per broken rule), `qid`'s first;
    UnknownQuarantineEntry when `qid` is not an open entry."""
    first = entry(state, qid)
    if first["state"] not in (OPEN, RETRY):
        raise UnknownQuarantineEntry(f"quarantine entry {qid!r} is {first['state']}, not open")
    rows = state.rows(
        "select * from quarantine where source = ? and object_key = ? and row = ? and state in "
        "('open', 'retry') order by field, rule",
        (first["source"], first["object"], first["row"]),
    )
    others = [_public(r) for r in rows if r["id"] != qid]
    return [first, *others]


def _set(record: dict[str, Any], fieldname: str, value: Any) -> None:
    node = record
    parts = fieldname.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[parts[-1]] = value


def corrected(record: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """A copy of `record` with `values` (dotted field -> value) set, as a fix applies them."""
    out = orjson.loads(orjson.dumps(record, default=str))
    for fieldname, value in values.items():
        _set(out, fieldname, value)
    return out


def fix_record(
    state: State,
    config: PipelineConfig,
    qid: str,
    values: dict[str, Any],
    *,
    actor: str,
    at: str,
    reason: str | None = None,
    channel: str = "company-portal",
) -> tuple[bool, list[Problem]]:
    """Correct the fields `values` names of the record entry `qid` belongs to and check the
    corrected record with the pipeline's validation: (True, []) and its entries wait for the
    next run (`retry`) with the values, or (False, the problems) and nothing changes. Either way
    the attempt is recorded in `quarantine_fixes`."""
    entries = record_entries(state, qid)
    first = entries[0]
    fields = {e["field"] for e in entries}
    unknown = sorted(set(values) - fields)
    if unknown:
        raise UnknownQuarantineEntry(
            f"field(s) {', '.join(unknown)} of this record are not in quarantine"
        )
    record = orjson.loads(orjson.dumps(first["record"]))
    before = {f: member(record, f) if isinstance(record, dict) else None for f in values}
    overrides = {e["field"] for e in entries if e["fix"] == OVERRIDE and e["field"] not in values}
    problems: list[Problem] = []
    source = next((s for s in config.sources if s.name == first["source"]), None)
    if source is None:
        problems = [Problem("", None, "source", f"the pipeline has no source {first['source']!r}")]
    elif not isinstance(record, dict):
        problems = [Problem("", None, "type", "a record is a JSON object")]
    else:
        for fieldname, value in values.items():
            _set(record, fieldname, value)
        try:
            add_record(Facts(), source, first["object"], first["row"], record, overrides)
        except RecordRejected as exc:
            problems = exc.problems
    accepted = not problems
    with state.transaction() as db:
        db.execute(
            "insert into quarantine_fixes (at, source, object_key, row, entries, actor, channel, "
            "changes, reason, outcome, problems) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (at, first["source"], first["object"], first["row"],
             orjson.dumps([e["id"] for e in entries]).decode(), actor, channel,
             orjson.dumps({f: {"from": before[f], "to": v} for f, v in values.items()},
                          default=str).decode(),
             reason, ACCEPTED if accepted else REFUSED,
             orjson.dumps([p.__dict__ for p in problems]).decode() if problems else None),
        )  # fmt: skip
        if accepted:
            why = f"fixed by {actor} ({channel})" + (f": {reason}" if reason else "")
            for e in entries:
                if e["field"] in values:
                    fix = orjson.dumps({"value": values[e["field"]]}).decode()
                elif e["fix"] is not None:
                    continue  # an earlier fix or override of another field stays as it is
                else:
                    fix = None  # passes now: read again as it is
                db.execute(
                    "update quarantine set state = 'retry', fix = ?, reason = ?, updated_at = ? "
                    "where id = ?",
                    (fix, why, at, e["id"]),
                )
    return accepted, problems


def fix_history(state: State, source: str, object_key: str, row: int) -> list[dict[str, Any]]:
    """The fixes submitted for one record, newest first."""
    out = []
    for r in state.rows(
        "select * from quarantine_fixes where source = ? and object_key = ? and row = ? "
        "order by seq desc",
        (source, object_key, row),
    ):
        out.append(
            {
                "at": r["at"],
                "actor": r["actor"],
                "channel": r["channel"],
                "changes": orjson.loads(r["changes"]),
                "reason": r["reason"],
                "outcome": r["outcome"],
                "problems": orjson.loads(r["problems"]) if r["problems"] else [],
            }
        )
    return out
