"""Errors raised by the verifier."""

from __future__ import annotations

from typing import Any


class VerifierError(Exception):
    code = "verifier-error"
    status = 400


class InvalidVerificationRequest(VerifierError):
    code = "invalid-verification-request"


class VerificationFailed(VerifierError):
    """A credential or presentation did not verify; carries the whole result for the response."""

    code = "verification-failed"
    status = 400

    def __init__(self, message: str, result: dict[str, Any]) -> None:
        super().__init__(message)
        self.problem_extensions = result
