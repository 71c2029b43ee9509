"""The authority portal at /authority, for notified bodies, market surveillance authorities and
the Commission, and the passport search API (`GET /passports`).

Sign-in is by verifiable presentation, no password: the sign-in page holds a challenge (as text
and as a QR code of its login URL) tied to this browser by a pending session cookie; a wallet
(`dbp wallet login URL`, or any wallet that posts to the page's presentation endpoint) presents an
AuthorityCredential over that challenge; once it verifies, the browser's pending session becomes
the authority's (the page reloads itself until then). Scripts get a bearer token the same way
(`POST /authority/tokens`). Sign-ins and every read of restricted tiers go into the hash-chained
access log."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup
from sqlmodel import Session, select

from infra.app import app_runtime
from infra.bodies import json_object
from infra.db import db_session
from infra.fetch import FetchPolicy
from infra.openapi import content, json_body, merge, problems
from infra.responses import json_response
from issuer import listing, views
from portal import federation, flags, forms, peer_trust, sessions
from portal.areas import Area, secure
from portal.company import CATEGORIES, STATUSES
from portal.errors import BadForm, NotSignedIn, PortalError
from portal.ports import PortalRuntime
from portal.render import NO_STORE, page
from portal.tables import PortalSession
from resolver.qr import qr_image
from resolver.verdict import panel
from verifier import audit, challenges
from verifier.access import record
from verifier.audit import Decision
from verifier.errors import Refusal, WrongRole
from verifier.policy import AUTHORITY_READERS
from verifier.presentations import authenticate, binding
from vocab.catalogue import Tier
from vocab.datetimes import as_utc, format_datetime, utcnow

router = APIRouter(prefix="/authority", include_in_schema=False)
api_router = APIRouter(tags=["authorities"])

SIGN_IN = "authority-sign-in"
TOKEN = "authority-token"
API_PAGE = 100
JSON = "application/json"
NAV = (
    ("/authority/search", "Search passports"),
    ("/authority/verify", "Verify a credential"),
    ("/authority/access-log", "Access log"),
    ("/dashboards", "Dashboards"),
)
AREA = Area("Authority portal", NAV, login="/authority/login", logout="/authority/logout")


class UnknownLogin(PortalError):
    code = "unknown-login"
    status = 404


class ChallengeMismatch(PortalError):
    code = "challenge-mismatch"
    status = 400


class Authority:
    """The signed-in authority: its DID, the Art 77(2) readers its credentials make it, and the
    session (for the CSRF token)."""

    def __init__(self, row: PortalSession) -> None:
        self.row = row
        self.did = row.subject
        grants = json.loads(row.grants or "{}")
        self.readers: list[str] = grants.get("readers", [])
        self.role: str | None = grants.get("role")
        # the AuthorityCredential(s) of a sign-in by presentation, presented again to peers
        # (portal.peer_trust); none for a bearer token
        self.credentials: list[dict] = grants.get("credentials", [])
        # the instance that forwarded this authority's query (a peer's federated search)
        self.via: str | None = grants.get("via")

    @property
    def csrf(self) -> str:
        return self.row.csrf

    def tiers(self, rt: PortalRuntime) -> list[Tier]:
        wanted: set[Tier] = set()
        for reader in self.readers:
            wanted |= rt.policy.tiers_for_reader(reader)
        return [t for t in Tier if t in wanted]


def signed_in(request: Request, session: Session = Depends(db_session)) -> Authority:
    return Authority(sessions.lookup(session, request, sessions.AUTHORITY))


def api_caller(
    request: Request,
    session: Session = Depends(db_session),
    rt: PortalRuntime = Depends(app_runtime),
) -> Authority:
    """An authority by bearer token (`POST /authority/tokens`), by portal session cookie, or
    forwarded by a trusted peer instance (`DBP-Peer-Presentation`, portal.peer_trust)."""
    forwarded = request.headers.get(peer_trust.HEADER)
    if forwarded is not None:
        return Authority(peer_trust.accept(session, rt, forwarded))
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        row = sessions.by_secret(session, token.strip())
        if row is None or row.kind != TOKEN or as_utc(row.expires_at) <= utcnow():
            raise NotSignedIn("the bearer token is not a valid authority token")
        return Authority(row)
    return signed_in(request, session)


def _page(template: str, who: Authority, current: str, status: int = 200, **values: Any):
    return AREA.page(template, who, current, status, authority=who, **values)


# --- sign-in by presentation --------------------------------------------------------------------


def _login_url(rt: PortalRuntime, challenge: str) -> str:
    return f"{rt.settings.public_url}/authority/login/{challenge}"


@router.get("/login")
def login_page(
    request: Request,
    rt: PortalRuntime = Depends(app_runtime),
    session: Session = Depends(db_session),
) -> Response:
    row = sessions.by_secret(session, request.cookies.get(sessions.COOKIE))
    live = row is not None and as_utc(row.expires_at) > utcnow()
    if live and row.kind == sessions.AUTHORITY:
        return RedirectResponse("/authority/search", status_code=303)
    response_cookie = None
    if live and row.kind == sessions.PENDING:
        challenge = row.subject
    else:
        rt.challenge_limit.take(request.client.host if request.client else "unknown")
        ttl = timedelta(seconds=rt.settings.challenge_ttl_s)
        issued = challenges.issue(
            session,
            domain=rt.settings.public_host,
            allowed_domains=rt.settings.allowed_challenge_domains,
            ttl=ttl,
        )
        challenge = issued.id
        response_cookie = sessions.start(session, sessions.PENDING, challenge, ttl)
        session.commit()
    url = _login_url(rt, challenge)
    qr = Markup(qr_image(url, "svg").decode())
    response = page(
        "authority_login.html", title="Sign in", area_name="Authority portal", challenge=challenge,
        domain=rt.settings.public_host, login_url=url, qr=qr,
    )  # fmt: skip
    if response_cookie is not None:
        sessions.set_cookie(
            response, response_cookie.secret, secure=secure(rt, request),
            max_age=rt.settings.challenge_ttl_s,
        )  # fmt: skip
    return response


def _pending(session: Session, challenge: str) -> PortalSession:
    row = session.exec(
        select(PortalSession).where(
            PortalSession.kind == sessions.PENDING, PortalSession.subject == challenge
        )
    ).first()
    if row is None or as_utc(row.expires_at) <= utcnow():
        raise UnknownLogin(f"no sign-in is waiting for challenge {challenge!r}")
    return row


@api_router.get(
    "/authority/login/{challenge}",
    responses=merge(content(200, JSON), problems(404)),
    summary="What a wallet needs to sign in the browser waiting on the sign-in page",
)
def login_request(
    challenge: str, rt: PortalRuntime = Depends(app_runtime), session: Session = Depends(db_session)
) -> Response:
    """What a wallet needs to sign in the waiting browser (JSON)."""
    _pending(session, challenge)
    body = {
        "challenge": challenge,
        "domain": rt.settings.public_host,
        "presentationEndpoint": f"{rt.settings.public_url}/authority/presentations/{challenge}",
        "credentialTypes": ["AuthorityCredential"],
    }
    return json_response(body, headers=NO_STORE)


def _authenticate(
    session: Session, rt: PortalRuntime, presentation: Any
) -> tuple[str, dict, list[dict]]:
    """The authority a presentation proves, its grants and its verified role credentials
    (logged as action `authority-sign-in`); a logged refusal otherwise."""
    now = utcnow()
    decision = Decision(action=SIGN_IN)
    spent: list[str] = []
    try:
        presented = authenticate(
            session, presentation, rt.presentation_verifier(), decision, now=now, spent=spent
        )
        readers = sorted({r.reader for r in presented.roles if r.reader in AUTHORITY_READERS})
        if not readers:
            raise WrongRole("the authority portal needs an AuthorityCredential")
    except Refusal as refusal:
        decision.outcome, decision.reason = audit.REFUSED, refusal.code
        record(session, decision, spent, now)
        raise
    decision.outcome = audit.RELEASED
    lost = record(session, decision, spent, now)
    if lost is not None:
        raise lost
    grants = {"readers": readers, "role": decision.role}
    return presented.requester, grants, presented.role_documents


@api_router.post(
    "/authority/presentations/{challenge}",
    responses=merge(content(200, JSON), problems(400, 401, 403, 404, 422)),
    openapi_extra=json_body(
        {"type": "object", "properties": {"verifiablePresentation": {"type": "object"}}}
    ),
    summary="Sign in the browser waiting on the authority portal's sign-in page",
)
def present_for_login(
    challenge: str,
    body: dict = Depends(json_object),
    rt: PortalRuntime = Depends(app_runtime),
    session: Session = Depends(db_session),
) -> Response:
    pending_id = _pending(session, challenge).id_hash
    presentation = body.get("verifiablePresentation")
    if isinstance(presentation, dict):
        nonce, _ = binding(presentation)
        if nonce is not None and nonce != challenge:
            raise ChallengeMismatch(
                "the presentation is bound to another challenge than this sign-in's"
            )
    requester, grants, credentials = _authenticate(session, rt, presentation)
    # kept with the session: this instance presents them to its peers (portal.peer_trust)
    grants["credentials"] = credentials
    row = session.get(PortalSession, pending_id)
    if row is None or row.kind != sessions.PENDING:
        raise UnknownLogin(f"no sign-in is waiting for challenge {challenge!r}")
    row.kind, row.subject, row.grants = sessions.AUTHORITY, requester, json.dumps(grants)
    row.expires_at = utcnow() + timedelta(minutes=rt.settings.portal_session_minutes)
    session.add(row)
    session.commit()
    return json_response(
        {"signedIn": True, "authority": requester, "readers": grants["readers"]}, headers=NO_STORE
    )


@api_router.post(
    "/authority/tokens",
    status_code=201,
    responses=merge(content(201, JSON), problems(400, 401, 403, 422)),
    openapi_extra=json_body(
        {"type": "object", "properties": {"verifiablePresentation": {"type": "object"}}}
    ),
    summary="A bearer token for GET /passports, for a presentation of an AuthorityCredential",
)
def token_for_presentation(
    body: dict = Depends(json_object),
    rt: PortalRuntime = Depends(app_runtime),
    session: Session = Depends(db_session),
) -> Response:
    """A bearer token for `GET /passports`, for a presentation of an AuthorityCredential over a
    challenge from `POST /challenges`."""
    # a token keeps no credential: its holder's peer queries use DBP_AUTHORITY_PEER_TOKENS
    requester, grants, _ = _authenticate(session, rt, body.get("verifiablePresentation"))
    minutes = rt.settings.portal_session_minutes
    started = sessions.start(
        session, TOKEN, requester, timedelta(minutes=minutes), grants=json.dumps(grants)
    )
    session.commit()
    return json_response(
        {
            "token": started.secret,
            "tokenType": "Bearer",
            "expires": format_datetime(started.row.expires_at),
            "authority": requester,
        },
        201,
        headers=NO_STORE,
    )


@router.post("/logout")
def logout(
    request: Request,
    csrf: str | None = Form(None),
    who: Authority = Depends(signed_in),
    rt: PortalRuntime = Depends(app_runtime),
    session: Session = Depends(db_session),
) -> Response:
    return AREA.sign_out(request, rt, session, who, csrf)


# --- search -------------------------------------------------------------------------------------


def _filters(request: Request) -> tuple[listing.Filters, dict]:
    q = request.query_params
    operator = forms.text(q.get("operator"), "Operator", max_len=512)
    filters = listing.Filters(
        operator_did=operator,
        gtin=forms.gtin(q.get("gtin")),
        serial=forms.text(q.get("serial"), "Serial number", max_len=20),
        batch=forms.text(q.get("batch"), "Batch", max_len=20),
        status=forms.choice(q.get("status"), "Status", STATUSES),
        category=forms.choice(q.get("category"), "Category", CATEGORIES),
        model=forms.text(q.get("model"), "Model", max_len=64),
        chemistry=forms.text(q.get("chemistry"), "Chemistry", max_len=32),
        created_from=forms.day(q.get("from"), "Registered from"),
        created_to=forms.day(q.get("to"), "Registered before"),
    )
    shown = {
        k: q.get(k, "")
        for k in (
            "gtin",
            "serial",
            "batch",
            "status",
            "category",
            "model",
            "chemistry",
            "operator",
            "from",
            "to",
        )
    }
    return filters, shown


def _listed(b: listing.Listed) -> dict[str, Any]:
    return {
        "id": b.id,
        "gtin": b.gtin,
        "serial": b.serial,
        "batch": b.batch,
        "itemUri": b.item_uri,
        "category": b.category,
        "status": b.status,
        "model": b.model,
        "chemistry": b.chemistry,
        "passportId": b.passport_id,
        "operator": b.operator_did,
        "registeredAt": format_datetime(b.created_at),
    }


def _peer_answers(
    rt: PortalRuntime, who: Authority, shown: dict[str, str], limit: int
) -> list[federation.PeerAnswer]:
    """The peer instances' answers to the same filters (portal.federation): vouched for by this
    instance with the authority's credential when its session holds one (portal.peer_trust),
    else with the peer's token (DBP_AUTHORITY_PEER_TOKENS)."""
    settings = rt.settings
    policy = FetchPolicy(
        settings.allowed_did_web_hosts, settings.authority_peer_timeout_s, federation.MAX_PEER_BYTES
    )
    query = {k: v for k, v in shown.items() if v}
    present = (
        peer_trust.presenter(rt, rt.http, policy, who.credentials) if who.credentials else None
    )
    return federation.ask_all(
        rt.http, policy, settings.authority_peer_urls, query, settings.authority_peer_token_map,
        limit, present,
    )  # fmt: skip


@api_router.get(
    "/passports",
    responses=merge(content(200, JSON), problems(400, 401, 403, 422)),
    summary="Search passports (authorities: portal session, token from POST /authority/tokens, "
    "or a peer instance's DBP-Peer-Presentation)",
)
def passports_api(
    request: Request,
    gtin: str | None = Query(None, max_length=14),
    serial: str | None = Query(None, max_length=20, description="A prefix of the serial"),
    batch: str | None = Query(None, max_length=20),
    status: str | None = Query(None, max_length=16),
    category: str | None = Query(None, max_length=16),
    model: str | None = Query(None, max_length=64),
    chemistry: str | None = Query(None, max_length=32),
    operator: str | None = Query(None, max_length=512, description="The operator's DID"),
    from_: str | None = Query(None, alias="from", description="Registered from (YYYY-MM-DD)"),
    to: str | None = Query(None, description="Registered before (YYYY-MM-DD)"),
    after: str | None = Query(None, description="`next` of the previous page"),
    limit: int = Query(API_PAGE, ge=1, le=1000),
    peers: bool = Query(
        False,
        description=(
            "Also ask the peer instances of DBP_AUTHORITY_PEERS (first page only): their rows "
            "are merged in, every row names its `instance`, and `instances` says how each one "
            "answered (ok, not-allowed, unreachable, refused, failed)"
        ),
    ),
    who: Authority = Depends(api_caller),
    rt: PortalRuntime = Depends(app_runtime),
    session: Session = Depends(db_session),
) -> Response:
    """Passports on this instance (and, with `peers=true`, on its peer instances) by GTIN,
    serial prefix, batch, status, category, model, chemistry, operator DID and registration
    date; paged, newest first. `next` pages through this instance's rows."""
    filters, shown = _filters(request)
    rows = listing.batteries(session, filters, after=forms.cursor(after), limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    here = rt.settings.public_url
    items = [{**_listed(b), "instance": here} for b in rows]
    body: dict[str, Any] = {
        "items": items,
        "next": forms.cursor_of(rows[-1].created_at, rows[-1].id) if more else None,
    }
    if peers:
        # a query a peer forwarded goes no further (one hop: no loops between instances)
        asked = after is None and who.via is None
        answers = _peer_answers(rt, who, shown, limit) if asked else []
        body["items"] = federation.merged(items, answers)
        body["instances"] = [
            federation.PeerAnswer(here, items=items, more=more).as_json(),
            *(a.as_json() for a in answers),
        ]
    return json_response(body, headers=NO_STORE)


@router.get("")
def home() -> Response:
    return RedirectResponse("/authority/search", status_code=303)


@router.get("/search")
def search(
    request: Request,
    after: str | None = Query(None),
    who: Authority = Depends(signed_in),
    rt: PortalRuntime = Depends(app_runtime),
    session: Session = Depends(db_session),
) -> Response:
    filters, shown = _filters(request)
    rows = listing.batteries(session, filters, after=forms.cursor(after), limit=51)
    next_query = None
    if len(rows) > 50:
        rows = rows[:50]
        params = {k: v for k, v in shown.items() if v}
        params["after"] = forms.cursor_of(rows[-1].created_at, rows[-1].id)
        next_query = str(request.url.include_query_params(**params).query)
    here = rt.settings.public_url
    local = [{**_listed(b), "instance": here, "local": True} for b in rows]
    # the peers are asked on the first page; further pages go on through this instance's rows
    answers = _peer_answers(rt, who, shown, 50) if after is None else []
    instances = [federation.PeerAnswer(here, items=local, more=next_query is not None), *answers]
    return _page(
        "authority_search.html", who, "/authority/search", title="Search passports",
        rows=federation.merged(local, answers), shown=shown, statuses=STATUSES,
        categories=CATEGORIES, next_query=next_query, instances=instances, here=here,
        peers_configured=bool(rt.settings.authority_peer_urls), peers_asked=after is None,
    )  # fmt: skip


# --- one passport -------------------------------------------------------------------------------


def _rows(subject: Any, path: str = "") -> list[tuple[str, str]]:
    """A credential subject as (attribute path, value) rows; quantities stay one row."""
    if isinstance(subject, dict):
        if "value" in subject and "unit" in subject and not isinstance(subject["value"], dict):
            return [(path, f"{subject['value']} {subject['unit']}")]
        out = []
        for name, value in subject.items():
            if not path and name in ("id", "accessTier"):
                continue
            out += _rows(value, f"{path}.{name}" if path else name)
        return out
    if isinstance(subject, list):
        return [r for i, v in enumerate(subject) for r in _rows(v, f"{path}[{i}]")]
    return [(path, "" if subject is None else str(subject))]


@router.get("/batteries/{battery_id}")
def battery(
    battery_id: str,
    who: Authority = Depends(signed_in),
    rt: PortalRuntime = Depends(app_runtime),
    session: Session = Depends(db_session),
) -> Response:
    view = views.battery_by_id(session, battery_id)
    if view is None:
        error = UnknownLogin(f"no battery {battery_id!r} on this instance")
        error.code = "unknown-battery"
        raise error
    tiers = who.tiers(rt)
    documents = views.credentials_for_tiers(session, battery_id, tiers)
    shown = []
    for document in documents:
        result = rt.verify_credential(session, document)
        subject = document.get("credentialSubject") if isinstance(document, dict) else None
        shown.append(
            {
                "tier": (subject or {}).get("accessTier", "") if isinstance(subject, dict) else "",
                "id": document.get("id"),
                "panel": panel(document, result),
                "rows": _rows(subject) if isinstance(subject, dict) else [],
            }
        )
    # a read of restricted tiers is a release like any other: it goes into the access log
    now = utcnow()
    decision = Decision(
        action=audit.RESTRICTED_DATA,
        requester=who.did,
        role=who.role,
        battery=view.item_uri,
        operator=view.operator_did,
        tiers=[t.value for t in tiers],
        outcome=audit.RELEASED,
    )
    record(session, decision, [], now)
    return _page(
        "authority_battery.html", who, "/authority/search", title=f"Battery {view.serial}",
        battery=view, credentials=shown, tiers=[t.value for t in tiers],
        flags=flags.for_battery(session, battery_id),
    )  # fmt: skip


@router.post("/batteries/{battery_id}/flags")
def flag(
    battery_id: str,
    csrf: str | None = Form(None),
    note: str | None = Form(None),
    who: Authority = Depends(signed_in),
    session: Session = Depends(db_session),
) -> Response:
    sessions.check_csrf(who.row, csrf)
    view = views.battery_by_id(session, battery_id)
    if view is None:
        raise BadForm(f"no battery {battery_id!r} on this instance")
    flags.add(session, battery_id, view.operator_did, who.did, note or "")
    session.commit()
    return RedirectResponse(f"/authority/batteries/{battery_id}?flagged=1", status_code=303)


# --- verify and audit ---------------------------------------------------------------------------


@router.get("/verify")
def verify_form(who: Authority = Depends(signed_in)) -> Response:
    return _page("authority_verify.html", who, "/authority/verify", title="Verify", result=None)


@router.post("/verify")
def verify(
    csrf: str | None = Form(None),
    credential: str | None = Form(None),
    who: Authority = Depends(signed_in),
    rt: PortalRuntime = Depends(app_runtime),
    session: Session = Depends(db_session),
) -> Response:
    sessions.check_csrf(who.row, csrf)
    text = (credential or "").strip()
    if not text:
        raise BadForm("credential: paste a credential (JSON)")
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise BadForm(f"credential: not JSON ({exc})") from None
    if not isinstance(document, dict):
        raise BadForm("credential: must be a JSON object")
    result = rt.verify_credential(session, document)
    return _page(
        "authority_verify.html", who, "/authority/verify", title="Verify",
        result=panel(document, result), pasted=text,
    )  # fmt: skip


@router.get("/access-log")
def access_log(
    after: int = Query(0, ge=0, le=2**62),
    who: Authority = Depends(signed_in),
    session: Session = Depends(db_session),
) -> Response:
    chain = audit.verify_chain(session)
    rows = audit.entries(session, after=after, limit=101)
    more = len(rows) > 100
    rows = rows[:100]
    return _page(
        "authority_log.html", who, "/authority/access-log", title="Access log", chain=chain,
        rows=rows, next_after=rows[-1].seq if more else None,
    )  # fmt: skip
