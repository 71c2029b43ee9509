"""Verifier HTTP routes: VC-API verification, challenges, the trust registry, restricted data and
the access log."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlmodel import Session

from infra.app import app_runtime
from infra.bodies import BodyError, json_object, optional_json_object
from infra.db import db_session
from infra.openapi import content, json_body, merge, problems, unchanged
from infra.responses import json_response
from resolver.tables import BatteryRoute
from verifier import audit, challenges
from verifier.access import request_restricted_data
from verifier.authority import responsible_operator
from verifier.errors import InvalidVerificationRequest, VerificationFailed
from verifier.oversight import authenticate_authority
from verifier.ports import VerifierRuntime, operator_did
from verifier.result import Result
from vocab.datetimes import format_datetime
from vocab.gs1 import ItemKey, item_key_in_path, parse_item_uri
from vocab.integers import INT64_MAX, whole_number

router = APIRouter(tags=["VC-API"])
access_router = APIRouter(tags=["restricted data"])

NO_STORE = {"Cache-Control": "no-store"}
# A verification that ran and failed answers 400 with the VC-API result (verified: false); a
# request that could not be read answers 400 with a problem.
FAILED_VERIFICATION = content(
    400, "application/json", description="Verified, and failed: the checks and their errors."
)
ACCESS_ANSWERS = problems(401, 403, 404, 409, 410, 422)
PRESENTATION = {"type": "object", "description": "A VerifiablePresentation (or its envelope)"}
ACCESS_BODY = json_body(
    {
        "type": "object",
        "properties": {
            "verifiablePresentation": PRESENTATION,
            "tiers": {"type": "array", "items": {"type": "string"}},
        },
    },
    required=False,
)
MAX_LOG_PAGE = 1000


# VC-API verify options this service acts on. Other members are ignored
# (VerifyPresentationOptions has additionalProperties: true).
# `checks` lists the checks the caller wants. Every check always runs; a non-empty list makes the
# optional ones it leaves out (issuer binding, status) warnings instead of failures. The data
# model, the proofs and the validity period always decide.
OPTIONAL_CHECKS = {"issuer": "issuer", "credentialStatus": "status"}


def _options(body: dict, *, default_purpose: str) -> dict:
    options = body.get("options", {})
    if options is None:  # as absent (it once answered 500: the route reads every key)
        options = {}
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
        "not_asked": (
            {ours for theirs, ours in OPTIONAL_CHECKS.items() if theirs not in checks}
            if checks
            else set()
        ),
    }


def _answer(result: Result, what: str, returned: str | None = None) -> Response:
    body = result.as_dict()
    if returned and result.document is not None:
        body[returned] = result.document
    if not result.verified:
        failed = ", ".join(result.failed_names())
        raise VerificationFailed(f"the {what} did not verify; failed check(s): {failed}", body)
    return json_response(body)


@router.post(
    "/credentials/verify",
    responses=merge(FAILED_VERIFICATION, problems(400)),
    openapi_extra=json_body(
        {
            "type": "object",
            "required": ["verifiableCredential"],
            "properties": {
                "verifiableCredential": {"type": ["object", "string"]},
                "options": {"type": "object"},
            },
        }
    ),
    summary="Verify a credential (Data Integrity or vc+jwt)",
)
def verify_credential_route(
    body: dict = Depends(json_object),
    rt: VerifierRuntime = Depends(app_runtime),
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
    result.not_asked(options["not_asked"])
    return _answer(result, "credential", "verifiableCredential" if options["return"] else None)


@router.post(
    "/presentations/verify",
    responses=merge(FAILED_VERIFICATION, problems(400)),
    openapi_extra=json_body(
        {
            "type": "object",
            "required": ["verifiablePresentation"],
            "properties": {
                "verifiablePresentation": {"type": ["object", "string"]},
                "options": {"type": "object"},
            },
        }
    ),
    summary="Verify a presentation and every credential in it",
)
def verify_presentation_route(
    body: dict = Depends(json_object),
    rt: VerifierRuntime = Depends(app_runtime),
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
    result.not_asked(options["not_asked"])
    return _answer(result, "presentation", "verifiablePresentation" if options["return"] else None)


# --- challenges and the trust registry ----------------------------------------------------------


def challenge_allowance(request: Request, rt: VerifierRuntime = Depends(app_runtime)) -> None:
    """Challenges are rate-limited per client address before anything else is done: each one
    is a row in the database."""
    rt.challenge_limit.take(request.client.host if request.client else "unknown")


# VC-API "Create Challenge": 200 with {challenge}; the domain and expiry are dbp's additions.
@access_router.post(
    "/challenges",
    responses=problems(429),
    openapi_extra=json_body(
        {"type": "object", "properties": {"domain": {"type": "string"}}}, required=False
    ),
    summary="A single-use challenge for a presentation",
)
def create_challenge(
    _allowed: None = Depends(challenge_allowance),
    body: dict = Depends(optional_json_object),
    rt: VerifierRuntime = Depends(app_runtime),
    session: Session = Depends(db_session),
) -> Response:
    domain = body.get("domain", rt.settings.public_host)
    if not isinstance(domain, str):
        raise BodyError("domain must be a string")
    challenge = challenges.issue(
        session,
        domain=domain,
        allowed_domains=rt.settings.allowed_challenge_domains,
        ttl=timedelta(seconds=rt.settings.challenge_ttl_s),
    )
    session.commit()
    return json_response(
        {
            "challenge": challenge.id,
            "domain": challenge.domain,
            "expires": format_datetime(challenge.expires_at),
        },
        headers=NO_STORE,
    )


@access_router.get(
    "/trust-registry",
    responses=unchanged(),
    summary="Trust anchors and who may issue which credential",
)
def trust_registry(request: Request, rt: VerifierRuntime = Depends(app_runtime)) -> Response:
    body, etag = rt.trust.current().document(accessPolicy=rt.policy.table())
    headers = {"ETag": etag, "Cache-Control": "public, max-age=300"}
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


# --- restricted data ------------------------------------------------------------------------


def _release(
    rt: VerifierRuntime, session: Session, key: ItemKey | None, battery_ref: str, body: dict
) -> Response:
    release = request_restricted_data(
        session,
        key=key,
        battery_ref=battery_ref,
        body=body,
        passports=rt.passports,
        policy=rt.policy,
        verify=rt.presentation_verifier(),
        operator_of=responsible_operator,
    )
    answer = release.as_json()
    if release.reader:
        # the battery's documents of the released tiers, each behind a link that names this
        # reader and expires (DBP_DOCUMENT_LINK_TTL_S)
        answer["documents"] = rt.signed_document_links(
            session, release.battery, release.tiers, release.reader
        )
    return json_response(answer, headers=NO_STORE)


@access_router.post(
    "/01/{item_path:path}/access",
    responses=ACCESS_ANSWERS,
    openapi_extra=ACCESS_BODY,
    summary="Restricted passport data for a presentation (GS1 Digital Link item URI)",
)
def access_by_item(
    request: Request,
    item_path: str,
    body: dict = Depends(optional_json_object),
    rt: VerifierRuntime = Depends(app_runtime),
    session: Session = Depends(db_session),
) -> Response:
    # Parse the raw path: a serial may hold a percent-encoded "/", which the decoded path loses.
    raw = request.scope.get("raw_path", b"").decode("latin-1").split("?", 1)[0]
    key = item_key_in_path(raw.removesuffix("/access"))  # vocab.gs1: the one GS1 grammar
    plain = ItemKey(key.gtin, key.serial)  # variant and batch qualify, they do not identify
    return _release(rt, session, plain, plain.uri(rt.settings.public_url), body)


@access_router.post(
    "/batteries/{battery_id}/access",
    responses=ACCESS_ANSWERS,
    openapi_extra=ACCESS_BODY,
    summary="Restricted passport data for a presentation (the battery DID's service endpoint)",
)
def access_by_battery(
    battery_id: str,
    body: dict = Depends(optional_json_object),
    rt: VerifierRuntime = Depends(app_runtime),
    session: Session = Depends(db_session),
) -> Response:
    route = session.get(BatteryRoute, battery_id) if len(battery_id) <= 36 else None
    if route is None:
        # Logged under the DID the caller asked for; refused once the caller is authenticated.
        ref = f"{rt.settings.did_web_base}:batteries:{battery_id[:36]}"
        return _release(rt, session, None, ref, body)
    key = ItemKey(route.gtin, route.serial)
    return _release(rt, session, key, key.uri(rt.settings.public_url), body)


# --- the access log ---------------------------------------------------------------------------


def _battery_filter(rt: VerifierRuntime, battery: str | None) -> str | None:
    if battery is None:
        return None
    key = parse_item_uri(battery if "://" in battery else rt.settings.public_url + battery)
    return ItemKey(key.gtin, key.serial).uri(rt.settings.public_url)


def _page(rows: list, limit: int) -> dict:
    return {
        "entries": [audit.as_json(r) for r in rows],
        "next": rows[-1].seq if len(rows) == limit else None,
    }


@access_router.get(
    "/access-log",
    responses=problems(401, 403),
    summary="Access decisions about the operator's batteries",
)
def access_log_for_operator(
    after: int = Query(0, ge=0, le=INT64_MAX),
    limit: int = Query(100, ge=1, le=MAX_LOG_PAGE),
    battery: str | None = Query(None, description="Item URI or /01/.../21/... path"),
    rt: VerifierRuntime = Depends(app_runtime),
    session: Session = Depends(db_session),
    operator: str = Depends(operator_did),
) -> Response:
    rows = audit.entries(
        session,
        operator=operator,
        battery=_battery_filter(rt, battery),
        after=after,
        limit=limit,
    )
    return json_response(_page(rows, limit), headers=NO_STORE)


@access_router.post(
    "/access-log/query",
    responses=problems(401, 403),
    openapi_extra=json_body(
        {
            "type": "object",
            "properties": {
                "after": {"type": "integer", "minimum": 0, "maximum": INT64_MAX},
                "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LOG_PAGE},
                "battery": {"type": "string", "description": "Item URI or /01/.../21/... path"},
                "verifiablePresentation": PRESENTATION,
            },
        }
    ),
    summary="The whole access log, for authorities",
)
def access_log_for_authorities(
    body: dict = Depends(json_object),
    rt: VerifierRuntime = Depends(app_runtime),
    session: Session = Depends(db_session),
) -> Response:
    after = whole_number(body.get("after", 0), field="after")
    limit = whole_number(body.get("limit", 100), field="limit", minimum=1, maximum=MAX_LOG_PAGE)
    battery = body.get("battery")
    if battery is not None and not isinstance(battery, str):
        raise BodyError("battery must be an item URI")
    battery_uri = _battery_filter(rt, battery)
    authenticate_authority(session, body, rt.presentation_verifier())
    rows = audit.entries(session, battery=battery_uri, after=after, limit=limit)
    return json_response(_page(rows, limit), headers=NO_STORE)
