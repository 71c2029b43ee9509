"""Issuer HTTP routes: VC-API credential issuance and the operators' DID documents."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Depends
from fastapi.responses import Response
from sqlmodel import Session

from anchor import outbox as anchor_outbox
from issuer import credentials, operators
from issuer.errors import UnknownOperator
from issuer.tables import Operator
from service.bodies import json_object
from service.deps import current_operator, db_session, runtime
from service.runtime import Runtime

router = APIRouter()

DID_JSON = "application/did+json"


def _json(body: object, status: int = 200, media_type: str = "application/json") -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=media_type)


@router.post(
    "/credentials/issue",
    status_code=201,
    tags=["VC-API"],
    summary="Issue a credential signed by the authenticated operator",
)
def issue_credential(
    body: dict = Depends(json_object),
    operator: Operator = Depends(current_operator),
    session: Session = Depends(db_session),
    rt: Runtime = Depends(runtime),
) -> Response:
    if "credential" not in body:
        raise credentials.InvalidCredentialRequest("the request body must hold a credential")
    options = credentials.parse_options(body.get("options"))
    prepared = credentials.prepare(body["credential"], operator.did, options)
    signing = operators.signing_key(session, operator, rt.master_key)
    signed = credentials.sign(prepared, signing.key, signing.verification_method, options)
    # its integrity anchor is queued in this same transaction (anchor/outbox.py), filed under the
    # credential's own id (what holders and verifiers know), else the caller's credentialId
    anchor_outbox.enqueue(session, prepared.get("id") or options.reference(prepared), signed)
    session.commit()
    return _json({"verifiableCredential": signed}, status=201)


@router.get("/.well-known/did.json", tags=["DIDs"], summary="This service's own DID document")
def instance_did(session: Session = Depends(db_session)) -> Response:
    return _json(
        operators.did_document(session, operators.by_name(session, operators.INSTANCE_NAME)),
        media_type=DID_JSON,
    )


@router.get("/operators/{name}/did.json", tags=["DIDs"], summary="An operator's did:web document")
def operator_did(name: str, session: Session = Depends(db_session)) -> Response:
    operator = operators.by_name(session, name)
    if operator.did_method != "web" or operator.kind != "operator":
        raise UnknownOperator(f"operator {name!r} has no did:web document here")
    return _json(operators.did_document(session, operator), media_type=DID_JSON)
