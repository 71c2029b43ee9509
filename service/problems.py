"""RFC 9457 problem responses for every error the service returns."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from infra.responses import problem_response

log = logging.getLogger("dbp")


def _from_domain_error(_request: Request, exc: Exception) -> Response:
    status = int(getattr(exc, "status", 400))
    code = str(getattr(exc, "code", "error"))
    extensions = dict(getattr(exc, "problem_extensions", {}) or {})
    if status >= 500 and status != 502:
        log.exception("internal error", exc_info=exc)
    else:
        # what a client was told, for whoever runs a suite or a client against the service
        log.debug("problem %d %s: %s", status, code, exc)
    response = problem_response(status, code, str(exc), **extensions)
    # an error may carry headers the answer still needs (Link, Vary, Allow)
    for name, value in (getattr(exc, "headers", None) or {}).items():
        response.headers[name] = value
    return response


def _from_validation_error(_request: Request, exc: RequestValidationError) -> Response:
    errors = [
        {
            "path": ".".join(str(p) for p in e.get("loc", ()) if p != "body"),
            "rule": e.get("type", ""),
            "message": e.get("msg", ""),
        }
        for e in exc.errors()
    ]
    first = errors[0] if errors else {"path": "", "message": "invalid request"}
    return problem_response(
        400, "invalid-request", f"{first['path'] or 'request'}: {first['message']}", errors=errors
    )


def from_http_exception(_request: Request, exc: StarletteHTTPException) -> Response:
    codes = {404: "not-found", 405: "method-not-allowed", 401: "not-authenticated"}
    code = codes.get(exc.status_code, f"http-{exc.status_code}")
    response = problem_response(exc.status_code, code, str(exc.detail))
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


def _unexpected(_request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", exc_info=exc)
    return problem_response(
        500, "internal-error", "an unexpected error occurred; it has been logged"
    )


def pool_busy(_request: Request, _exc: Exception) -> Response:
    # every pooled connection stayed busy for POOL_TIMEOUT_S (infra/db.py): say so at once
    # instead of queueing the client behind them
    log.warning("database connection pool exhausted")
    response = problem_response(
        503, "database-busy", "all database connections are busy; try again in a moment"
    )
    response.headers["Retry-After"] = "1"
    return response


def install(app: FastAPI, domain_errors: tuple[type[Exception], ...]) -> None:
    for cls in domain_errors:
        app.add_exception_handler(cls, _from_domain_error)
    app.add_exception_handler(PoolTimeout, pool_busy)
    app.add_exception_handler(RequestValidationError, _from_validation_error)
    app.add_exception_handler(StarletteHTTPException, from_http_exception)
    app.add_exception_handler(Exception, _unexpected)
