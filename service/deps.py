"""FastAPI dependencies shared by the packages' routers. `db_session` lives in `infra.db` and the
operator's authentication in `issuer.auth` (so that routers need not import `service`); they are
importable from here too."""

from __future__ import annotations

from fastapi import Depends, Request
from sqlmodel import Session

from infra.app import bearer_token
from infra.db import db_session
from issuer.auth import current_operator, current_operator_did
from resolver.dids import DidResolver
from service.runtime import Runtime

__all__ = [
    "bearer_token",
    "current_operator",
    "current_operator_did",
    "db_session",
    "did_resolver",
    "runtime",
]


async def runtime(request: Request) -> Runtime:
    # A coroutine: FastAPI runs a sync dependency in the threadpool, a hop to a worker thread
    # and back (~0.1 ms of CPU) on every request only to read an attribute.
    return request.app.state.runtime


def did_resolver(
    rt: Runtime = Depends(runtime), session: Session = Depends(db_session)
) -> DidResolver:
    return rt.resolver(session)
