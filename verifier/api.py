"""Verifier HTTP routes: VC-API credential and presentation verification."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Depends
from fastapi.responses import Response
from sqlmodel import Session

from service.bodies import json_object
from service.deps import db_session, runtime
from service.runtime import Runtime
from verifier.errors import InvalidVerificationRequest, VerificationFailed
from verifier.result import Result

router = APIRouter(tags=["VC-API"])


def _options(body: dict) -> dict:
    options = body.get("options", {})
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise InvalidVerificationRequest("options must be a JSON object")
    for key in ("challenge", "domain"):
        if key in options and not isinstance(options[key], str):
            raise InvalidVerificationRequest(f"options.{key} must be a string")
    return options


def _answer(result: Result, what: str) -> Response:
    body = result.as_dict()
    if not result.verified:
        failed = ", ".join(result.failed_names())
        raise VerificationFailed(f"the {what} did not verify; failed check(s): {failed}", body)
    return Response(orjson.dumps(body), media_type="application/json")


@router.post("/credentials/verify", summary="Verify a credential (Data Integrity or vc+jwt)")
def verify_credential_route(
    body: dict = Depends(json_object),
    rt: Runtime = Depends(runtime),
    session: Session = Depends(db_session),
) -> Response:
    if "verifiableCredential" not in body:
        raise InvalidVerificationRequest("the request body must hold verifiableCredential")
    _options(body)
    result = rt.verify_credential(session, body["verifiableCredential"])
    return _answer(result, "credential")


@router.post("/presentations/verify", summary="Verify a presentation and every credential in it")
def verify_presentation_route(
    body: dict = Depends(json_object),
    rt: Runtime = Depends(runtime),
    session: Session = Depends(db_session),
) -> Response:
    if "verifiablePresentation" not in body:
        raise InvalidVerificationRequest("the request body must hold verifiablePresentation")
    options = _options(body)
    result = rt.verify_presentation(
        session,
        body["verifiablePresentation"],
        challenge=options.get("challenge"),
        domain=options.get("domain"),
    )
    return _answer(result, "presentation")
