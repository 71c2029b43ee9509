"""The running service as the routers see it: `app_runtime`, a FastAPI dependency answering the
runtime the composition root keeps in `app.state.runtime` (each package types it with a
`Protocol` of its own, what its routers use of it, so that no router imports `service`), the
request's `bearer_token`, and `operator_did`, the calling operator for routes outside the
issuer (the runtime authenticates the token)."""

from __future__ import annotations

from typing import Any

from fastapi import Depends
from sqlmodel import Session
from starlette.requests import Request

from infra.db import db_session

__all__ = ["app_runtime", "bearer_token", "operator_did"]


async def app_runtime(request: Request) -> Any:
    """The runtime of the app serving `request` (`service.runtime.Runtime` in dbp)."""
    # A coroutine: FastAPI runs a sync dependency in the threadpool, a hop to a worker thread
    # and back (~0.1 ms of CPU) on every request only to read an attribute.
    return request.app.state.runtime


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer ...` header, or None."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def operator_did(
    request: Request,
    rt: Any = Depends(app_runtime),
    session: Session = Depends(db_session),
) -> str:
    """FastAPI dependency: the DID of the operator the request's bearer token belongs to (the
    runtime's `operator_did` authenticates it; 401 without a valid token)."""
    return rt.operator_did(session, bearer_token(request))
