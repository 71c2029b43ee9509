"""The data pipeline in the company portal: its runs, the records it quarantined and where a
passport value came from (its lineage). The pipeline (DBP_PIPELINE_CONFIG) serves the whole
deployment, so only the operators DBP_PORTAL_PIPELINE_OPERATORS names see it."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from pipeline.errors import PipelineError
from portal import forms
from portal.company import Signed, _page, signed_in
from portal.errors import BadForm, NotYours
from service.deps import runtime
from service.runtime import Runtime
from vocab.errors import VocabError

router = APIRouter(prefix="/portal/pipeline", include_in_schema=False)


def _state(rt: Runtime, who: Signed):
    from pipeline.config import load
    from pipeline.state import State

    allowed = {n.strip() for n in rt.settings.portal_pipeline_operators.split(",") if n.strip()}
    if who.operator.name not in allowed:
        raise NotYours(
            "the data pipeline is not shown to this operator (DBP_PORTAL_PIPELINE_OPERATORS)"
        )
    if rt.settings.pipeline_config is None:
        error = NotYours("this instance has no data pipeline (DBP_PIPELINE_CONFIG)")
        error.status = 404
        raise error
    return State(load(rt.settings.pipeline_config).state_dir)


@router.get("")
def overview(who: Signed = Depends(signed_in), rt: Runtime = Depends(runtime)) -> Response:
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
    rt: Runtime = Depends(runtime),
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
