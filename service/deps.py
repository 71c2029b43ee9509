"""FastAPI dependencies shared by the packages' routers."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Depends, Request
from sqlmodel import Session

from issuer import operators
from issuer.tables import Operator
from resolver.dids import DidResolver
from service.runtime import Runtime


async def runtime(request: Request) -> Runtime:
    # A coroutine: FastAPI runs a sync dependency in the threadpool, a hop to a worker thread
    # and back (~0.1 ms of CPU) on every request only to read an attribute.
    return request.app.state.runtime


def db_session(rt: Runtime = Depends(runtime)) -> Iterator[Session]:
    """A session per request; handlers commit explicitly, anything uncommitted is rolled back."""
    with Session(rt.engine, expire_on_commit=False) as session:
        yield session


def did_resolver(
    rt: Runtime = Depends(runtime), session: Session = Depends(db_session)
) -> DidResolver:
    return rt.resolver(session)


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def current_operator(request: Request, session: Session = Depends(db_session)) -> Operator:
    return operators.authenticate(session, bearer_token(request))


def current_operator_did(operator: Operator = Depends(current_operator)) -> str:
    """The DID of the operator the bearer token belongs to (for routes outside the issuer)."""
    return operator.did
