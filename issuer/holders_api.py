"""HTTP routes for holder DIDs hosted for wallets (`issuer.holders`)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from sqlmodel import Session

from infra.app import app_runtime
from infra.bodies import json_object
from infra.db import db_session
from infra.openapi import content, json_body, merge, problems
from infra.responses import json_response
from issuer import holders
from issuer.auth import current_operator
from issuer.ports import IssuerRuntime
from issuer.tables import Operator

router = APIRouter(tags=["DIDs"])

DID_JSON = "application/did+json"


@router.post(
    "/holders",
    status_code=201,
    responses=problems(403, 409, 422),
    openapi_extra=json_body(
        {
            "type": "object",
            "properties": {"name": {"type": "string"}, "publicKeyMultibase": {"type": "string"}},
        }
    ),
    summary="Host a wallet holder's did:web here",
)
def register_holder(
    body: dict = Depends(json_object),
    operator: Operator = Depends(current_operator),
    session: Session = Depends(db_session),
    rt: IssuerRuntime = Depends(app_runtime),
) -> Response:
    row = holders.register(
        session,
        name=body.get("name"),
        public_multibase=body.get("publicKeyMultibase"),
        did_web_base=rt.settings.did_web_base,
        operator=operator,
    )
    document = holders.did_document(row)
    session.commit()
    body = {
        "name": row.name,
        "did": row.did,
        "verificationMethod": document["verificationMethod"][0]["id"],
        "didDocument": document,
    }
    return json_response(body, 201, headers={"Location": f"/holders/{row.name}/did.json"})


@router.get(
    "/holders/{name}/did.json",
    responses=merge(content(200, DID_JSON), problems(404)),
    summary="A wallet holder's did:web document",
)
def holder_did_document(name: str, session: Session = Depends(db_session)) -> Response:
    return json_response(holders.did_document(holders.by_name(session, name)), media_type=DID_JSON)
