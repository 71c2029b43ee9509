"""FastAPI dependencies shared by the packages' routers."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Depends, Request
from sqlmodel import Session

from issuer import operators, statuslists
from issuer.tables import Operator
from resolver.dids import DidResolver
from service.runtime import Runtime
from verifier.status import StatusListFetcher


def runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def db_session(rt: Runtime = Depends(runtime)) -> Iterator[Session]:
    """A session per request; handlers commit explicitly, anything uncommitted is rolled back."""
    with Session(rt.engine, expire_on_commit=False) as session:
        yield session


def did_resolver(
    rt: Runtime = Depends(runtime), session: Session = Depends(db_session)
) -> DidResolver:
    return rt.resolver(session)


def status_list_fetcher(
    rt: Runtime = Depends(runtime), session: Session = Depends(db_session)
) -> StatusListFetcher:
    """Status lists for the verifier: ours from the database, others over HTTP (allowed hosts)."""
    config = rt.issuer_config
    return StatusListFetcher(
        own_prefix=config.status_list_prefix,
        local=lambda url: statuslists.list_credential_by_url(session, config, url),
        policy=rt.did_web_policy,
        client=rt.http,
    )


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def current_operator(request: Request, session: Session = Depends(db_session)) -> Operator:
    return operators.authenticate(session, bearer_token(request))
