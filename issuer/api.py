"""Issuer HTTP routes: VC-API issuance and status, batteries, passports, events, status lists,
bulk jobs, key rotation, and the operators' DID documents."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response
from sqlmodel import Session

from infra.app import app_runtime
from infra.bodies import json_object
from infra.db import db_session
from infra.openapi import content, json_body, merge, problems, unchanged
from infra.responses import json_response
from issuer import (
    batteries,
    bulk,
    credentials,
    events,
    grants,
    newlife,
    operator_identity,
    operators,
    statuslists,
    store,
    views,
)
from issuer.auth import current_operator
from issuer.config import IssuerConfig
from issuer.errors import InvalidBulkRequest, UnknownBattery, UnknownOperator
from issuer.ports import IssuerRuntime
from issuer.tables import Operator
from issuer.transactions import commit_with_retry
from issuer.transfer_api import notifier
from vocab.integers import INT64_MAX

router = APIRouter()

DID_JSON = "application/did+json"
VC_JSON = "application/vc+ld+json"
JSON = "application/json"


def issuer_config(rt: IssuerRuntime = Depends(app_runtime)) -> IssuerConfig:
    return rt.issuer_config


@router.post(
    "/credentials/issue",
    responses=merge(content(201, JSON), problems(403, 409, 422)),
    openapi_extra=json_body(
        {
            "type": "object",
            "required": ["credential"],
            "properties": {"credential": {"type": "object"}, "options": {"type": "object"}},
        }
    ),
    status_code=201,
    tags=["VC-API"],
    summary="Issue a credential signed by the authenticated operator",
)
def issue_credential(
    body: dict = Depends(json_object),
    operator: Operator = Depends(current_operator),
    session: Session = Depends(db_session),
    rt: IssuerRuntime = Depends(app_runtime),
) -> Response:
    if "credential" not in body:
        raise credentials.InvalidCredentialRequest("the request body must hold a credential")
    options = credentials.parse_options(body.get("options"))
    prepared = credentials.prepare(body["credential"], operator.did, options)
    purposes = credentials.status_purposes(prepared, options, rt.issuer_config.vc_api_status)
    if purposes and options.reference(prepared) is None:
        # a credential with status must be nameable in POST /credentials/status
        prepared["id"] = f"urn:uuid:{uuid.uuid4()}"
    # VC-API: the caller refers to the credential later by options.credentialId, else its id.
    credential_id = options.reference(prepared)

    def work() -> dict:
        if grants.is_grant(prepared):
            # A grant gets status entries so the operator can withdraw it (issuer.grants).
            return grants.sign_grant(
                session, rt.issuer_config, operator, rt.master_key, prepared, options
            )
        earlier = store.previous(session, credential_id)
        if earlier is not None:
            # Issue 14 item 4: the same request again (a suite run twice against one database, a
            # client retrying) gets the credential issued the first time; another credential
            # under a taken id stays a 409.
            if earlier.operator_id == operator.id and credentials.same_issue(
                earlier.document, prepared, options, purposes
            ):
                return earlier.document
            store.check_new_id(session, credential_id)
        entries = statuslists.allocate_purposes(session, rt.issuer_config, operator, purposes)
        document = (
            credentials.add_status(prepared, [e.entry for e in entries]) if entries else prepared
        )
        signing = operators.signing_key(session, operator, rt.master_key)
        signed = credentials.sign(document, signing.key, signing.verification_method, options)
        store.store(
            session,
            operator_id=operator.id,
            document=signed,
            kind=store.VC_API,
            credential_id=credential_id,
            status_entries=entries,
        )
        return signed

    signed = commit_with_retry(session, work)
    return json_response({"verifiableCredential": signed}, status=201)


@router.post(
    "/grants",
    responses=merge(content(201, JSON), problems(422)),
    openapi_extra=json_body(
        {
            "type": "object",
            "required": ["grantee", "batteries", "tiers", "expiry"],
            "properties": {
                "grantee": {"type": "string", "description": "The DID granted access"},
                "batteries": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "Battery ids or GS1 Digital Link URIs of this operator's",
                },
                "tiers": {"type": "array", "items": {"type": "string"}},
                "expiry": {"type": "string", "format": "date-time"},
            },
            "additionalProperties": False,
        }
    ),
    status_code=201,
    tags=["Grants"],
    summary="Grant a named party access to tiers of this operator's batteries until a date",
)
def issue_grant(
    body: dict = Depends(json_object),
    operator: Operator = Depends(current_operator),
    session: Session = Depends(db_session),
    rt: IssuerRuntime = Depends(app_runtime),
) -> Response:
    def work() -> dict:
        subject = grants.grant_subject(session, operator, body)
        credential = grants.grant_credential(operator.did, subject)
        return grants.sign_grant(
            session, rt.issuer_config, operator, rt.master_key, credential,
            credentials.IssueOptions(),
        )  # fmt: skip

    signed = commit_with_retry(session, work)
    return json_response({"verifiableCredential": signed}, status=201)


@router.get(
    "/grants",
    responses=content(200, JSON),
    tags=["Grants"],
    summary="This operator's access grants, each with its state (active, expired, suspended, "
    "revoked); withdraw one with POST /credentials/status",
)
def list_grants(
    operator: Operator = Depends(current_operator),
    session: Session = Depends(db_session),
) -> Response:
    return json_response({"grants": [g.as_json() for g in grants.list_grants(session, operator)]})


@router.post(
    "/credentials/status",
    responses=problems(403, 404, 409),
    tags=["VC-API"],
    summary="Revoke, suspend or reinstate a credential this operator issued",
)
def update_status(
    body: dict = Depends(json_object),
    operator: Operator = Depends(current_operator),
    session: Session = Depends(db_session),
    config: IssuerConfig = Depends(issuer_config),
) -> Response:
    credential_id, change = statuslists.parse_update_request(body)
    row = commit_with_retry(
        session, lambda: statuslists.change_status(session, config, operator, credential_id, change)
    )
    return json_response(
        {
            "credentialId": credential_id,
            "credentialStatus": statuslists.current_status(session, row),
        }
    )


@router.get(
    "/status-lists/{list_id}",
    responses=merge(content(200, VC_JSON), unchanged(), problems(404)),
    tags=["status lists"],
    summary="A signed BitstringStatusListCredential",
)
def status_list(list_id: str, request: Request, session: Session = Depends(db_session)) -> Response:
    served = statuslists.served(session, list_id)
    # no-cache: caches may store the list but must revalidate on every use, so a revocation is
    # visible at the next fetch; If-None-Match makes the revalidation cheap.
    headers = {"ETag": served.etag, "Cache-Control": "public, no-cache"}
    tags = _etags(request.headers.get("if-none-match", ""))
    if served.etag in tags or "*" in tags:
        return Response(status_code=304, headers=headers)
    return Response(served.body, media_type=VC_JSON, headers=headers)


@router.post(
    "/status-lists/{list_id}/publish",
    status_code=204,
    responses=problems(403, 404),
    tags=["status lists"],
    summary="Publish the list's current state (it is already: lists are re-signed at each change)",
)
def publish_status_list(
    list_id: str,
    operator: Operator = Depends(current_operator),
    session: Session = Depends(db_session),
) -> Response:
    statuslists.publish(session, operator, list_id)
    return Response(status_code=204)


def _etags(header: str) -> set[str]:
    tags = {t.strip().removeprefix("W/") for t in header.split(",") if t.strip()}
    return tags


@router.post(
    "/batteries",
    status_code=201,
    responses=merge(content(201, JSON), problems(409, 422)),
    openapi_extra=json_body(
        {
            "type": "object",
            "required": ["gtin", "serial"],
            "properties": {
                "gtin": {"type": "string"},
                "serial": {"type": "string"},
                "variant": {"type": "string"},
                "batch": {"type": "string"},
                "passportId": {"type": "string", "description": "urn:uuid"},
                "passport": {"type": "object"},
            },
        }
    ),
    tags=["batteries"],
    summary="Register a battery by GTIN and serial number",
)
def register_battery(
    body: dict = Depends(json_object),
    operator: Operator = Depends(current_operator),
    session: Session = Depends(db_session),
    config: IssuerConfig = Depends(issuer_config),
) -> Response:
    key, passport_id = batteries.parse_registration(body)
    battery = commit_with_retry(
        session,
        lambda: batteries.register(session, config, operator, key, passport_id=passport_id),
    )
    return json_response(
        {
            "id": battery.id,
            "gtin": battery.gtin,
            "serial": battery.serial,
            "itemUri": battery.item_uri,
            "did": battery.did,
            "passportId": battery.passport_id,
            "operator": operator.did,
        },
        status=201,
        headers={"Location": f"{config.public_url}/batteries/{battery.id}"},
    )


@router.post(
    "/batteries:bulk",
    responses=merge(
        content(200, JSON, description="The job this Idempotency-Key started before."),
        problems(409, 422),
    ),
    status_code=202,
    tags=["batteries"],
    summary="Register and issue many batteries in a background job (Idempotency-Key required)",
)
def bulk_submit(
    body: dict = Depends(json_object),
    operator: Operator = Depends(current_operator),
    session: Session = Depends(db_session),
    config: IssuerConfig = Depends(issuer_config),
    rt: IssuerRuntime = Depends(app_runtime),
    idempotency_key: str | None = Header(default=None),
) -> Response:
    if not idempotency_key:
        raise InvalidBulkRequest(
            "Idempotency-Key",
            "the header is required so that a retried request does not start a second job",
            rule="required",
        )
    job, created = commit_with_retry(
        session, lambda: bulk.submit(session, operator, idempotency_key, body)
    )
    if created and rt.bulk_worker is not None:
        rt.bulk_worker.wake()
    return json_response(
        {"jobId": job.id, "state": job.state, "total": job.total},
        status=202 if created else 200,
        headers={"Location": f"{config.public_url}/jobs/{job.id}"},
    )


@router.get(
    "/jobs/{job_id}",
    responses=problems(404),
    tags=["batteries"],
    summary="Progress and per-item errors of a job",
)
def job_report(
    job_id: str,
    offset: int = Query(0, ge=0, le=INT64_MAX, description="First item listed in `items`."),
    limit: int = Query(1000, ge=1, le=10_000, description="Items listed in `items`."),
    operator: Operator = Depends(current_operator),
    session: Session = Depends(db_session),
    config: IssuerConfig = Depends(issuer_config),
) -> Response:
    return json_response(bulk.report(session, operator, job_id, config, offset=offset, limit=limit))


@router.post(
    "/batteries/{battery_id}/passport",
    status_code=201,
    responses=merge(content(201, JSON), problems(403, 404, 409, 422)),
    tags=["batteries"],
    summary="Issue the next passport version: one credential per access tier",
)
def issue_passport(
    battery_id: str,
    body: dict = Depends(json_object),
    operator: Operator = Depends(current_operator),
    session: Session = Depends(db_session),
    config: IssuerConfig = Depends(issuer_config),
    rt: IssuerRuntime = Depends(app_runtime),
) -> Response:
    notify = notifier(rt)
    issued = commit_with_retry(
        session,
        lambda: newlife.issue(session, config, operator, battery_id, body, notify=notify),
    )
    return json_response(
        {
            "batteryId": issued.battery_id,
            "passportId": issued.passport_id,
            "version": issued.version,
            "verifiableCredentials": issued.credentials,
        },
        status=201,
    )


@router.get(
    "/batteries/{battery_id}/passport",
    responses=problems(403, 404),
    tags=["batteries"],
    summary="The passport view (responsible operator): data, latest dynamic values, history",
)
def passport_view(
    battery_id: str,
    operator: Operator = Depends(current_operator),
    session: Session = Depends(db_session),
) -> Response:
    battery = batteries.get(session, battery_id)
    batteries.require_responsible(session, battery, operator)
    view = views.passport_view(session, battery_id)
    if view is None:  # pragma: no cover - batteries.get found it
        raise UnknownBattery(f"no battery {battery_id!r} is registered here")
    return json_response(view)


@router.post(
    "/batteries/{battery_id}/events",
    responses=merge(content(201, JSON), problems(403, 404, 409, 422)),
    status_code=201,
    tags=["batteries"],
    summary="Post dynamic data or a status change (Annex XIII point 4) as an event credential",
)
def post_event(
    battery_id: str,
    body: dict = Depends(json_object),
    operator: Operator = Depends(current_operator),
    session: Session = Depends(db_session),
    config: IssuerConfig = Depends(issuer_config),
) -> Response:
    signed = commit_with_retry(
        session, lambda: events.post(session, config, operator, battery_id, body)
    )
    return json_response({"verifiableCredential": signed}, status=201)


@router.get(
    "/operators/me",
    responses=content(200, JSON),
    tags=["DIDs"],
    summary="The calling operator: name, DID and its other identifiers (alsoKnownAs)",
)
def operator_me(
    operator: Operator = Depends(current_operator),
    session: Session = Depends(db_session),
) -> Response:
    return json_response(operator_identity.description(session, operator))


@router.patch(
    "/operators/me",
    responses=merge(content(200, JSON), problems(409, 422)),
    openapi_extra=json_body(
        {
            "type": "object",
            "properties": {
                "alsoKnownAs": {
                    "type": "array",
                    "items": {"type": "string", "format": "uri"},
                    "description": "Other identifiers of the operator (EORI, LEI, GLN as URIs); "
                    "they replace the current list and appear in the DID document",
                }
            },
            "additionalProperties": False,
        }
    ),
    tags=["DIDs"],
    summary="Set the operator's other identifiers, which its passports may name it by",
)
def patch_operator_me(
    body: dict = Depends(json_object),
    operator: Operator = Depends(current_operator),
    session: Session = Depends(db_session),
) -> Response:
    unknown = sorted(set(body) - {"alsoKnownAs"})
    if unknown:
        raise operator_identity.InvalidOperatorUpdate(
            unknown[0], "cannot be changed here (only alsoKnownAs)"
        )
    if "alsoKnownAs" in body:
        # JSON merge patch: null removes the member, i.e. no other identifiers
        value = body["alsoKnownAs"] if body["alsoKnownAs"] is not None else []
        commit_with_retry(session, lambda: operator_identity.set_aliases(session, operator, value))
    return json_response(operator_identity.description(session, operator))


@router.post(
    "/operators/me/keys",
    responses=content(201, JSON),
    status_code=201,
    tags=["DIDs"],
    summary="Rotate the operator's assertion key (old keys stay in the DID document)",
)
def rotate_key(
    operator: Operator = Depends(current_operator),
    session: Session = Depends(db_session),
    rt: IssuerRuntime = Depends(app_runtime),
) -> Response:
    row = commit_with_retry(session, lambda: operators.rotate_key(session, operator, rt.master_key))
    return json_response(
        {"verificationMethod": row.id, "publicKeyMultibase": row.public_multibase}, status=201
    )


@router.get(
    "/.well-known/did.json",
    responses=content(200, DID_JSON),
    tags=["DIDs"],
    summary="This service's own DID document",
)
def instance_did(session: Session = Depends(db_session)) -> Response:
    return json_response(
        operators.did_document(session, operators.by_name(session, operators.INSTANCE_NAME)),
        media_type=DID_JSON,
    )


@router.get(
    "/operators/{name}/did.json",
    responses=merge(content(200, DID_JSON), problems(404)),
    tags=["DIDs"],
    summary="An operator's did:web document",
)
def operator_did(name: str, session: Session = Depends(db_session)) -> Response:
    operator = operators.by_name(session, name)
    if operator.did_method != "web" or operator.kind != "operator":
        raise UnknownOperator(f"operator {name!r} has no did:web document here")
    return json_response(operators.did_document(session, operator), media_type=DID_JSON)
