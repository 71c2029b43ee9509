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


# VC-API verify options this service acts on; `checks` lists the checks the caller wants, and
# every check always runs here, so it is validated but changes nothing. Other members are
# ignored (VerifyPresentationOptions has additionalProperties: true).
def _options(body: dict, *, default_purpose: str) -> dict:
    options = body.get("options", {})
    if options is None:
        return {"expected_purpose": default_purpose}
    if not isinstance(options, dict):
        raise InvalidVerificationRequest("options must be a JSON object")
    for key in ("challenge", "domain", "expectedProofPurpose"):
        if key in options and not isinstance(options[key], str):
            raise InvalidVerificationRequest(f"options.{key} must be a string")
    checks = options.get("checks", [])
    if not isinstance(checks, list) or not all(isinstance(c, str) for c in checks):
        raise InvalidVerificationRequest("options.checks must be a list of strings")
    for key in ("returnCredential", "returnPresentation"):
        if key in options and not isinstance(options[key], bool):
            raise InvalidVerificationRequest(f"options.{key} must be true or false")
    return {
        "challenge": options.get("challenge"),
        "domain": options.get("domain"),
        "expected_purpose": options.get("expectedProofPurpose", default_purpose),
        "return": options.get("returnCredential") or options.get("returnPresentation") or False,
    }


def _answer(result: Result, what: str, returned: str | None = None) -> Response:
    body = result.as_dict()
    if returned and result.document is not None:
        body[returned] = result.document
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
    options = _options(body, default_purpose="assertionMethod")
    result = rt.verify_credential(
        session,
        body["verifiableCredential"],
        expected_purpose=options["expected_purpose"],
        challenge=options["challenge"],
        domain=options["domain"],
    )
    return _answer(result, "credential", "verifiableCredential" if options["return"] else None)


@router.post("/presentations/verify", summary="Verify a presentation and every credential in it")
def verify_presentation_route(
    body: dict = Depends(json_object),
    rt: Runtime = Depends(runtime),
    session: Session = Depends(db_session),
) -> Response:
    if "verifiablePresentation" not in body:
        raise InvalidVerificationRequest("the request body must hold verifiablePresentation")
    options = _options(body, default_purpose="authentication")
    result = rt.verify_presentation(
        session,
        body["verifiablePresentation"],
        challenge=options["challenge"],
        domain=options["domain"],
        expected_purpose=options["expected_purpose"],
    )
    return _answer(result, "presentation", "verifiablePresentation" if options["return"] else None)
