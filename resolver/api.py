"""Resolver HTTP routes: GS1 Digital Link resolution and the consumer page, battery DID documents,
DID resolution, routing-registry re-pointing, and the resolver description."""

from __future__ import annotations

from typing import Any, Final

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from infra.app import app_runtime
from infra.bodies import json_object
from infra.db import db_session
from infra.headers import plain_values
from infra.openapi import content, json_body, merge, problems, redirect, unchanged
from infra.responses import json_bytes, json_response
from resolver import (
    battery_dids,
    linktypes,
    model_links,
    registry,
    resolution,
    stored_reads,
    views,
)
from resolver.battery_links import build_linkset, default_target, handed_over_text
from resolver.caching import etag, not_modified
from resolver.description import resolver_description
from resolver.digital_link import (
    ACCESS_RESOURCE,
    PAGE_RESOURCE,
    PASSPORT_RESOURCE,
    QR_RESOURCES,
    ItemRequest,
    ModelRequest,
    parse_item_path,
    parse_link_path,
)
from resolver.errors import ResolverError
from resolver.linkset import LINKSET_MEDIA_TYPE, Linkset, Target, link_header, link_value
from resolver.negotiation import (
    InvalidAccept,
    NotAcceptable,
    choose,
    names_a_type,
    parse_accept,
    prefers_html,
    quality,
)
from resolver.page import (
    PassportPage,
    document_rows,
    render_error,
    render_model,
    render_passport,
)
from resolver.ports import ResolverRuntime, operator_did
from resolver.qr import MEDIA_TYPES as QR_MEDIA_TYPES
from resolver.qr import qr_image
from resolver.registry import UnknownBattery
from resolver.tables import BatteryRoute
from resolver.verdict import panel
from vocab.context import VC_CONTEXT_URL
from vocab.datetimes import utcnow
from vocab.errors import VocabError
from vocab.gs1 import DigitalLinkPath

router = APIRouter(tags=["resolver"])

HTML: Final = "text/html"
JSON_LD: Final = "application/ld+json"
DID_JSON: Final = "application/did+json"
# What the item URI offers to a client that names a media type, in the server's order of
# preference. A request with no `Accept`, or only `*/*`, is redirected to gs1:defaultLink.
ITEM_OFFERS: Final = (HTML, LINKSET_MEDIA_TYPE, JSON_LD, "application/json")
# What a model-level URI offers (`application/json`: its linkset).
MODEL_OFFERS: Final = (HTML, LINKSET_MEDIA_TYPE, "application/json")
SHORT_CACHE: Final = "public, max-age=60"
# DID Resolution's HTTP(S) binding: a result (or the bare document) on success, and a result with
# didResolutionMetadata.error and the binding's status for each error (resolver.resolution).
DID_RESOLUTION_ANSWERS: Final = merge(
    content(200, *resolution.OFFERS),
    unchanged(),
    *(
        content(status, *resolution.RESULT_TYPES, description=f"DID Resolution error {code}.")
        for code, status in resolution.STATUS.items()
    ),
    problems(400),
)
# Public data for any origin (GS1 resolvers must support CORS); Link and ETag readable by scripts.
CORS: Final = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "Link, Location, ETag",
}


class NoSuchLink(ResolverError):
    code = "no-such-link"
    status = 404


class NoPublicPassport(ResolverError):
    code = "no-public-passport"
    status = 404


class UseAccessPoint(ResolverError):
    code = "method-not-allowed"
    status = 405


class NotHolder(ResolverError):
    code = "not-holder"
    status = 403


class InvalidRouteRequest(ResolverError):
    code = "invalid-request"
    status = 400

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.problem_extensions = {"field": field}


# The JSON-LD context GS1 publishes for resolver linksets (sent as a link, never fetched here).
LINKSET_CONTEXT = "https://ref.gs1.org/standards/resolver/linkset-context"
LINKSET_CONTEXT_LINK = (
    f'<{LINKSET_CONTEXT}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
)


def _raw_path(request: Request) -> str:
    """The request path as sent, percent-encoding intact (`%2F` inside a serial stays put)."""
    raw = request.scope.get("raw_path")
    return raw.decode("latin-1") if raw else request.url.path


def _link_type(request: Request) -> str | None:
    """`?linkType=`; most scans have no query string, and then no QueryParams is parsed (its
    construction was ~1.5% of a stored scan's CPU under wrk, py-spy)."""
    if not request.scope.get("query_string"):
        return None
    return request.query_params.get("linkType")


def _header(request: Request, name: bytes) -> str | None:
    """The first `name` header (lower case, as ASGI servers give names), as Starlette's
    `request.headers.get` finds it, without building its Headers mapping for a scan."""
    for key, value in request.scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def _query(request: Request) -> str:
    query = request.scope.get("query_string", b"").decode("latin-1")
    return f"?{query}" if query else ""


def _passed_on(request: Request, target: str) -> str:
    """GS1 conformant resolver: "by default, SHALL pass on all key=value pairs in the query string
    of the request URI (if present) when redirecting"; linkType chose the link and stays here."""
    raw = request.scope.get("query_string", b"").decode("latin-1")
    pairs = [p for p in raw.split("&") if p and p.split("=", 1)[0] != "linkType"]
    if not pairs:
        return target
    base, _, fragment = target.partition("#")
    joined = base + ("&" if "?" in base else "?") + "&".join(pairs)
    return joined + (f"#{fragment}" if fragment else "")


def _conditional(
    request: Request, body: bytes, media_type: str, headers: dict[str, str], status: int = 200
) -> Response:
    tag = etag(body)
    headers = {**CORS, **headers, "ETag": tag}
    if not_modified(_header(request, b"if-none-match"), tag):
        return Response(status_code=304, headers=headers)
    return Response(body, status_code=status, media_type=media_type, headers=headers)


def _redirect(location: str, headers: dict[str, str] | None = None) -> Response:
    return Response(
        status_code=307,
        headers={**CORS, "Location": location, "Cache-Control": SHORT_CACHE, **(headers or {})},
    )


def _html_error(exc: Exception, item_uri: str | None) -> Response:
    status = int(getattr(exc, "status", 400))
    if status == 404:
        title = "Battery not found"
        message = (
            f"No battery with this identifier is registered with this service. ({exc})"
            if getattr(exc, "code", "") == "unknown-battery"
            else str(exc)
        )
    else:
        title = "Not a valid battery identifier"
        message = str(exc)
    body = render_error(status, title, message, item_uri=item_uri).encode()
    return Response(
        body,
        status_code=status,
        media_type="text/html; charset=utf-8",
        headers={**CORS, "Cache-Control": "no-store", "Vary": "Accept"},
    )


@router.api_route(
    "/01/{item_path:path}",
    methods=["GET", "HEAD"],
    summary="Resolve a GS1 Digital Link item URI: page, linkset, credentials or a typed link",
    response_class=Response,
    responses=merge(
        content(200, *ITEM_OFFERS, *QR_MEDIA_TYPES.values()),
        {204: {"description": "HEAD of the page, or no content for this link type."}},
        unchanged(),
        redirect(307, "Served by another instance, or a typed link's target: see Location."),
        content(400, HTML, description="Not a valid battery identifier (as a page)."),
        content(404, HTML, description="No such battery or link (as a page)."),
        problems(400, 404, 405, 406, 410),
    ),
)
async def resolve_item(
    request: Request,
    item_path: str,
    rt: ResolverRuntime = Depends(app_runtime),
) -> Response:
    # The whole scan runs in one worker thread (database calls block), with a session of its
    # own: fewer hops from the event loop than a sync handler with a session dependency.
    del item_path  # the raw path is parsed instead: it keeps percent-encoding intact
    return await run_in_threadpool(_resolve_item, request, rt)


def _resolve_item(request: Request, rt: ResolverRuntime) -> Response:
    raw_path = _raw_path(request)
    accept = _header(request, b"accept")
    own_url = rt.settings.public_url
    try:
        item = parse_link_path(raw_path)
    except (ResolverError, VocabError) as exc:
        if prefers_html(accept) and getattr(exc, "status", 400) in (400, 404):
            return _html_error(exc, own_url + raw_path)
        raise
    if isinstance(item, ModelRequest):
        with Session(rt.engine, expire_on_commit=False) as session:
            session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            try:
                return _model(request, rt, session, item, raw_path)
            except model_links.UnknownModel as exc:
                if prefers_html(accept):
                    return _html_error(exc, own_url + raw_path)
                raise
    answer = _stored_scan(request, rt, item, raw_path)
    if answer is not None:
        return answer
    # Its answers must be built: the stored-only session has ended (its connection went back
    # to the pool first: one pooled connection at a time) and the build gets a transaction.
    with Session(rt.engine, expire_on_commit=False) as session:
        answer = _scan(request, rt, session, item, raw_path, stored_only=False)
    assert answer is not None
    return answer


def stored_scan(request: Request, rt: ResolverRuntime) -> Response | None:
    """The answer to a GET or HEAD of an item URI when it needs no building (the battery's
    stored bytes, a QR image, a redirect elsewhere); None otherwise, and errors raise: then
    `resolve_item` answers. service.scans serves scans with this ahead of the router."""
    raw_path = _raw_path(request)
    item = parse_item_path(raw_path)
    return _stored_scan(request, rt, item, raw_path, _wanted(request, item))


async def stored_scan_async(request: Request, rt: ResolverRuntime, pool: Any) -> Response | None:
    """`stored_scan` in the event loop, reading with `pool` (a psycopg_pool.AsyncConnectionPool
    on PostgreSQL: resolver.stored_reads). None for a battery not registered here as well; a
    busy pool raises psycopg_pool.PoolTimeout. The connection is back in the pool on return."""
    raw_path = _raw_path(request)
    item = parse_item_path(raw_path)
    if item.resource in QR_RESOURCES:
        return None  # drawing the symbol takes CPU: not in the event loop (resolve_item's thread)
    found = await stored_reads.lookup_stored(
        pool, item.key.gtin, item.key.serial, _wanted(request, item)
    )
    if found is None:
        return None  # the walk-up to the model and the 404s: resolve_item
    return _unbuilt(request, rt, item, raw_path, *found)


def _stored_scan(
    request: Request,
    rt: ResolverRuntime,
    item: ItemRequest,
    raw_path: str,
    wanted: frozenset[str] = frozenset(views.BLOBS),
) -> Response | None:
    # A scan of an unchanged battery is one indexed read in autocommit (no BEGIN and ROLLBACK
    # round trips), of plain rows: no ORM session (resolver.views.lookup_stored).
    with rt.engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT")
        return _scan(request, rt, connection, item, raw_path, stored_only=True, wanted=wanted)


def _wanted(request: Request, item: ItemRequest) -> frozenset[str]:
    """The stored answer `_answer` will serve (resolver.views.BLOBS), so that only it is read. A
    wrong guess serves NOT_LOADED, which fails, and `resolve_item` then reads them all."""
    if item.resource == PASSPORT_RESOURCE:
        return frozenset({"passport"})
    if item.resource is not None:
        return frozenset()
    if _link_type(request) in linktypes.LINKSET_REQUESTS:
        return frozenset({"linkset"})
    try:
        media_type = choose(_header(request, b"accept"), ITEM_OFFERS)
    except NotAcceptable:
        return frozenset()
    return frozenset({{LINKSET_MEDIA_TYPE: "linkset", HTML: "page"}.get(media_type, "passport")})


def _scan(
    request: Request,
    rt: ResolverRuntime,
    session: Any,
    item: ItemRequest,
    raw_path: str,
    *,
    stored_only: bool,
    wanted: frozenset[str] = frozenset(views.BLOBS),
) -> Response | None:
    """The answer to a scan; None when `stored_only` and the answer must be built first.
    `session` is a Session, or with `stored_only` a Connection."""
    accept = _header(request, b"accept")
    own_url = rt.settings.public_url
    try:
        # One indexed read: the route and the battery's materialized answers (resolver.views).
        if stored_only:
            route, view = views.lookup_stored(session, item.key.gtin, item.key.serial, wanted)
        else:
            route, view = views.lookup(session, item.key.gtin, item.key.serial)
    except ResolverError as exc:
        if isinstance(exc, UnknownBattery) and item.resource is None and stored_only:
            return None  # the walk-up below reads with an ORM session: the full path does it
        if (
            isinstance(exc, UnknownBattery)
            and item.resource is None
            and model_links.known(session, item.key.gtin)
        ):
            # GS1 walk-up: a serial not registered here answers with its model's links
            key = item.key
            walked = DigitalLinkPath(key.gtin, key.variant, key.batch, key.serial)
            return _model(request, rt, session, ModelRequest(walked, None), raw_path)
        if prefers_html(accept) and getattr(exc, "status", 400) in (400, 404):
            return _html_error(exc, own_url + raw_path)
        raise
    answer = _unbuilt(request, rt, item, raw_path, route, view)
    if answer is not None or stored_only:
        return answer
    anchor = own_url + item.canonical_path
    place = registry.placement(route, own_url)
    extra = _canonical(anchor, raw_path, item)
    link_type = _link_type(request)
    stored_answer = link_type is None or link_type in linktypes.LINKSET_REQUESTS
    battery = rt.passports.battery_by_id(session, route.id)
    credentials = rt.passports.public_credentials(session, route.id)
    links = build_linkset(
        anchor=anchor,
        route=route,
        battery=battery,
        credentials=credentials,
        did_document_url=f"{own_url}/batteries/{route.id}/did.json",
    )
    if stored_answer:
        built = _build(rt, session, route, battery, credentials, links, place)
        # Only answers at the battery's own item URI (as registered, qualifiers included: what
        # its QR code encodes) are kept; another form of the URI gets answers built for it.
        if anchor == getattr(battery, "item_uri", None):
            generation = view.generation if view is not None else None
            views.store(session, route.id, generation, built)
        return _answer(request, item, built, extra)
    headers = {"Link": link_header(linkset_url=f"{anchor}?linkType=linkset", extra=extra)}
    return _typed_link(request, links, link_type, headers)


def _unbuilt(
    request: Request, rt: ResolverRuntime, item: ItemRequest, raw_path: str, route: Any, view: Any
) -> Response | None:
    """The answer to a scan of a registered battery that needs nothing built (a QR image, a
    redirect elsewhere, the stored bytes while servable); None when its answers must be built."""
    anchor = rt.settings.public_url + item.canonical_path
    if item.resource in QR_RESOURCES:
        # The symbol only encodes the identifier, which stays this URI wherever the passport
        # lives now, so QR images are drawn here even for batteries served elsewhere.
        return _qr(request, item, anchor)
    place = registry.placement(route, rt.settings.public_url)
    if not place.here:
        return _redirect(place.base_url + raw_path + _query(request))
    if item.resource == ACCESS_RESOURCE:
        raise _with_headers(
            UseAccessPoint(
                f"{anchor}/{ACCESS_RESOURCE} takes POST with a verifiable presentation; "
                "see the page's 'Restricted data' section"
            ),
            {"Allow": "POST"},
        )
    link_type = _link_type(request)
    # A typed link redirects, built from the live linkset; every other answer is stored bytes.
    stored_answer = link_type is None or link_type in linktypes.LINKSET_REQUESTS
    if stored_answer and views.servable(view, anchor, utcnow()):
        return _answer(request, item, view, _canonical(anchor, raw_path, item))
    return None


def _typed_link(
    request: Request, links: Linkset, link_type: str, headers: dict[str, str]
) -> Response:
    """Redirect to the link of type `link_type` (404 no-such-link when there is none). Of several
    links of that type, the one whose media type `Accept` prefers (GS1: `Accept: image/png` on
    gs1:relatedImage gets the PNG); the first when Accept does not tell them apart."""
    known = linktypes.lookup(link_type)
    targets = links.targets(known) if known else []
    if not targets:
        raise _with_headers(
            NoSuchLink(
                f"{links.anchor} has no link of type {link_type!r}; "
                f"?linkType=linkset lists the ones it has"
            ),
            headers,
        )
    target = _preferred(targets, _header(request, b"accept"))
    return _redirect(_passed_on(request, target.href), {**headers, "Vary": "Accept"})


def _preferred(targets: list[Target], accept: str | None) -> Target:
    if len(targets) == 1 or not names_a_type(accept):
        return targets[0]
    try:
        ranges = parse_accept(accept or "")
    except InvalidAccept:
        return targets[0]
    scores = [quality(ranges, t.type) if t.type else 0.0 for t in targets]
    best = max(range(len(targets)), key=lambda i: (scores[i], -i))
    return targets[best] if scores[best] > 0 else targets[0]


def _model(
    request: Request, rt: ResolverRuntime, session: Session, model: ModelRequest, raw_path: str
) -> Response:
    """The answer at the model level (resolver.model_links): for `/01/{gtin}` with or without
    `/22/` and `/10/`, and for an item URI whose serial is not registered here."""
    serial = model.path.serial
    gtin = model.path.gtin
    if not model_links.known(session, gtin):
        raise model_links.UnknownModel(f"no battery with GTIN {gtin} is registered here")
    anchor = rt.settings.public_url + model_links.model_path(gtin)
    links = model_links.model_linkset(anchor, gtin)
    linkset_url = f"{anchor}?linkType=linkset"
    headers = {"Link": link_header(linkset_url=linkset_url), "Vary": "Accept"}
    link_type = _link_type(request)
    accept = _header(request, b"accept")
    if link_type is not None and link_type not in linktypes.LINKSET_REQUESTS:
        return _typed_link(request, links, link_type, headers)
    if model.resource is None and link_type is None and not names_a_type(accept):
        return _redirect(_passed_on(request, default_target(anchor).href), headers)
    if model.resource == PAGE_RESOURCE:
        media_type = HTML
    elif link_type is not None:
        media_type = LINKSET_MEDIA_TYPE
    else:
        try:
            media_type = choose(accept, MODEL_OFFERS)
        except NotAcceptable as exc:
            raise _with_headers(exc, headers) from None
    if media_type == HTML:
        own_page = model_links.model_path(gtin) + "/" + PAGE_RESOURCE
        plain = raw_path.rstrip("/") in (model_links.model_path(gtin), own_page)
        asked_for = None if plain else rt.settings.public_url + raw_path
        body = render_model(
            gtin=gtin, anchor=anchor, linkset=linkset_url, asked_for=asked_for, serial=serial
        ).encode()
        return _conditional(
            request, body, "text/html; charset=utf-8", {**headers, "Cache-Control": "no-cache"}
        )
    if media_type == LINKSET_MEDIA_TYPE:
        headers["Link"] += f", {LINKSET_CONTEXT_LINK}"
    return _conditional(
        request,
        json_bytes(links.as_json()),
        media_type,
        {**headers, "Cache-Control": SHORT_CACHE},
    )


def _canonical(anchor: str, raw_path: str, item: ItemRequest) -> tuple[str, ...]:
    """A canonical link when the URI was written otherwise (a GTIN-13, say); a trailing slash
    alone does not count: GS1 asks resolvers to answer as without it."""
    if raw_path.rstrip("/") != item.canonical_path and item.resource is None:
        return (link_value(anchor, "canonical"),)
    return ()


def _with_headers(exc: ResolverError, headers: dict[str, str]) -> ResolverError:
    exc.headers = {**CORS, **headers}  # type: ignore[attr-defined]
    return exc


def _link_header(answers: Any, extra: tuple[str, ...]) -> str:
    """The stored Link header, with `extra` (a canonical link) after its first value, where
    resolver.linkset.link_header puts it."""
    stored: str = answers.link_header
    if not extra:
        return stored
    first = link_value(f"{answers.anchor}?linkType=linkset", "linkset", type=LINKSET_MEDIA_TYPE)
    return ", ".join((first, *extra)) + stored[len(first) :]


def _answer(request: Request, item: ItemRequest, answers: Any, extra: tuple[str, ...]) -> Response:
    """Serve stored (or just built) answers: `answers` is a resolver.tables.ResolverView or a
    resolver.views.Built, both with the bytes and their ETags."""
    headers = {"Link": _link_header(answers, extra)}
    if item.resource == PASSPORT_RESOURCE:
        return _presentation(request, answers, JSON_LD, headers)
    if item.resource == PAGE_RESOURCE:
        return _page(request, answers, headers)
    headers["Vary"] = "Accept"
    accept = _header(request, b"accept")
    if _link_type(request) in linktypes.LINKSET_REQUESTS:
        media_type = LINKSET_MEDIA_TYPE
    elif not names_a_type(accept):
        # GS1 conformant resolver: no link type asked for, no media type named (`*/*` or no
        # Accept): redirect to gs1:defaultLink, query string passed on, Link to the linkset
        return _redirect(_passed_on(request, default_target(answers.anchor).href), headers)
    else:
        try:
            media_type = choose(_header(request, b"accept"), ITEM_OFFERS)
        except NotAcceptable as exc:
            raise _with_headers(exc, headers) from None
    if media_type == LINKSET_MEDIA_TYPE:
        # GS1 conformant resolver: a linkset answer SHOULD point to its JSON-LD context
        link = f"{headers['Link']}, {LINKSET_CONTEXT_LINK}"
        return _stored(
            request,
            answers.linkset,
            answers.linkset_etag,
            LINKSET_MEDIA_TYPE,
            {**headers, "Link": link, "Cache-Control": SHORT_CACHE},
        )
    if media_type != HTML:
        return _presentation(request, answers, media_type, headers)
    return _page(request, answers, headers)


def _page(request: Request, answers: Any, headers: dict[str, str]) -> Response:
    # no-cache: the verdict changes when a credential is revoked, so caches must revalidate
    return _stored(
        request,
        answers.page,
        answers.page_etag,
        "text/html; charset=utf-8",
        {**headers, "Cache-Control": "no-cache"},
    )


def _presentation(
    request: Request, answers: Any, media_type: str, headers: dict[str, str]
) -> Response:
    if answers.passport is None:
        raise _with_headers(
            NoPublicPassport("no public passport credential has been issued for this battery"),
            headers,
        )
    return _stored(
        request,
        answers.passport,
        answers.passport_etag,
        media_type,
        {**headers, "Cache-Control": SHORT_CACHE},
    )


class StoredResponse(Response):
    """A stored answer's bytes with its header lines made once, as HTTP/1.1 writes them.

    Starlette's Response builds its header list from a dict on every call, lower-casing and
    encoding each name and value and searching the list for content-length and content-type:
    2.7 us of a stored scan's ~5 us answer, where the names here are constants. `lines` are what
    Starlette's list would be, in the same order (tests/resolver/test_stored_response.py), one
    "name: value" CRLF each: service.scans writes them as they are (http_protocol.respond), and
    `raw_headers` gives them as a list to everything else."""

    def __init__(self, status: int, body: bytes, lines: bytes, html: bool = False) -> None:
        self.status_code = status
        self.body = body
        self.background = None
        self.lines = lines
        # the answer is an HTML page (its content type): what security headers it gets
        self.html = html

    @property
    def raw_headers(self) -> list[tuple[bytes, bytes]]:  # type: ignore[override]
        # no value holds CR or LF (`_stored` checked), and no name ": "
        return [tuple(line.split(b": ", 1)) for line in self.lines.split(b"\r\n")[:-1]]  # type: ignore[misc]


class UnwritableHeader(ValueError):
    """A stored header value holds a byte HTTP/1.1 forbids (a damaged stored view)."""


_CORS_LINES: Final = b"".join(
    k.lower().encode("latin-1") + b": " + v.encode("latin-1") + b"\r\n" for k, v in CORS.items()
)
_RAW_NAMES: Final = {"Link": b"link", "Vary": b"vary", "Cache-Control": b"cache-control"}


def _stored(
    request: Request, body: bytes, tag: str, media_type: str, headers: dict[str, str]
) -> Response:
    values = [value.encode("latin-1") for value in headers.values()]
    tag_bytes = tag.encode("latin-1")
    # the Link header and the ETag come from the stored view; a CR or LF would end the line
    if not plain_values([*values, tag_bytes]):
        raise UnwritableHeader("a stored answer's header holds a control character")
    parts = [_CORS_LINES]
    for name, value in zip(headers, values, strict=True):
        parts += (_RAW_NAMES.get(name) or name.lower().encode("latin-1"), b": ", value, b"\r\n")
    parts += (b"etag: ", tag_bytes, b"\r\n")
    if not_modified(_header(request, b"if-none-match"), tag):
        return StoredResponse(304, b"", b"".join(parts))
    body = body if body is not None else b""
    if media_type.startswith("text/") and "charset=" not in media_type.lower():
        media_type += "; charset=utf-8"  # as Starlette's Response would
    parts += (b"content-length: ", str(len(body)).encode(), b"\r\ncontent-type: ")
    parts += (media_type.encode("latin-1"), b"\r\n")
    return StoredResponse(200, body, b"".join(parts), html=media_type.startswith("text/html"))


def _build(
    rt: ResolverRuntime,
    session: Session,
    route: BatteryRoute,
    battery: Any,
    credentials: list[dict],
    links: Linkset,
    place: registry.Placement,
) -> views.Built:
    """Every answer a scan of the battery's item URI can get, as bytes: the work of a scan
    after a change, done once and kept (resolver.views)."""
    built_at = utcnow()
    handover = getattr(battery, "handover", None)
    verifications = [rt.passports.verify_credential(session, c) for c in credentials]
    panels = [panel(c, v) for c, v in zip(credentials, verifications, strict=True)]
    history = rt.passports.passport_history(session, route.id)
    dids = [route.holder_did, *(p.issuer for p in panels)]
    dids += [h.get("actor") for h in history if isinstance(h.get("actor"), str)]
    if handover is not None:
        dids += [handover.to, handover.by]
    page = PassportPage(
        item_uri=links.anchor,
        gtin=route.gtin,
        serial=route.serial,
        battery_did=route.did,
        holder_did=route.holder_did,
        category=getattr(battery, "category", None),
        # While a handed-over passport is shown, it is the one named (the new operator's
        # passport does not exist yet).
        passport_id=handover.passport_id if handover else getattr(battery, "passport_id", None),
        passport_version=None if handover else getattr(battery, "passport_version", None),
        passport_state=None if handover else getattr(battery, "passport_state", None),
        panels=panels,
        history=history,
        handover=handover,
        names=rt.passports.operator_names(session, dids),
        documents=document_rows(
            panels, rt.document_facts(session, route.id), rt.related_resource_matches(session)
        ),
        archived=place.archived,
        removed_operator_note=(
            f"The operator responsible for this battery ({route.holder_did}) left the market "
            f"on {route.updated_at:%Y-%m-%d}."
            if place.archived
            else None
        ),
        links={
            "passport": f"{links.anchor}/{PASSPORT_RESOURCE}",
            "linkset": f"{links.anchor}?linkType=linkset",
            "did": f"{rt.settings.public_url}/batteries/{route.id}/did.json",
            "qr": f"{links.anchor}/qr.svg",
            "access": f"{links.anchor}/{ACCESS_RESOURCE}",
        },
        checked_at=built_at,
    )
    checks = [c for v in verifications for c in v.checks]
    return views.Built(
        anchor=links.anchor,
        link_header=link_header(linkset_url=f"{links.anchor}?linkType=linkset"),
        linkset=json_bytes(links.as_json()),
        passport=_presentation_bytes(credentials, handover),
        page=render_passport(page).encode(),
        built_at=built_at,
        stale_at=views.stale_at(built_at, rt.settings.resolver_view_max_age_s, credentials, checks),
    )


def _presentation_bytes(credentials: list[dict], handover: Any) -> bytes | None:
    if not credentials:
        return None
    # An unsigned VC 2.0 presentation: one JSON-LD document holding every public credential,
    # each with its own proof.
    presentation: dict[str, Any] = {
        "@context": [VC_CONTEXT_URL],
        "type": ["VerifiablePresentation"],
        "verifiableCredential": credentials,
    }
    if handover is not None:
        # `description` is a VC 2.0 context term (schema:description): the presentation stays
        # valid JSON-LD, and the credentials inside are untouched.
        presentation["description"] = handed_over_text(handover)
    return json_bytes(presentation)


def _qr(request: Request, item: ItemRequest, anchor: str) -> Response:
    kind = QR_RESOURCES[item.resource or ""]
    body = qr_image(anchor, kind)
    headers = {
        "Cache-Control": "public, max-age=86400",
        "Link": link_value(f"{anchor}?linkType=linkset", "linkset", type=LINKSET_MEDIA_TYPE),
    }
    return _conditional(request, body, QR_MEDIA_TYPES[kind], headers)


def _item_link_header(rt: ResolverRuntime, item: ItemRequest, raw_path: str) -> str:
    anchor = rt.settings.public_url + item.canonical_path
    return link_header(
        linkset_url=f"{anchor}?linkType=linkset", extra=_canonical(anchor, raw_path, item)
    )


@router.options("/01/{item_path:path}", include_in_schema=False)
def item_preflight(
    request: Request,
    rt: ResolverRuntime = Depends(app_runtime),
    session: Session = Depends(db_session),
) -> Response:
    """CORS preflight (GS1 resolvers support OPTIONS): scripts on any origin may send the
    headers negotiation and revalidation need. For a battery served here the answer carries the
    same `Link` header as GET (GS1 conformant resolver)."""
    extra: dict[str, str] = {}
    raw_path = _raw_path(request)
    own_url = rt.settings.public_url
    try:
        asked = parse_link_path(raw_path)
        model_gtin = asked.path.gtin if isinstance(asked, ModelRequest) else None
        if isinstance(asked, ItemRequest):
            try:
                route, _view = views.lookup(session, asked.key.gtin, asked.key.serial)
            except UnknownBattery:
                route, model_gtin = None, asked.key.gtin  # GET walks up to the model
            here = route is not None and registry.placement(route, own_url).here
            if route is not None and here and asked.resource is None:
                extra["Link"] = _item_link_header(rt, asked, raw_path)
        if model_gtin and asked.resource is None and model_links.known(session, model_gtin):
            anchor = own_url + model_links.model_path(model_gtin)
            extra["Link"] = link_header(linkset_url=f"{anchor}?linkType=linkset")
    except (ResolverError, VocabError):
        pass  # a preflight answers whatever the later request will get
    return Response(
        status_code=204,
        headers={
            **extra,
            **CORS,
            "Allow": "GET, HEAD, OPTIONS",
            "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
            "Access-Control-Allow-Headers": "Accept, Accept-Language, If-None-Match",
            "Access-Control-Max-Age": "86400",
        },
    )


@router.get(
    "/batteries/{battery_id}/did.json",
    tags=["DIDs"],
    summary="A battery's did:web document: its controller and where its passport is now",
    response_class=Response,
    responses=merge(content(200, DID_JSON), unchanged(), problems(404)),
)
def battery_did_document(
    request: Request,
    battery_id: str,
    rt: ResolverRuntime = Depends(app_runtime),
    session: Session = Depends(db_session),
) -> Response:
    route = registry.by_id(session, battery_id)
    document = battery_dids.did_document(
        route, own_url=rt.settings.public_url, backup_url=rt.settings.backup_url
    )
    body = json_bytes(document)
    return _conditional(request, body, DID_JSON, {"Cache-Control": SHORT_CACHE})


@router.get(
    "/1.0/identifiers/{did:path}",
    tags=["DIDs"],
    summary="Resolve a DID (did:key, did:web, battery DIDs): W3C DID Resolution result",
    response_class=Response,
    responses=DID_RESOLUTION_ANSWERS,
)
def resolve_did(
    request: Request,
    did: str,
    rt: ResolverRuntime = Depends(app_runtime),
    session: Session = Depends(db_session),
) -> Response:
    prefix = "/1.0/identifiers/"
    raw = _raw_path(request)
    raw_did = raw[raw.index(prefix) + len(prefix) :] if prefix in raw else did
    answer = resolution.resolve(
        rt.resolver(session), resolution.did_from_path(raw_did), _header(request, b"accept")
    )
    body = json_bytes(answer.body)
    headers = {**CORS, "Vary": "Accept"}
    if answer.status == 200:
        # `retrieved` differs on every call, so the validator covers the document only (weak)
        document = answer.body.get("didDocument", answer.body)
        tag = "W/" + etag(orjson.dumps(document, option=orjson.OPT_SORT_KEYS))
        headers.update({"ETag": tag, "Cache-Control": SHORT_CACHE})
        if not_modified(_header(request, b"if-none-match"), tag):
            return Response(status_code=304, headers=headers)
    return Response(body, status_code=answer.status, media_type=answer.media_type, headers=headers)


@router.put(
    "/batteries/{battery_id}/route",
    tags=["resolver"],
    summary="Re-point a battery: its new holder and the instance that serves its passport now",
    responses=problems(403, 404),
    openapi_extra=json_body(
        {
            "type": "object",
            "required": ["holderDid"],
            "properties": {
                "holderDid": {"type": "string"},
                "endpoint": {"type": ["string", "null"], "description": "instance base URL"},
            },
            "additionalProperties": False,
        }
    ),
)
def put_route(
    battery_id: str,
    body: dict = Depends(json_object),
    caller_did: str = Depends(operator_did),
    rt: ResolverRuntime = Depends(app_runtime),
    session: Session = Depends(db_session),
) -> Response:
    unknown = sorted(set(body) - {"holderDid", "endpoint"})
    if unknown:
        raise InvalidRouteRequest(unknown[0], "unknown member; send holderDid and endpoint")
    holder = body.get("holderDid")
    if not isinstance(holder, str) or not _looks_like_did(holder):
        raise InvalidRouteRequest("holderDid", f"{holder!r} is not a DID")
    own_url = rt.settings.public_url
    endpoint = registry.normalise_endpoint(body.get("endpoint"), field="endpoint", own_url=own_url)
    route = registry.by_id(session, battery_id)
    if route.holder_did != caller_did:
        raise NotHolder(
            f"battery {battery_id} is held by {route.holder_did}; only its holder can re-point it"
        )
    registry.repoint(session, route, holder_did=holder, endpoint=endpoint)
    session.commit()
    return json_response(route_view(route, own_url))


def _looks_like_did(value: str) -> bool:
    method, _, rest = value.removeprefix("did:").partition(":")
    return value.startswith("did:") and method.isalnum() and method.islower() and bool(rest)


def route_view(route: BatteryRoute, own_url: str) -> dict[str, Any]:
    return {
        "id": route.id,
        "did": route.did,
        "gtin": route.gtin,
        "serial": route.serial,
        "holderDid": route.holder_did,
        "endpoint": route.endpoint,
        "state": route.state,
        "successor": route.successor,
        "backupUrl": route.backup_url,
        "itemUri": own_url + battery_dids.item_path(route),
        "passportEndpoint": battery_dids.passport_endpoint(route, own_url),
    }


@router.get(
    "/.well-known/gs1resolver",
    tags=["resolver"],
    summary="GS1 resolver description file",
    response_class=Response,
    responses=merge(content(200, "application/json"), unchanged()),
)
@router.get(
    "/.well-known/resolver",
    tags=["resolver"],
    summary="ISO/IEC 18975 resolver description (same document)",
    response_class=Response,
    responses=merge(content(200, "application/json"), unchanged()),
)
def describe(request: Request, rt: ResolverRuntime = Depends(app_runtime)) -> Response:
    body = json_bytes(resolver_description(rt.settings.public_url))
    return _conditional(
        request, body, "application/json", {"Cache-Control": "public, max-age=3600"}
    )
