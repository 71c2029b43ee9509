"""What the OpenAPI document says a route answers: every status code and media type it really
returns, problems (RFC 9457) included, so a client generator or schemathesis can rely on it.

Routes declare what is theirs with `responses=` (built with `problems(...)` and `content(...)`);
`document_responses` adds what follows from a route's dependencies (a JSON body: 400/413/415; an
operator token: 401 and the bearer scheme; the database: 503 when its pool is exhausted) and
replaces FastAPI's 422 validation answer, which this service never sends (it answers 400)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details; `type` names the problem, extensions may follow.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
    },
}
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}

WHY = {
    400: "Malformed request: a parameter or the body breaks a rule (the problem names it).",
    401: "No valid operator token (Authorization: Bearer ...).",
    403: "Authenticated, but not allowed to do this.",
    404: "Not found here.",
    405: "Method not allowed.",
    409: "Conflicts with the current state.",
    410: "Gone: no longer served here.",
    413: "The request body is too large.",
    415: "The body is not JSON.",
    422: "Well-formed, but the content breaks a rule of the vocabulary or the flow.",
    429: "Too many requests from this client; see Retry-After.",
    502: "Another service this one called failed.",
    503: "Temporarily unable to answer (database connections busy, chain not ready); see "
    "Retry-After.",
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for problem answers with these status codes."""
    return {
        status: {
            "description": WHY.get(status, "A problem."),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": _PROBLEM_REF}},
        }
        for status in statuses
    }


def content(
    status: int, *media_types: str, description: str = "", schema: dict | None = None
) -> dict[int | str, dict[str, Any]]:
    """A `responses=` entry: `status` answered with any of `media_types`."""
    body = {"schema": schema} if schema is not None else {}
    return {
        status: {
            "description": description or "Success.",
            "content": {media_type: dict(body) for media_type in media_types},
        }
    }


def merge(*parts: dict[int | str, dict[str, Any]]) -> dict[int | str, dict[str, Any]]:
    out: dict[int | str, dict[str, Any]] = {}
    for part in parts:
        for status, response in part.items():
            if status in out:
                out[status] = {
                    **out[status],
                    "content": {**out[status].get("content", {}), **response.get("content", {})},
                }
            else:
                out[status] = response
    return out


def json_body(schema: dict[str, Any], *, required: bool = True) -> dict[str, Any]:
    """`openapi_extra=` for a route that reads its JSON body itself (not through a model)."""
    return {
        "requestBody": {
            "required": required,
            "content": {"application/json": {"schema": schema}},
        }
    }


def _calls(dependant: Dependant) -> set[Callable]:
    found: set[Callable] = set()
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            found.add(dependency.call)
        found |= _calls(dependency)
    return found


def document_responses(
    app: FastAPI,
    routers: Iterable[APIRouter],
    *,
    authenticated_by: Iterable[Callable],
    json_bodies: Iterable[Callable],
    optional_json_bodies: Iterable[Callable] = (),
    database: Iterable[Callable],
) -> None:
    """Make `app.openapi()` list what each route answers (see the module docstring)."""
    auth, db = set(authenticated_by), set(database)
    bodies = {call: True for call in json_bodies} | {call: False for call in optional_json_bodies}
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        components = schema.setdefault("components", {})
        components.setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        components.setdefault("securitySchemes", {})["operatorToken"] = {
            "type": "http",
            "scheme": "bearer",
            "description": "An operator's API token (`dbp operator create` prints one).",
        }
        # the routers' own routes: FastAPI >= 0.160 keeps included routers whole in app.routes
        for route in [*app.routes, *(r for router in routers for r in router.routes)]:
            if not isinstance(route, APIRoute) or not route.include_in_schema:
                continue
            calls = _calls(route.dependant)
            for method in route.methods:
                operation = schema["paths"].get(route.path_format, {}).get(method.lower())
                if operation is None:
                    continue
                _document(operation, route, calls, auth, bodies, db)
        for unused in ("HTTPValidationError", "ValidationError"):
            components["schemas"].pop(unused, None)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _document(
    operation: dict[str, Any],
    route: APIRoute,
    calls: set[Callable],
    auth: set[Callable],
    bodies: dict[Callable, bool],
    db: set[Callable],
) -> None:
    responses = operation.setdefault("responses", {})
    validation = responses.get("422", {})
    if validation.get("description") == "Validation Error":
        del responses["422"]
    added: list[int] = []
    if route.dependant.path_params:
        added += [400, 404]  # 404 too: a value the path cannot hold (a newline) matches no route
    if route.dependant.query_params or route.dependant.header_params:
        added.append(400)
    body_readers = [call for call in bodies if call in calls]
    if body_readers:
        added += [400, 413, 415]
        operation.setdefault(
            "requestBody",
            {
                "required": any(bodies[call] for call in body_readers),
                "content": {"application/json": {"schema": {"type": "object"}}},
            },
        )
    if calls & auth:
        added.append(401)
        operation["security"] = [{"operatorToken": []}]
    if calls & db:
        added.append(503)
    for status, response in problems(*added).items():
        existing = responses.setdefault(str(status), response)
        existing.setdefault("content", {}).setdefault(PROBLEM_MEDIA_TYPE, {"schema": _PROBLEM_REF})


def unchanged() -> dict[int | str, dict[str, Any]]:
    return {304: {"description": "Not modified: the If-None-Match validator still matches."}}


def redirect(status: int = 307, why: str = "Served elsewhere: see Location.") -> dict:
    return {
        status: {
            "description": why,
            "headers": {"Location": {"schema": {"type": "string"}}},
        }
    }
