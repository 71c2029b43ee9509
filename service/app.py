"""The FastAPI application: the packages' routers, wired together with problem responses."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import ORJSONResponse

from anchor.api import router as anchor_router
from anchor.errors import AnchorError
from issuer.api import router as issuer_router
from issuer.errors import IssuerError
from issuer.holders_api import router as holders_router
from proofs.errors import ProofError
from resolver.api import router as resolver_router
from resolver.errors import ResolverError
from service import problems
from service.bodies import BodyError, BodySizeLimit
from service.documents import router as documents_router
from service.runtime import Runtime
from service.settings import Settings
from verifier.api import access_router
from verifier.api import router as verifier_router
from verifier.errors import VerifierError
from vocab.errors import VocabError

DOMAIN_ERRORS: tuple[type[Exception], ...] = (
    VocabError,
    ProofError,
    ResolverError,
    IssuerError,
    VerifierError,
    BodyError,
    AnchorError,
)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.runtime = Runtime.start(settings)
        try:
            yield
        finally:
            app.state.runtime.close()

    app = FastAPI(
        title="dbp: Digital Battery Passport",
        version="0.1.0",
        summary="Battery passports under Regulation (EU) 2023/1542 as W3C Verifiable Credentials",
        default_response_class=ORJSONResponse,
        lifespan=lifespan,
    )
    problems.install(app, DOMAIN_ERRORS)
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        path_limits={"/batteries:bulk": settings.max_bulk_body_bytes},
    )
    for router in (
        documents_router,
        issuer_router,
        holders_router,
        verifier_router,
        access_router,
        anchor_router,
        resolver_router,
    ):
        app.include_router(router)

    @app.get("/health", tags=["service"], summary="Liveness check")
    def health() -> dict:
        return {"status": "ok"}

    return app
