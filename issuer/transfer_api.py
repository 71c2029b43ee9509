"""HTTP routes of the hand-over (Art 77(7)): offers, acceptance, completion between instances,
and the notice that a new passport succeeds passports held here."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from sqlmodel import Session

from infra.app import app_runtime
from infra.bodies import json_object
from infra.db import db_session
from infra.openapi import json_body, problems
from infra.responses import json_response
from issuer import batteries, newlife, peers, transfers
from issuer.auth import current_operator
from issuer.errors import InvalidOffer
from issuer.ports import IssuerRuntime
from issuer.tables import Operator
from issuer.transactions import commit_with_retry
from resolver import registry
from vocab.datetimes import format_datetime, utcnow

router = APIRouter(tags=["transfers"])


def _credential(body: dict[str, Any]) -> Any:
    if "verifiableCredential" not in body:
        raise InvalidOffer("the request body must hold the transfer offer as verifiableCredential")
    return body["verifiableCredential"]


@router.post(
    "/batteries/{battery_id}/transfers",
    status_code=201,
    responses=problems(403, 404, 409, 422),
    openapi_extra=json_body(
        {
            "type": "object",
            "required": ["to"],
            "properties": {
                "to": {"type": "string", "description": "DID of the operator offered the battery"},
                "endpoint": {"type": "string", "description": "base URL of its dbp instance"},
                "expires": {"type": "string", "format": "date-time"},
                "ttlSeconds": {"type": "integer"},
            },
            "additionalProperties": False,
        }
    ),
    summary="Offer the battery to another operator: a BatteryTransferCredential signed by the "
    "responsible operator",
)
def offer_transfer(
    battery_id: str,
    body: dict = Depends(json_object),
    operator: Operator = Depends(current_operator),
    session: Session = Depends(db_session),
    rt: IssuerRuntime = Depends(app_runtime),
) -> Response:
    config = rt.issuer_config
    request = transfers.parse_offer_request(body, own_url=config.public_url, now=utcnow())
    row = commit_with_retry(
        session, lambda: transfers.offer(session, config, operator, battery_id, request)
    )
    return json_response(
        {
            "transferId": row.id,
            "id": row.credential_id,
            "state": row.state,
            "battery": battery_id,
            "to": row.to_did,
            "endpoint": row.endpoint or config.public_url.rstrip("/"),
            "expires": format_datetime(row.expires_at),
            "verifiableCredential": row.offer,
        },
        status=201,
        headers={"Location": row.credential_id},
    )


@router.post(
    "/transfers/accept",
    responses=problems(403, 404, 409, 410, 422, 502),
    openapi_extra=json_body(
        {
            "type": "object",
            "required": ["verifiableCredential"],
            "properties": {"verifiableCredential": {"type": "object"}},
        }
    ),
    summary="Accept a transfer offer made to the authenticated operator: countersign it and "
    "complete it at the instance that made it",
)
def accept_transfer(
    body: dict = Depends(json_object),
    operator: Operator = Depends(current_operator),
    session: Session = Depends(db_session),
    rt: IssuerRuntime = Depends(app_runtime),
) -> Response:
    return json_response(accept(session, rt, operator, _credential(body)))


def accept(
    session: Session, rt: IssuerRuntime, operator: Operator, credential: Any
) -> dict[str, Any]:
    """Accept an offer made to `operator` (the API above and the company portal): countersign,
    complete it where it was made, register the battery here."""
    config = rt.issuer_config
    resolve = rt.resolver(session).verification_method
    parsed, signed = transfers.countersign(session, config, operator, credential, resolve)
    local = registry.normalise_endpoint(parsed.origin, field="id", own_url=config.public_url)
    if local is None:
        answer = commit_with_retry(
            session, lambda: transfers.complete(session, config, signed, resolve)
        )
        battery = batteries.get(session, answer["battery"]["id"])
        arrival = None
    else:
        answer = peers.post_json(
            rt.http,
            rt.did_web_policy,
            f"{parsed.origin}/transfers/{parsed.transfer_id}/complete",
            {"verifiableCredential": signed},
        )
        battery = commit_with_retry(
            session, lambda: transfers.arrive(session, config, operator, answer, parsed.origin)
        )
        arrival = transfers.inbound(session, battery.id)
    here = transfers.arrived_battery_view(config, battery, arrival)
    if arrival is None:
        here["predecessor"] = [parsed.passport_id]
    return {**answer, "battery": {**answer.get("battery", {}), **here}}


@router.post(
    "/transfers/{transfer_id}/complete",
    responses=problems(403, 404, 409, 410, 422),
    openapi_extra=json_body(
        {
            "type": "object",
            "required": ["verifiableCredential"],
            "properties": {"verifiableCredential": {"type": "object"}},
        }
    ),
    summary="Complete a transfer offered here with the credential countersigned by the new "
    "operator (called by the receiving instance; idempotent)",
)
def complete_transfer(
    transfer_id: str,
    body: dict = Depends(json_object),
    session: Session = Depends(db_session),
    rt: IssuerRuntime = Depends(app_runtime),
) -> Response:
    document = _credential(body)
    parsed = transfers.read_offer(document)
    if parsed.transfer_id != transfer_id:
        raise InvalidOffer(f"the credential is transfer {parsed.transfer_id}, not {transfer_id}")
    config = rt.issuer_config
    resolve = rt.resolver(session).verification_method
    answer = commit_with_retry(
        session, lambda: transfers.complete(session, config, document, resolve)
    )
    return json_response(answer)


@router.post(
    "/passports/successors",
    responses=problems(403, 404, 409, 422),
    summary="Mark passports held here inactive: the public credential of the new passport that "
    "names them as predecessors, signed by the operator responsible for their batteries now",
)
def record_successor(
    body: dict = Depends(json_object),
    session: Session = Depends(db_session),
    rt: IssuerRuntime = Depends(app_runtime),
) -> Response:
    document = _credential(body)
    resolve = rt.resolver(session).verification_method
    marked = commit_with_retry(
        session, lambda: newlife.record_successor(session, document, resolve)
    )
    return json_response(
        {"inactive": marked, "successor": document["credentialSubject"].get("passportId")}
    )


def notifier(rt: IssuerRuntime):
    """newlife.Notify over HTTP to allowed instances."""

    def notify(origin: str, public_credential: dict) -> None:
        peers.post_json(
            rt.http,
            rt.did_web_policy,
            f"{origin.rstrip('/')}/passports/successors",
            {"verifiableCredential": public_credential},
        )

    return notify
