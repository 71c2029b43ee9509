"""Authenticating operators on the issuer's routes (and any route that needs the calling
operator): the bearer token of the request, checked by `operators.authenticate`."""

from __future__ import annotations

from fastapi import Depends, Request
from sqlmodel import Session

from infra.app import bearer_token
from infra.db import db_session
from issuer import operators
from issuer.tables import Operator

__all__ = ["bearer_token", "current_operator", "current_operator_did"]


def current_operator(request: Request, session: Session = Depends(db_session)) -> Operator:
    return operators.authenticate(session, bearer_token(request))


def current_operator_did(operator: Operator = Depends(current_operator)) -> str:
    """The DID of the operator the bearer token belongs to (for routes outside the issuer)."""
    return operator.did
