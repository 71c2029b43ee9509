"""Resolver HTTP routes: GS1 Digital Link resolution and the consumer page, battery DID documents,
DID resolution, routing-registry re-pointing, and the resolver description."""

from __future__ import annotations

from typing import Any, Final

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlmodel import Session

from resolver import battery_dids, linktypes, registry, resolution
from resolver.battery_links import build_linkset
from resolver.caching import etag, not_modified
from resolver.description import resolver_description
from resolver.digital_link import (
    ACCESS_RESOURCE,
    PASSPORT_RESOURCE,
    QR_RESOURCES,
    ItemRequest,
    parse_item_path,
)
from resolver.errors import ResolverError
from resolver.linkset import LINKSET_MEDIA_TYPE, Linkset, link_header, link_value
from resolver.negotiation import NotAcceptable, choose, prefers_html
from resolver.page import PassportPage, render_error, render_passport
from resolver.qr import MEDIA_TYPES as QR_MEDIA_TYPES
from resolver.qr import qr_image
from resolver.tables import BatteryRoute
from resolver.verdict import panel
from service.bodies import json_object
from service.deps import current_operator_did, db_session, runtime
from service.runtime import Runtime
from vocab.context import VC_CONTEXT_URL
from vocab.errors import VocabError

router = APIRouter(tags=["resolver"])

HTML: Final = "text/html"
JSON_LD: Final = "application/ld+json"
DID_JSON: Final = "application/did+json"
# What the item URI offers, in the server's order of preference (a bare `*/*` gets the page,
# the target of gs1:defaultLink).
ITEM_OFFERS: Final = (HTML, LINKSET_MEDIA_TYPE, JSON_LD, "application/json")
SHORT_CACHE: Final = "public, max-age=60"
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


def _json(document: Any) -> bytes:
    # orjson straight to bytes: the body is needed before the response for its ETag, and this
    # is what ORJSONResponse does inside (FastAPI now deprecates constructing that class)
    return orjson.dumps(document)


def _raw_path(request: Request) -> str:
    """The request path as sent, percent-encoding intact (`%2F` inside a serial stays put)."""
    raw = request.scope.get("raw_path")
    return raw.decode("latin-1") if raw else request.url.path


def _query(request: Request) -> str:
    query = request.scope.get("query_string", b"").decode("latin-1")
    return f"?{query}" if query else ""


def _conditional(
    request: Request, body: bytes, media_type: str, headers: dict[str, str], status: int = 200
) -> Response:
    tag = etag(body)
    headers = {**CORS, **headers, "ETag": tag}
    if not_modified(request.headers.get("if-none-match"), tag):
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
)
def resolve_item(
    request: Request,
    item_path: str,
    rt: Runtime = Depends(runtime),
    session: Session = Depends(db_session),
) -> Response:
    raw_path = _raw_path(request)
    accept = request.headers.get("accept")
    own_url = rt.settings.public_url
    try:
        item = parse_item_path(raw_path)
        route = registry.lookup(session, item.key.gtin, item.key.serial)
    except (ResolverError, VocabError) as exc:
        if prefers_html(accept) and getattr(exc, "status", 400) in (400, 404):
            return _html_error(exc, own_url + raw_path)
        raise
    anchor = own_url + item.canonical_path
    if item.resource in QR_RESOURCES:
        # The symbol only encodes the identifier, which stays this URI wherever the passport
        # lives now, so QR images are drawn here even for batteries served elsewhere.
        return _qr(request, item, anchor)
    place = registry.placement(route, own_url)
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
    battery = rt.passports.battery_by_id(session, route.id)
    credentials = rt.passports.public_credentials(session, route.id)
    links = build_linkset(
        anchor=anchor,
        route=route,
        battery=battery,
        credentials=credentials,
        did_document_url=f"{own_url}/batteries/{route.id}/did.json",
    )
    extra = ()
    if raw_path != item.canonical_path and item.resource is None:
        extra = (link_value(anchor, "canonical"),)
    headers = {"Link": link_header(links, linkset_url=f"{anchor}?linkType=linkset", extra=extra)}
    if item.resource == PASSPORT_RESOURCE:
        return _credentials(request, credentials, JSON_LD, headers)
    return _item(request, rt, session, route, battery, credentials, links, place, headers)


def _with_headers(exc: ResolverError, headers: dict[str, str]) -> ResolverError:
    exc.headers = {**CORS, **headers}  # type: ignore[attr-defined]
    return exc


def _item(
    request: Request,
    rt: Runtime,
    session: Session,
    route: BatteryRoute,
    battery: Any,
    credentials: list[dict],
    links: Linkset,
    place: registry.Placement,
    headers: dict[str, str],
) -> Response:
    link_type = request.query_params.get("linkType")
    if link_type is not None and link_type not in linktypes.LINKSET_REQUESTS:
        known = linktypes.lookup(link_type)
        targets = links.targets(known) if known else []
        if not targets:
            raise _with_headers(
                NoSuchLink(
                    f"this battery has no link of type {link_type!r}; "
                    f"?linkType=linkset lists the ones it has"
                ),
                headers,
            )
        return _redirect(targets[0].href, headers)
    headers = {**headers, "Vary": "Accept"}
    if link_type in linktypes.LINKSET_REQUESTS:
        media_type = LINKSET_MEDIA_TYPE
    else:
        try:
            media_type = choose(request.headers.get("accept"), ITEM_OFFERS)
        except NotAcceptable as exc:
            raise _with_headers(exc, headers) from None
    if media_type == LINKSET_MEDIA_TYPE:
        body = _json(links.as_json())
        return _conditional(
            request, body, LINKSET_MEDIA_TYPE, {**headers, "Cache-Control": SHORT_CACHE}
        )
    if media_type != HTML:
        return _credentials(request, credentials, media_type, headers)
    page = PassportPage(
        item_uri=links.anchor,
        gtin=route.gtin,
        serial=route.serial,
        battery_did=route.did,
        holder_did=route.holder_did,
        category=getattr(battery, "category", None),
        passport_id=getattr(battery, "passport_id", None),
        passport_version=getattr(battery, "passport_version", None),
        passport_state=getattr(battery, "passport_state", None),
        panels=[panel(c, rt.passports.verify_credential(session, c)) for c in credentials],
        history=rt.passports.passport_history(session, route.id),
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
    )
    body = render_passport(page).encode()
    # no-cache: the verdict changes when a credential is revoked, so caches must revalidate
    return _conditional(
        request, body, "text/html; charset=utf-8", {**headers, "Cache-Control": "no-cache"}
    )


def _credentials(
    request: Request, credentials: list[dict], media_type: str, headers: dict[str, str]
) -> Response:
    if not credentials:
        raise _with_headers(
            NoPublicPassport("no public passport credential has been issued for this battery"),
            headers,
        )
    # An unsigned VC 2.0 presentation: one JSON-LD document holding every public credential,
    # each with its own proof.
    presentation = {
        "@context": [VC_CONTEXT_URL],
        "type": ["VerifiablePresentation"],
        "verifiableCredential": credentials,
    }
    body = _json(presentation)
    return _conditional(request, body, media_type, {**headers, "Cache-Control": SHORT_CACHE})


def _qr(request: Request, item: ItemRequest, anchor: str) -> Response:
    kind = QR_RESOURCES[item.resource or ""]
    body = qr_image(anchor, kind)
    headers = {
        "Cache-Control": "public, max-age=86400",
        "Link": link_value(f"{anchor}?linkType=linkset", "linkset", type=LINKSET_MEDIA_TYPE),
    }
    return _conditional(request, body, QR_MEDIA_TYPES[kind], headers)


@router.options("/01/{item_path:path}", include_in_schema=False)
def item_preflight() -> Response:
    """CORS preflight (GS1 resolvers support OPTIONS): scripts on any origin may send the
    headers negotiation and revalidation need."""
    return Response(
        status_code=204,
        headers={
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
)
def battery_did_document(
    request: Request,
    battery_id: str,
    rt: Runtime = Depends(runtime),
    session: Session = Depends(db_session),
) -> Response:
    route = registry.by_id(session, battery_id)
    document = battery_dids.did_document(route, own_url=rt.settings.public_url)
    body = _json(document)
    return _conditional(request, body, DID_JSON, {"Cache-Control": SHORT_CACHE})


@router.get(
    "/1.0/identifiers/{did:path}",
    tags=["DIDs"],
    summary="Resolve a DID (did:key, did:web, battery DIDs): W3C DID Resolution result",
    response_class=Response,
)
def resolve_did(
    request: Request,
    did: str,
    rt: Runtime = Depends(runtime),
    session: Session = Depends(db_session),
) -> Response:
    prefix = "/1.0/identifiers/"
    raw = _raw_path(request)
    raw_did = raw[raw.index(prefix) + len(prefix) :] if prefix in raw else did
    answer = resolution.resolve(
        rt.resolver(session), resolution.did_from_path(raw_did), request.headers.get("accept")
    )
    body = _json(answer.body)
    headers = {**CORS, "Vary": "Accept"}
    if answer.status == 200:
        # `retrieved` differs on every call, so the validator covers the document only (weak)
        document = answer.body.get("didDocument", answer.body)
        tag = "W/" + etag(orjson.dumps(document, option=orjson.OPT_SORT_KEYS))
        headers.update({"ETag": tag, "Cache-Control": SHORT_CACHE})
        if not_modified(request.headers.get("if-none-match"), tag):
            return Response(status_code=304, headers=headers)
    return Response(body, status_code=answer.status, media_type=answer.media_type, headers=headers)


@router.put(
    "/batteries/{battery_id}/route",
    tags=["resolver"],
    summary="Re-point a battery: its new holder and the instance that serves its passport now",
)
def put_route(
    battery_id: str,
    body: dict = Depends(json_object),
    operator_did: str = Depends(current_operator_did),
    rt: Runtime = Depends(runtime),
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
    if route.holder_did != operator_did:
        raise NotHolder(
            f"battery {battery_id} is held by {route.holder_did}; only its holder can re-point it"
        )
    registry.repoint(session, route, holder_did=holder, endpoint=endpoint)
    session.commit()
    return Response(_json(route_view(route, own_url)), media_type="application/json")


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
)
@router.get(
    "/.well-known/resolver",
    tags=["resolver"],
    summary="ISO/IEC 18975 resolver description (same document)",
    response_class=Response,
)
def describe(request: Request, rt: Runtime = Depends(runtime)) -> Response:
    body = _json(resolver_description(rt.settings.public_url))
    return _conditional(
        request, body, "application/json", {"Cache-Control": "public, max-age=3600"}
    )
