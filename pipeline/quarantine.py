"""The quarantine: records that broke a rule, kept with the source, staged object, row, field,
passport path and rule, until the source delivers a fixed record (the entry resolves itself at
the next run) or an operator fixes or overrides it (`dbp pipeline quarantine retry`), after which
the next run reprocesses the record.

States: `open` (the record is withheld), `retry` (a fix or override waits for the next run),
`resolved` (the record passed), `overridden` (accepted as it was, by an operator's decision).
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from pipeline.errors import UnknownQuarantineEntry
from pipeline.records import Problem
from pipeline.state import State

OPEN, RETRY, RESOLVED, OVERRIDDEN = "open", "retry", "resolved", "overridden"
OVERRIDE = {"override": True}


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


def retry(state: State, qid: str, at: str, *, value: Any = None, override: bool = False,
          reason: str | None = None) -> dict[str, Any]:  # fmt: skip
    """Mark an entry for reprocessing: with a corrected `value` for its field, or `override`
    (accept the record as it is). Without either, the record is simply read again (after a
    change of the pipeline's configuration, for instance)."""
    entry(state, qid)
    fix = OVERRIDE if override else ({"value": value} if value is not None else None)
    state.db.execute(
        "update quarantine set state = 'retry', fix = ?, reason = ?, updated_at = ? where id = ?",
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
