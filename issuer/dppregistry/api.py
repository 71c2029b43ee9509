"""`GET /batteries/{id}/registry`: the responsible operator sees its battery's registry entries,
with the registry's answer (its id and proof, or why it refused)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from sqlmodel import Session

from infra.db import db_session
from infra.openapi import content, merge, problems
from infra.responses import json_response
from issuer import batteries
from issuer.auth import current_operator
from issuer.dppregistry import outbox
from issuer.tables import Operator

router = APIRouter(tags=["EU registry"])


@router.get(
    "/batteries/{battery_id}/registry",
    responses=merge(content(200, "application/json"), problems(401, 403, 404)),
    summary="The battery's EU DPP registry entries and the registry's answers",
)
def battery_registry(
    battery_id: str,
    operator: Operator = Depends(current_operator),
    session: Session = Depends(db_session),
) -> Response:
    battery = batteries.get(session, battery_id)
    batteries.require_responsible(session, battery, operator)
    entries = [outbox.describe(e) for e in outbox.entries_of_battery(session, battery)]
    return json_response({"entries": entries})
