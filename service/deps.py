"""FastAPI dependencies shared by the packages' routers. `db_session` lives in `infra.db` and the
operator's authentication in `issuer.auth`, the runtime and the calling operator's DID for
routes outside the issuer in `infra.app` (so that routers need not import `service`); they are
importable from here too."""

from __future__ import annotations

from fastapi import Depends
from sqlmodel import Session

from infra.app import app_runtime as runtime  # the one runtime dependency (infra); re-exported
from infra.app import bearer_token, operator_did
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
    "operator_did",
    "runtime",
]


def did_resolver(
    rt: Runtime = Depends(runtime), session: Session = Depends(db_session)
) -> DidResolver:
    return rt.resolver(session)
