"""Static documents the service publishes: the battery JSON-LD context and the JSON Schemas."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from infra.openapi import content, merge, problems
from vocab import context, schemas
from vocab.loader import context_bytes

router = APIRouter(tags=["vocabulary"])


@router.get(
    context.BATTERY_CONTEXT_PATH,
    summary="The battery passport JSON-LD context",
    response_class=Response,
    responses=content(200, "application/ld+json"),
)
def battery_context() -> Response:
    return Response(
        context_bytes(context.BATTERY_CONTEXT_URL),
        media_type="application/ld+json",
        headers={"Cache-Control": "public, max-age=86400"},
    )


@router.get(
    schemas.SCHEMA_PATH_PREFIX + "/{name}",
    summary="A credential JSON Schema",
    response_class=Response,
    responses=merge(content(200, "application/schema+json"), problems(404)),
)
def credential_schema(name: str) -> Response:
    url = schemas.SCHEMA_BASE_URL + "/" + name
    return Response(
        schemas.schema_bytes(url),
        media_type="application/schema+json",
        headers={"Cache-Control": "public, max-age=86400"},
    )
