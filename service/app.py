"""The FastAPI application: the routers of this process's role, wired together with problem
responses, request ids, logs, health and metrics."""

from __future__ import annotations

import gc
import inspect
import re
import warnings
from contextlib import asynccontextmanager
from typing import Any, Final

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import ORJSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import BaseRoute

from anchor.api import router as anchor_router
from anchor.errors import AnchorError
from infra import openapi
from infra.async_db import open_pool
from infra.db import OneConnectionPerRequest
from infra.headers import SecurityHeaders
from infra.openapi import content
from infra.ratelimit import RateLimited
from issuer.api import router as issuer_router
from issuer.backup.api import router as backup_router
from issuer.documents.api import public_router as battery_documents_router
from issuer.documents.api import upload_router as document_upload_router
from issuer.dppregistry.api import router as registry_router
from issuer.errors import IssuerError
from issuer.holders_api import router as holders_router
from issuer.transfer_api import router as transfer_router
from pipeline.api import make_router as pipeline_router
from pipeline.errors import PipelineError
from portal import pages as portal_pages
from portal.authority import api_router as authority_api_router
from portal.authority import router as authority_router
from portal.company import router as company_router
from portal.dashboards import router as dashboards_router
from portal.pipeline_pages import router as pipeline_pages_router
from proofs.errors import ProofError
from resolver import page
from resolver.api import router as resolver_router
from resolver.errors import ResolverError
from service import health, metrics, problems, roles
from service.bodies import BodyError, BodySizeLimit, json_object, optional_json_object
from service.deps import (
    current_operator,
    current_operator_did,
    db_session,
    operator_did,
    runtime,
)
from service.documents import router as documents_router
from service.observe import ObserveRequests
from service.runtime import Runtime
from service.scans import ItemScans, ScanFront
from service.settings import Settings
from verifier.api import access_router
from verifier.api import router as verifier_router
from verifier.errors import VerifierError
from vocab.errors import VocabError

# FastAPI >= 0.120 deprecates ORJSONResponse in favour of serializing response models through
# pydantic; our handlers return plain dicts and signed documents whose bytes must be exactly what
# orjson writes, so we keep it and keep the warning out of every log.
warnings.filterwarnings("ignore", message="ORJSONResponse is deprecated")

DOMAIN_ERRORS: tuple[type[Exception], ...] = (
    VocabError,
    ProofError,
    ResolverError,
    IssuerError,
    VerifierError,
    BodyError,
    AnchorError,
    RateLimited,
    PipelineError,
)


def _pipeline_config(request: Request):
    return request.app.state.runtime.settings.pipeline_config


# Each package's router goes, whole, with one role (service/roles.py says why); the order is the
# order of `--role all`, which matters where paths overlap.
ROUTERS: tuple[tuple[APIRouter, str], ...] = (
    (documents_router, roles.RESOLVER),
    (issuer_router, roles.ISSUER),
    (registry_router, roles.ISSUER),
    (document_upload_router, roles.ISSUER),
    (holders_router, roles.ISSUER),
    # Hand-overs change who is responsible and where a battery is served: issuer writes.
    (transfer_router, roles.ISSUER),
    # The pipeline's push API stages records for issuance: it belongs with the issuer.
    (pipeline_router(current_operator_did, _pipeline_config), roles.ISSUER),
    (verifier_router, roles.VERIFIER),
    (access_router, roles.VERIFIER),
    (anchor_router, roles.VERIFIER),
    (battery_documents_router, roles.RESOLVER),
    (resolver_router, roles.RESOLVER),
    # The company portal issues and changes status: it writes, like the issuer's API.
    (company_router, roles.ISSUER),
    (pipeline_pages_router, roles.ISSUER),
    # Dashboards only read, like the consumer pages.
    (dashboards_router, roles.RESOLVER),
    # The authority portal reads restricted tiers and the access log: the verifier's business.
    (authority_router, roles.VERIFIER),
    (authority_api_router, roles.VERIFIER),
)


# FastAPI's native OpenTelemetry (FastAPI versions with a `telemetry` argument) looks for global
# providers on every request, os.environ lookups included: ~4% of the samples of a QR scan served
# from stored bytes (py-spy under wrk). This service configures no OpenTelemetry; its metrics are
# its own Prometheus ones (service.metrics, service.observe).
_NO_NATIVE_TELEMETRY: dict = (
    {"telemetry": {"tracing": False, "metrics": False, "logs": False}}
    if "telemetry" in inspect.signature(FastAPI.__init__).parameters
    else {}
)


# What the backup role serves besides its own routes: the read routes of the primary's packages,
# over the public data of the newest snapshot (issuer/backup). Writes answer 405 read-only-backup.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def read_only(
    router: APIRouter, paths: frozenset[str] | None = None, methods: frozenset[str] = READ_METHODS
) -> APIRouter:
    """A router with the read routes of `router` (those at `paths`, when named); `methods`:
    what counts as reading (a verification is a POST that writes nothing)."""
    copy = APIRouter()
    for route in router.routes:
        if not isinstance(route, APIRoute) or not route.methods <= methods:
            continue
        if paths is None or route.path in paths:
            copy.routes.append(route)
    return copy


BACKUP_ROUTERS: tuple[tuple[APIRouter, str], ...] = (
    (backup_router, roles.BACKUP),
    (documents_router, roles.BACKUP),
    (read_only(battery_documents_router), roles.BACKUP),
    (read_only(resolver_router), roles.BACKUP),
    (
        read_only(
            issuer_router,
            frozenset(
                {"/status-lists/{list_id}", "/.well-known/did.json", "/operators/{name}/did.json"}
            ),
        ),
        roles.BACKUP,
    ),
    (read_only(holders_router, frozenset({"/holders/{name}/did.json"})), roles.BACKUP),
    # Restricted data from the snapshot's encrypted part, when the backup holds its key (the
    # challenges and the access log are the backup's own records, not the primary's data).
    (access_router, roles.BACKUP),
    # Verification writes nothing and, on the backup, finds every DID document and status list
    # of the primary locally: anyone can still have a credential checked there.
    (
        read_only(verifier_router, frozenset({"/credentials/verify"}), frozenset({"POST"})),
        roles.BACKUP,
    ),
)
ROUTERS = ROUTERS + BACKUP_ROUTERS


def routers_for(role: str) -> list[APIRouter]:
    return [router for router, owner in ROUTERS if roles.serves(role, owner)]


async def _scan_pool(rt: Runtime) -> Any:
    """The event loop's pool for QR scans (service.scans), on PostgreSQL when it is asked for;
    None otherwise: scans then read in worker threads."""
    settings = rt.settings
    if (
        not settings.resolver_async_scans
        or not roles.serves(settings.role, roles.RESOLVER)
        or rt.engine.dialect.name != "postgresql"
    ):
        return None
    return await open_pool(
        rt.engine.url, settings.resolver_scan_connections, settings.resolver_scan_wait_s
    )


class ServiceApp(FastAPI):
    """FastAPI with QR scans from stored bytes answered before anything else (service.scans:
    the whole middleware stack cost a stored scan about as much CPU as its read)."""

    scans: ScanFront | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.scans is not None and not self.root_path:
            scope["app"] = self
            if await self.scans(self, scope, receive, send):
                return
        await super().__call__(scope, receive, send)


# The collector's thresholds while the app runs (CPython's are 700, 10, 10). A generation-0
# collection starts when tracked objects made minus those freed pass the first; 64 scans in flight
# hold about as many, so at 700 collections ran all the time and promoted whatever was in flight,
# which then counted towards a full collection, and a full collection walks everything the app
# built since it started (each battery's answers and the caches behind them): ~100 ms with 2,000
# batteries' answers built. Under wrk -c64 on such a process (linkset, random batteries,
# gc.callbacks timing each collection): 5 full collections of ~100 ms in 12 s and p99 73-93 ms
# at 700, 10, 10; none in 24 s and p99 10-15 ms at these. Cyclic garbage is found later, in
# fewer collections: memory holds more of it in between.
GC_THRESHOLDS: Final = (10_000, 50, 100)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    role = settings.role

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.runtime = Runtime.start(settings)
        try:
            app.state.scan_pool = pool = await _scan_pool(app.state.runtime)
            # Everything made so far lives as long as the app: out of the collector's sight, so
            # its full collections stop walking it while scans are in flight (issue 16: wrk -c64
            # linkset p99 61-84 ms with it, 91-102 ms in the run before without; two runs at
            # different load, so a hint, not a proof). What the app builds later is not frozen:
            # GC_THRESHOLDS keep full collections rare instead.
            gc.collect()
            gc.freeze()
            gc.set_threshold(*GC_THRESHOLDS)
            try:
                yield
            finally:
                if pool is not None:
                    await pool.close()
        finally:
            app.state.runtime.close()

    app = ServiceApp(
        **_NO_NATIVE_TELEMETRY,
        title="dbp: Digital Battery Passport" + ("" if role == roles.ALL else f" ({role})"),
        version="0.1.0",
        summary="Battery passports under Regulation (EU) 2023/1542 as W3C Verifiable Credentials",
        default_response_class=ORJSONResponse,
        lifespan=lifespan,
    )
    problems.install(app, DOMAIN_ERRORS)
    app.add_exception_handler(StarletteHTTPException, _wrong_role_or(role))
    for exc_class in portal_pages.EXCEPTIONS:
        app.add_exception_handler(exc_class, portal_pages.handle)
    security = {
        "html_policy": page.CONTENT_SECURITY_POLICY,
        "https_public_url": settings.public_url.startswith("https://"),
        "exempt_paths": [app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url],
    }
    if roles.serves(role, roles.RESOLVER):
        app.add_middleware(ItemScans)  # innermost: QR scans from stored bytes, past the router
        # outermost, ahead of the middleware: stored scans read in the event loop
        app.scans = ScanFront(role, SecurityHeaders(None, **security))
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        path_limits={
            "/batteries:bulk": settings.max_bulk_body_bytes,
            # snapshots are large, and only the backup takes them
            **(
                {"/backup/snapshots": settings.backup_max_snapshot_bytes}
                if role == roles.BACKUP
                else {}
            ),
        },
        # a document and its form fields (multipart adds a few hundred bytes)
        suffix_limits={"/documents": settings.document_max_bytes + 65_536},
    )
    app.add_middleware(OneConnectionPerRequest)  # marks requests for infra.db.watch_pool
    app.add_middleware(SecurityHeaders, **security)
    app.add_middleware(ObserveRequests, role=role)  # outermost: sees every answer
    for router in routers_for(role):
        app.include_router(router)
    app.include_router(health.router)
    openapi.document_responses(
        app,
        [*routers_for(role), health.router],
        authenticated_by=[current_operator, current_operator_did, operator_did],
        json_bodies=[json_object],
        optional_json_bodies=[optional_json_object],
        database=[db_session, runtime],
    )

    @app.get("/health", tags=["service"], summary="Liveness check")
    def health_() -> dict:
        return {"status": "ok"}

    @app.get(
        "/metrics",
        tags=["service"],
        summary="Prometheus metrics: requests, latencies, issued credentials, anchor queue",
        response_class=Response,
        responses=content(200, metrics.CONTENT_TYPE),
    )
    def metrics_(request: Request) -> Response:
        # the state directly: the runtime dependency (infra.app.app_runtime) is a coroutine
        rt: Runtime = request.app.state.runtime
        return Response(metrics.exposition(rt.engine), media_type=metrics.CONTENT_TYPE)

    return app


def _wrong_role_or(role: str):
    """404/405 for a route another role serves becomes a 404 problem naming that role, so a
    misrouted request says where it belongs."""
    elsewhere: list[tuple[BaseRoute, str]] = [
        (route, owner)
        for router, owner in ROUTERS
        if not roles.serves(role, owner)
        for route in router.routes
    ]

    def handler(request: Request, exc: StarletteHTTPException) -> Response:
        if (
            role == roles.BACKUP
            and exc.status_code in (404, 405)
            and request.method not in READ_METHODS
            and not _full_match(request)
        ):
            return problems.problem_response(
                405,
                "read-only-backup",
                f"{request.method} {request.url.path}: this is the independent backup of "
                "another service; it serves that service's data read-only",
                role=role,
            )
        if exc.status_code in (404, 405) and not _full_match(request):
            owner = _owner(elsewhere, request.method, request.url.path)
            if owner is not None:
                return problems.problem_response(
                    404,
                    "wrong-role",
                    f"{request.method} {request.url.path} is served by the {owner} role; "
                    f"this process serves the {role} role",
                    role=role,
                    servedBy=owner,
                )
        return problems.from_http_exception(request, exc)

    return handler


def _full_match(request: Request) -> bool:
    """Whether a route of this process took the request (a handler's own 404 stays as it is);
    Starlette records a path-only match (a 405) in the scope too."""
    route = request.scope.get("route")
    if route is None:
        return False
    methods = getattr(route, "methods", None)
    return methods is None or request.method in methods


def _owner(elsewhere: list[tuple[BaseRoute, str]], method: str, path: str) -> str | None:
    for route, owner in elsewhere:
        regex: re.Pattern[str] | None = getattr(route, "path_regex", None)
        methods = getattr(route, "methods", None) or set()
        if regex is not None and regex.match(path) and method in methods:
            return owner
    return None
