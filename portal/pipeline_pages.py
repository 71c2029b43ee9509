"""The data pipeline in the company portal: its runs, the records it quarantined (and fixing one
from the page) and where a passport value came from (its lineage). The pipeline
(DBP_PIPELINE_CONFIG) serves the whole deployment, so only the operators
DBP_PORTAL_PIPELINE_OPERATORS names see it.

A fix goes through the pipeline's own record validation at once (`pipeline.quarantine.fix_record`):
refused, the page shows every rule the corrected record still breaks and keeps what was typed;
accepted, the record's entries are set to `retry` and the pipeline runs at once on the staged
data, issuing as the signed-in operator in this process (portal/pipeline_issuing.py); the page
shows the passport it issued, or why not. Every attempt is kept in the pipeline's state with the
operator's DID, the values before and after and the reason, and listed on the page."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from infra.app import app_runtime
from pipeline.errors import PipelineError
from portal import forms, sessions
from portal.company import Signed, _page, signed_in
from portal.errors import BadForm, NotYours
from portal.ports import PortalRuntime
from vocab.datetimes import format_datetime, utcnow
from vocab.errors import VocabError

router = APIRouter(prefix="/portal/pipeline", include_in_schema=False)


def _state(rt: PortalRuntime, who: Signed):
    from pipeline.state import State

    return State(_config(rt, who).state_dir)


def _config(rt: PortalRuntime, who: Signed):
    from pipeline.config import load

    allowed = {n.strip() for n in rt.settings.portal_pipeline_operators.split(",") if n.strip()}
    if who.operator.name not in allowed:
        raise NotYours(
            "the data pipeline is not shown to this operator (DBP_PORTAL_PIPELINE_OPERATORS)"
        )
    if rt.settings.pipeline_config is None:
        error = NotYours("this instance has no data pipeline (DBP_PIPELINE_CONFIG)")
        error.status = 404
        raise error
    return load(rt.settings.pipeline_config)


@router.get("")
def overview(
    who: Signed = Depends(signed_in), rt: PortalRuntime = Depends(app_runtime)
) -> Response:
    state = _state(rt, who)
    try:
        runs = state.rows("select * from runs order by started_at desc limit 50")
        quarantined = state.rows(
            "select id, source, object_key, row, field, path, rule, message from quarantine "
            "where state in ('open', 'retry') order by source, object_key, row, field limit 500"
        )
    finally:
        state.close()
    for run in runs:
        summary = orjson.loads(run["summary"]) if run.get("summary") else {}
        run["summary"] = summary if isinstance(summary, dict) else {}
    return _page(
        "portal_pipeline.html", who, "/portal/pipeline", title="Data pipeline", runs=runs,
        quarantined=quarantined,
    )  # fmt: skip


@router.get("/lineage")
def lineage(
    item: str | None = Query(None),
    attribute: str | None = Query(None),
    who: Signed = Depends(signed_in),
    rt: PortalRuntime = Depends(app_runtime),
) -> Response:
    from pipeline.lineage import explain

    item_uri = forms.text(item, "Item URI", max_len=1024)
    wanted = forms.text(attribute, "Attribute", max_len=200)
    if item_uri is None or wanted is None:
        raise BadForm("give the battery's item URI and an attribute (number or passport path)")
    state = _state(rt, who)
    try:
        answer: dict[str, Any] = explain(state, item_uri, wanted)
    except (VocabError, PipelineError, KeyError) as exc:
        raise BadForm(f"{wanted}: {exc}") from None
    finally:
        state.close()
    return _page(
        "portal_lineage.html", who, "/portal/pipeline", title="Lineage", answer=answer,
    )  # fmt: skip


# --- fixing a quarantined record ----------------------------------------------------------------

MAX_VALUE = 2000


def _shown(value: Any) -> str:
    """A record's value as the form shows it: text as it is, anything else as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def _typed(text: str, original: Any) -> Any:
    """What was typed, as the record's value: text stays text when the record had text (CSV
    values are all text and the pipeline converts them); otherwise JSON when it parses (a
    number, true/false, a list), else the text."""
    if isinstance(original, str):
        return text
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def _record_page(
    who: Signed, qid: str, entries: list[dict[str, Any]], history: list[dict[str, Any]],
    *, status: int = 200, typed: dict[str, str] | None = None, problems: list | None = None,
    reason: str = "", fixed: bool = False, issued: Any = None,
) -> Response:  # fmt: skip
    from pipeline.formats import member

    first = entries[0]
    record = first["record"] if isinstance(first["record"], dict) else {}
    fields = [e["field"] for e in entries if e["field"]]
    editable = []
    for e in entries:
        if not e["field"] or e["field"] in [x["field"] for x in editable]:
            continue
        current = member(record, e["field"])
        pending = e["fix"].get("value") if isinstance(e["fix"], dict) else None
        editable.append(
            {
                "field": e["field"],
                "value": (typed or {}).get(
                    e["field"], _shown(pending if pending is not None else current)
                ),
                "original": _shown(current),
                "problems": [x for x in entries if x["field"] == e["field"]],
            }
        )
    others = [
        (k, orjson.dumps(v, option=orjson.OPT_INDENT_2).decode() if isinstance(v, dict | list)
         else _shown(v))
        for k, v in record.items() if k not in fields
    ]  # fmt: skip
    return _page(
        "portal_quarantine.html", who, "/portal/pipeline", status=status,
        title=f"Fix quarantined record: {first['source']} row {first['row']}", qid=qid,
        entry=first, entries=entries, editable=editable, others=others, history=history,
        problems=problems, reason=reason, fixed=fixed, issued=issued,
    )  # fmt: skip


@router.get("/quarantine/{qid}")
def quarantine_entry(
    qid: str,
    fixed: int = Query(0, ge=0, le=1),
    who: Signed = Depends(signed_in),
    rt: PortalRuntime = Depends(app_runtime),
) -> Response:
    from pipeline import quarantine

    state = _state(rt, who)
    try:
        entry = quarantine.entry(state, qid)
        if entry["state"] in ("open", "retry"):
            entries = quarantine.record_entries(state, qid)
        else:
            entries = [entry]
        history = quarantine.fix_history(state, entry["source"], entry["object"], entry["row"])
    except PipelineError as exc:
        raise _not_found(exc) from None
    finally:
        state.close()
    return _record_page(who, qid, entries, history, fixed=bool(fixed))


def _not_found(exc: Exception) -> NotYours:
    error = NotYours(str(exc))
    error.status, error.code = 404, "unknown-quarantine-entry"
    return error


@router.post("/quarantine/{qid}")
async def fix_entry(
    qid: str,
    request: Request,
    who: Signed = Depends(signed_in),
    rt: PortalRuntime = Depends(app_runtime),
) -> Response:
    form = await request.form()
    sessions.check_csrf(who.row, form.get("csrf"))
    return await run_in_threadpool(_fix, qid, form, who, rt)


def _fix(qid: str, form: Any, who: Signed, rt: PortalRuntime) -> Response:
    from pipeline import quarantine
    from pipeline.formats import member

    config = _config(rt, who)
    state = _state(rt, who)
    try:
        try:
            entries = quarantine.record_entries(state, qid)
        except PipelineError as exc:
            raise _not_found(exc) from None
        record = entries[0]["record"] if isinstance(entries[0]["record"], dict) else {}
        typed: dict[str, str] = {}
        values: dict[str, Any] = {}
        for fieldname in dict.fromkeys(e["field"] for e in entries if e["field"]):
            text = form.get(f"value:{fieldname}")
            if not isinstance(text, str):
                raise BadForm(f"{fieldname}: the form has no value for this field")
            text = text.strip()
            if len(text) > MAX_VALUE:
                raise BadForm(f"{fieldname}: at most {MAX_VALUE} characters")
            typed[fieldname] = text
            values[fieldname] = _typed(text, member(record, fieldname))
        reason_text = form.get("reason")
        reason = reason_text.strip()[:500] if isinstance(reason_text, str) else ""
        accepted, problems = quarantine.fix_record(
            state, config, qid, values, actor=who.operator.did,
            at=format_datetime(utcnow()), reason=reason or None,
        )  # fmt: skip
        first = entries[0]
        if not accepted:
            history = quarantine.fix_history(state, first["source"], first["object"], first["row"])
    finally:
        state.close()
    if not accepted:
        return _record_page(
            who, qid, entries, history, status=422, typed=typed, problems=problems, reason=reason
        )
    return _issue_fixed(qid, config, who, rt, first, quarantine.corrected(record, values))


def _issue_fixed(qid: str, config: Any, who: Signed, rt: PortalRuntime, first: dict, record: dict):
    """The accepted fix issued at once (portal.pipeline_issuing), and the page saying how."""
    from sqlalchemy.orm import object_session

    from issuer.transfer_api import notifier
    from pipeline import quarantine
    from portal.pipeline_issuing import issue_now

    # the request's session only read the sign-in: its connection goes back to the pool before
    # the run takes its own (one pooled connection per request at a time)
    request_session = object_session(who.row)
    if request_session is not None:
        request_session.close()
    issued = issue_now(rt, config, who.operator, first["source"], first["object"], first["row"],
                       record, notify=notifier(rt))  # fmt: skip
    state = _state(rt, who)
    try:
        entry = quarantine.entry(state, qid)
        entries = quarantine.record_entries(state, qid) if entry["state"] in ("open", "retry") \
            else [entry]  # fmt: skip
        history = quarantine.fix_history(state, first["source"], first["object"], first["row"])
    finally:
        state.close()
    return _record_page(who, qid, entries, history, fixed=True, issued=issued)
