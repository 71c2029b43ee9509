"""The company portal at /portal: an economic operator signs in with its bearer token (exchanged
once for a session cookie), finds its batteries, reads one battery in full, issues passports from
a form or a file, uploads a bulk file and watches the job, changes credential status with a
confirmation step, exports CSV and reads the flags authorities left on its passports.

Every page is server-rendered and runs no script: the bulk job's progress page reloads itself
(meta refresh) until the job is finished. Every form carries the session's CSRF token (the
sign-in form a double-submit token, as there is no session yet)."""

from __future__ import annotations

import csv
import io
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from infra.app import app_runtime
from infra.db import db_session
from issuer import (
    batteries,
    bulk,
    events,
    listing,
    newlife,
    operators,
    statuslists,
    transfers,
    views,
)
from issuer.errors import IssuerError, NotAuthenticated
from issuer.lifecycle import TRANSITIONS
from issuer.tables import Operator
from issuer.transactions import commit_with_retry
from issuer.transfer_api import accept, notifier
from portal import flags, forms, sessions
from portal.areas import Area, secure
from portal.errors import BadForm, NotSignedIn, NotYours, PortalError
from portal.ports import PortalRuntime
from portal.render import page
from resolver.verdict import panel
from verifier import audit
from vocab.datetimes import format_datetime, utcnow
from vocab.errors import VocabError
from vocab.examples import load_example
from vocab.models.identity import BatteryCategory

router = APIRouter(prefix="/portal", include_in_schema=False)

LOGIN_CSRF = "dbp_login_csrf"
PAGE_SIZE = 50
STATUSES = tuple(TRANSITIONS)
CATEGORIES = tuple(c.value for c in BatteryCategory)
NAV = (
    ("/portal/batteries", "Batteries"),
    ("/portal/issue", "Issue a passport"),
    ("/portal/bulk", "Bulk upload"),
    ("/portal/transfers", "Transfers"),
    ("/portal/pipeline", "Pipeline"),
    ("/portal/flags", "Flags"),
    ("/dashboards/mine", "My dashboard"),
)
ACTIONS = {
    # action -> (status purpose, bit, verb the confirmation page uses)
    "revoke": (statuslists.bitstring.REVOCATION, True, "Revoke"),
    "suspend": (statuslists.bitstring.SUSPENSION, True, "Suspend"),
    "reinstate": (statuslists.bitstring.SUSPENSION, False, "Reinstate"),
}
AREA = Area("Company portal", NAV, login="/portal/login", logout="/portal/logout")


class Signed:
    """The signed-in operator of this request and its session."""

    def __init__(self, row, operator: Operator) -> None:
        self.row = row
        self.operator = operator

    @property
    def csrf(self) -> str:
        return self.row.csrf


def signed_in(request: Request, session: Session = Depends(db_session)) -> Signed:
    row = sessions.lookup(session, request, sessions.OPERATOR)
    operator = session.get(Operator, row.subject)
    if operator is None or operator.removed_at is not None:
        raise NotSignedIn("this operator has been removed")
    return Signed(row, operator)


def _page(template: str, who: Signed, current: str, status: int = 200, **values: Any):
    return AREA.page(template, who, current, status, operator=who.operator, **values)


def _refused(exc: Exception) -> PortalError:
    """A domain error met while handling a form, as the portal error with the same status."""
    error = PortalError(str(exc))
    error.status = int(getattr(exc, "status", 400))
    error.code = str(getattr(exc, "code", "portal-error"))
    return error


# --- sign-in ------------------------------------------------------------------------------------


@router.get("")
def home(request: Request) -> Response:
    return RedirectResponse("/portal/batteries", status_code=303)


@router.get("/login")
def login_form(request: Request, rt: PortalRuntime = Depends(app_runtime)) -> Response:
    token = secrets.token_urlsafe(24)
    response = page(
        "portal_login.html", title="Sign in", area_name="Company portal", csrf=token, error=None
    )
    response.set_cookie(
        LOGIN_CSRF, token, max_age=1800, httponly=True, secure=secure(rt, request),
        samesite="strict", path="/portal",
    )  # fmt: skip
    return response


@router.post("/login")
def login(
    request: Request,
    token: str | None = Form(None),
    csrf: str | None = Form(None),
    rt: PortalRuntime = Depends(app_runtime),
    session: Session = Depends(db_session),
) -> Response:
    expected = request.cookies.get(LOGIN_CSRF)
    if not csrf or not expected or not secrets.compare_digest(csrf, expected):
        return page(
            "error.html", status=403, title="Sign-in refused", area_name="Company portal",
            message="The sign-in form's CSRF token is missing or not this browser's; "
            "reload the sign-in page.", back="/portal/login", back_label="Sign in",
        )  # fmt: skip
    try:
        operator = operators.authenticate(session, (token or "").strip() or None)
    except NotAuthenticated as exc:
        return page(
            "portal_login.html", status=401, title="Sign in", area_name="Company portal",
            csrf=expected, error=str(exc),
        )  # fmt: skip
    minutes = rt.settings.portal_session_minutes
    started = sessions.start(session, sessions.OPERATOR, operator.id, timedelta(minutes=minutes))
    session.commit()
    response = RedirectResponse("/portal/batteries", status_code=303)
    sessions.set_cookie(response, started.secret, secure=secure(rt, request), max_age=minutes * 60)
    response.delete_cookie(LOGIN_CSRF, path="/portal")
    return response


@router.post("/logout")
def logout(
    request: Request,
    csrf: str | None = Form(None),
    who: Signed = Depends(signed_in),
    rt: PortalRuntime = Depends(app_runtime),
    session: Session = Depends(db_session),
) -> Response:
    return AREA.sign_out(request, rt, session, who, csrf)


# --- batteries ----------------------------------------------------------------------------------


def _filters(request: Request, operator_did: str | None) -> tuple[listing.Filters, dict]:
    q = request.query_params
    values = {
        "gtin": forms.gtin(q.get("gtin")),
        "serial": forms.text(q.get("serial"), "Serial number", max_len=20),
        "batch": forms.text(q.get("batch"), "Batch", max_len=20),
        "status": forms.choice(q.get("status"), "Status", STATUSES),
        "category": forms.choice(q.get("category"), "Category", CATEGORIES),
        "model": forms.text(q.get("model"), "Model", max_len=64),
        "chemistry": forms.text(q.get("chemistry"), "Chemistry", max_len=32),
        "created_from": forms.day(q.get("from"), "Registered from"),
        "created_to": forms.day(q.get("to"), "Registered before"),
    }
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
            "from",
            "to",
        )
    }
    return listing.Filters(operator_did=operator_did, **values), shown


@router.get("/batteries")
def battery_list(
    request: Request,
    after: str | None = Query(None),
    who: Signed = Depends(signed_in),
    session: Session = Depends(db_session),
) -> Response:
    filters, shown = _filters(request, who.operator.did)
    rows = listing.batteries(session, filters, after=forms.cursor(after), limit=PAGE_SIZE + 1)
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    next_query = None
    if more:
        params = {k: v for k, v in shown.items() if v}
        params["after"] = forms.cursor_of(rows[-1].created_at, rows[-1].id)
        next_query = str(request.url.include_query_params(**params).query)
    export_query = "&".join(f"{k}={v}" for k, v in shown.items() if v)
    return _page(
        "portal_batteries.html", who, "/portal/batteries", title="Batteries", rows=rows,
        shown=shown, statuses=STATUSES, categories=CATEGORIES, next_query=next_query,
        export_query=export_query, paged=after is not None,
    )  # fmt: skip


def _own_battery(session: Session, who: Signed, battery_id: str):
    """The battery, if this operator is responsible for it now; the same 404 otherwise, so an
    operator learns nothing about another operator's batteries."""
    view = views.battery_by_id(session, battery_id)
    if view is None or view.operator_did != who.operator.did:
        error = NotYours(f"no battery {battery_id!r} of this operator")
        error.status = 404
        raise error
    return view


@router.get("/batteries/{battery_id}")
def battery_detail(
    battery_id: str,
    request: Request,
    who: Signed = Depends(signed_in),
    rt: PortalRuntime = Depends(app_runtime),
    session: Session = Depends(db_session),
) -> Response:
    view = _own_battery(session, who, battery_id)
    passport = views.passport_view(session, battery_id) or {}
    issued = listing.credentials(session, battery_id)
    for credential in issued:
        result = rt.verify_credential(session, credential["document"])
        credential["panel"] = panel(credential["document"], result)
        credential["revoked"] = any(
            s["statusPurpose"] == "revocation" and s["status"] for s in credential["status"]
        )
        credential["suspended"] = any(
            s["statusPurpose"] == "suspension" and s["status"] for s in credential["status"]
        )
    access = access_log(session, who, view.item_uri)
    return _page(
        "portal_battery.html", who, "/portal/batteries", title=f"Battery {view.serial}",
        battery=view, passport=passport, credentials=issued, statuses=STATUSES,
        transfers=listing.transfers(session, battery_id),
        flags=flags.for_battery(session, battery_id), access=access,
    )  # fmt: skip


def access_log(session: Session, who: Signed, item_uri: str) -> list:
    """The access decisions about this battery (the verifier's log, this operator's part)."""
    return audit.entries(session, operator=who.operator.did, battery=item_uri, after=0, limit=50)


@router.post("/batteries/{battery_id}/status")
def change_status(
    battery_id: str,
    csrf: str | None = Form(None),
    credential_id: str | None = Form(None),
    action: str | None = Form(None),
    confirm: str | None = Form(None),
    who: Signed = Depends(signed_in),
    rt: PortalRuntime = Depends(app_runtime),
    session: Session = Depends(db_session),
) -> Response:
    sessions.check_csrf(who.row, csrf)
    view = _own_battery(session, who, battery_id)
    if action not in ACTIONS:
        raise BadForm(f"action: must be one of {', '.join(ACTIONS)}")
    if not credential_id:
        raise BadForm("credential_id: which credential is missing")
    purpose, value, verb = ACTIONS[action]
    if confirm != "yes":
        return _page(
            "portal_confirm.html", who, "/portal/batteries", title=f"{verb} credential?",
            battery=view, credential_id=credential_id, action=action, verb=verb,
        )  # fmt: skip
    change = statuslists.StatusChange(purpose, value)
    try:
        commit_with_retry(
            session,
            lambda: statuslists.change_status(
                session, rt.issuer_config, who.operator, credential_id, change
            ),
        )
    except IssuerError as exc:
        raise _refused(exc) from None
    return RedirectResponse(f"/portal/batteries/{battery_id}?changed={action}", status_code=303)


# --- issuing ------------------------------------------------------------------------------------


def _example_text() -> str:
    data = load_example("ev")
    for name in ("batteryIdentifier", "passportId", "passportVersion"):
        data.pop(name, None)
    return orjson.dumps(data, option=orjson.OPT_INDENT_2).decode()


@router.get("/issue")
def issue_form(who: Signed = Depends(signed_in)) -> Response:
    return _page(
        "portal_issue.html", who, "/portal/issue", title="Issue a passport",
        example=_example_text(), error=None, values={},
    )  # fmt: skip


async def _upload_text(upload: UploadFile | None, limit: int) -> str | None:
    if upload is None or not upload.filename:
        return None
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise BadForm(f"the file is larger than {limit} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadForm("the file is not UTF-8 text") from None


def _json_object(text: str, field: str) -> dict:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise BadForm(f"{field}: not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise BadForm(f"{field}: must be a JSON object")
    return value


@router.post("/issue")
async def issue(
    request: Request,
    csrf: str | None = Form(None),
    gtin: str | None = Form(None),
    serial: str | None = Form(None),
    passport: str | None = Form(None),
    passport_file: UploadFile | None = File(None),
    who: Signed = Depends(signed_in),
    rt: PortalRuntime = Depends(app_runtime),
    session: Session = Depends(db_session),
) -> Response:
    sessions.check_csrf(who.row, csrf)
    text = await _upload_text(passport_file, rt.settings.max_body_bytes) or passport or ""
    if not text.strip():
        raise BadForm("passport: paste the passport data or choose a file")
    data = _json_object(text, "passport")
    registration = {"gtin": (gtin or "").strip(), "serial": (serial or "").strip()}
    # the request's own session (one pooled connection per request), off the event loop
    return await run_in_threadpool(_issue, rt, session, who.operator, registration, data)


def _issue(
    rt: PortalRuntime, session: Session, operator: Operator, registration: dict, data: dict
) -> Response:
    notify = notifier(rt)

    def work():
        # registration and first passport in one transaction: a refused passport leaves no
        # battery behind
        key, passport_id = batteries.parse_registration(registration)
        battery = batteries.register(
            session, rt.issuer_config, operator, key, passport_id=passport_id
        )
        session.flush()
        newlife.issue(session, rt.issuer_config, operator, battery.id, data, notify=notify)
        return battery.id

    try:
        battery_id = commit_with_retry(session, work)
    except (IssuerError, VocabError) as exc:
        session.rollback()
        raise _refused(exc) from None
    return RedirectResponse(f"/portal/batteries/{battery_id}?issued=1", status_code=303)


# --- bulk ---------------------------------------------------------------------------------------


@router.get("/bulk")
def bulk_form(who: Signed = Depends(signed_in)) -> Response:
    return _page(
        "portal_bulk.html", who, "/portal/bulk", title="Bulk upload",
        key=str(uuid.uuid4()),
    )  # fmt: skip


@router.post("/bulk")
async def bulk_upload(
    csrf: str | None = Form(None),
    key: str | None = Form(None),
    items_file: UploadFile | None = File(None),
    who: Signed = Depends(signed_in),
    rt: PortalRuntime = Depends(app_runtime),
    session: Session = Depends(db_session),
) -> Response:
    sessions.check_csrf(who.row, csrf)
    text = await _upload_text(items_file, rt.settings.max_bulk_body_bytes)
    if text is None:
        raise BadForm('items_file: choose a JSON file {"items": [...]}')
    body = _json_object(text, "items_file")
    idempotency_key = (key or "").strip() or str(uuid.uuid4())

    def submit() -> str:
        try:
            job, created = commit_with_retry(
                session, lambda: bulk.submit(session, who.operator, idempotency_key, body)
            )
        except IssuerError as exc:
            session.rollback()
            raise _refused(exc) from None
        if created and rt.bulk_worker is not None:
            rt.bulk_worker.wake()
        return job.id

    job_id = await run_in_threadpool(submit)
    return RedirectResponse(f"/portal/jobs/{job_id}", status_code=303)


@router.get("/jobs/{job_id}")
def job_progress(
    job_id: str,
    who: Signed = Depends(signed_in),
    rt: PortalRuntime = Depends(app_runtime),
    session: Session = Depends(db_session),
) -> Response:
    try:
        report = bulk.report(session, who.operator, job_id, rt.issuer_config, limit=100)
    except IssuerError as exc:
        raise _refused(exc) from None
    percent = int(report["progress"] * 100)
    finished = report["state"] == "finished"
    return _page(
        "portal_job.html", who, "/portal/bulk", title="Bulk job", report=report,
        percent=percent, finished=finished,
    )  # fmt: skip


# --- export and flags ---------------------------------------------------------------------------


CSV_COLUMNS = ("id", "gtin", "serial", "batch", "itemUri", "category", "model", "chemistry",
               "status", "passportId", "registeredAt")  # fmt: skip


@router.get("/export.csv")
def export_csv(
    request: Request,
    who: Signed = Depends(signed_in),
    session: Session = Depends(db_session),
) -> Response:
    filters, _ = _filters(request, who.operator.did)

    def rows():
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        after = None
        while True:
            page_rows = listing.batteries(session, filters, after=after, limit=1000)
            for b in page_rows:
                writer.writerow(
                    [b.id, b.gtin, b.serial, b.batch or "", b.item_uri, b.category or "",
                     b.model or "", b.chemistry or "", b.status or "", b.passport_id,
                     b.created_at.isoformat()]
                )  # fmt: skip
            yield out.getvalue()
            out.seek(0)
            out.truncate()
            if len(page_rows) < 1000:
                return
            after = (page_rows[-1].created_at, page_rows[-1].id)

    return StreamingResponse(
        rows(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="batteries.csv"',
                 "Cache-Control": "no-store"},
    )  # fmt: skip


@router.get("/flags")
def flag_list(who: Signed = Depends(signed_in), session: Session = Depends(db_session)) -> Response:
    return _page(
        "portal_flags.html", who, "/portal/flags", title="Flags from authorities",
        flags=flags.for_operator(session, who.operator.did),
    )  # fmt: skip


# --- condition updates, status changes and transfers --------------------------------------------


def _number(value: str | None, field: str) -> float | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise BadForm(f"{field}: must be a number") from None


def _occurred(value: str | None) -> str:
    """`<input type=datetime-local>` sends local time without a zone: it is taken as UTC, and
    the form says so."""
    value = (value or "").strip()
    if not value:
        return format_datetime(utcnow())
    try:
        return format_datetime(datetime.fromisoformat(value).replace(tzinfo=UTC))
    except ValueError:
        raise BadForm("occurred_at: must be a date and time") from None


@router.post("/batteries/{battery_id}/events")
def post_event(
    battery_id: str,
    csrf: str | None = Form(None),
    kind: str | None = Form(None),
    occurred_at: str | None = Form(None),
    energy: str | None = Form(None),
    cycles: str | None = Form(None),
    battery_status: str | None = Form(None),
    who: Signed = Depends(signed_in),
    rt: PortalRuntime = Depends(app_runtime),
    session: Session = Depends(db_session),
) -> Response:
    sessions.check_csrf(who.row, csrf)
    _own_battery(session, who, battery_id)
    when = _occurred(occurred_at)
    if kind == "condition-update":
        condition: dict[str, Any] = {}
        soce = _number(energy, "energy")
        if soce is not None:
            condition["stateOfCertifiedEnergy"] = {"value": soce, "lastUpdate": when}
        full = _number(cycles, "cycles")
        if full is not None:
            if not full.is_integer():
                raise BadForm("cycles: must be a whole number")
            condition["numberOfFullCycles"] = {"value": int(full), "lastUpdate": when}
        if not condition:
            raise BadForm("give at least one value of the condition update")
        body = {"eventType": kind, "occurredAt": when, "condition": condition}
    elif kind == "status-change":
        body = {"eventType": kind, "occurredAt": when, "batteryStatus": battery_status}
    else:
        raise BadForm("kind: must be condition-update or status-change")
    try:
        commit_with_retry(
            session,
            lambda: events.post(session, rt.issuer_config, who.operator, battery_id, body),
        )
    except (IssuerError, VocabError) as exc:
        session.rollback()
        raise _refused(exc) from None
    return RedirectResponse(f"/portal/batteries/{battery_id}?posted={kind}", status_code=303)


@router.post("/batteries/{battery_id}/transfers")
def offer_transfer(
    battery_id: str,
    csrf: str | None = Form(None),
    to: str | None = Form(None),
    endpoint: str | None = Form(None),
    who: Signed = Depends(signed_in),
    rt: PortalRuntime = Depends(app_runtime),
    session: Session = Depends(db_session),
) -> Response:
    sessions.check_csrf(who.row, csrf)
    view = _own_battery(session, who, battery_id)
    body: dict[str, Any] = {"to": (to or "").strip()}
    if (endpoint or "").strip():
        body["endpoint"] = endpoint.strip()
    config = rt.issuer_config
    try:
        request = transfers.parse_offer_request(body, own_url=config.public_url, now=utcnow())
        row = commit_with_retry(
            session, lambda: transfers.offer(session, config, who.operator, battery_id, request)
        )
    except (IssuerError, VocabError) as exc:
        session.rollback()
        raise _refused(exc) from None
    offer = orjson.dumps(row.offer, option=orjson.OPT_INDENT_2).decode()
    return _page(
        "portal_offer.html", who, "/portal/transfers", title="Transfer offered", battery=view,
        to=row.to_did, expires=format_datetime(row.expires_at), offer=offer,
    )  # fmt: skip


@router.get("/transfers")
def transfers_page(who: Signed = Depends(signed_in)) -> Response:
    return _page("portal_transfers.html", who, "/portal/transfers", title="Transfers")


@router.post("/transfers/accept")
async def accept_transfer(
    csrf: str | None = Form(None),
    offer: str | None = Form(None),
    offer_file: UploadFile | None = File(None),
    who: Signed = Depends(signed_in),
    rt: PortalRuntime = Depends(app_runtime),
    session: Session = Depends(db_session),
) -> Response:
    sessions.check_csrf(who.row, csrf)
    text = await _upload_text(offer_file, rt.settings.max_body_bytes) or offer or ""
    if not text.strip():
        raise BadForm("offer: paste the transfer offer (the credential) or choose its file")
    credential = _json_object(text, "offer")

    def work() -> str:
        try:
            answer = accept(session, rt, who.operator, credential)
        except (IssuerError, VocabError) as exc:
            session.rollback()
            raise _refused(exc) from None
        return str(answer["battery"]["id"])

    battery_id = await run_in_threadpool(work)
    return RedirectResponse(f"/portal/batteries/{battery_id}?accepted=1", status_code=303)
