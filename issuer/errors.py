"""Errors raised by the issuer; each carries the HTTP status and problem code the service uses."""

from __future__ import annotations


class IssuerError(Exception):
    code = "issuer-error"
    status = 400


class InvalidOperatorName(IssuerError):
    code = "invalid-operator-name"


class OperatorExists(IssuerError):
    code = "operator-exists"
    status = 409


class UnknownOperator(IssuerError):
    code = "unknown-operator"
    status = 404


class NotAuthenticated(IssuerError):
    code = "not-authenticated"
    status = 401


class NotAuthorized(IssuerError):
    code = "not-authorized"
    status = 403


class InvalidCredentialRequest(IssuerError):
    code = "invalid-credential"
    status = 400
