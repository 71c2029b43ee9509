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


class Refusal(VerifierError):
    """An access request the verifier refuses. `code` is the reason recorded in the access log and
    returned as the problem type; messages name what failed, never what the battery holds."""

    code = "access-refused"
    status = 403


class NotAuthenticatedRefusal(Refusal):
    """The requester did not prove who it is (no, or no acceptable, presentation)."""

    status = 401


class NoPresentation(NotAuthenticatedRefusal):
    code = "no-presentation"


class InvalidPresentation(NotAuthenticatedRefusal):
    code = "invalid-presentation"


class HolderMismatch(NotAuthenticatedRefusal):
    code = "holder-mismatch"


class ChallengeMissing(NotAuthenticatedRefusal):
    code = "challenge-missing"


class ChallengeUnknown(NotAuthenticatedRefusal):
    code = "challenge-unknown"


class ChallengeReplayed(NotAuthenticatedRefusal):
    code = "challenge-replayed"


class ChallengeExpired(NotAuthenticatedRefusal):
    code = "challenge-expired"


class DomainMismatch(NotAuthenticatedRefusal):
    code = "domain-mismatch"


class UntrustedInstance(Refusal):
    """A presentation forwarded by an instance this one does not trust to forward authorities'
    queries (DBP_AUTHORITY_PEER_INSTANCES)."""

    code = "untrusted-instance"


class NoEntitlement(Refusal):
    code = "no-entitlement"


class InvalidCredential(Refusal):
    code = "invalid-credential"


class UntrustedIssuer(Refusal):
    code = "untrusted-issuer"


class CredentialExpired(Refusal):
    code = "credential-expired"


class CredentialRevoked(Refusal):
    code = "credential-revoked"


class CredentialSuspended(Refusal):
    code = "credential-suspended"


class GrantExpired(Refusal):
    code = "grant-expired"


class GrantOtherBattery(Refusal):
    code = "grant-other-battery"


class GrantIssuerNotResponsible(Refusal):
    code = "grant-issuer-not-responsible"


class WrongRole(Refusal):
    """Reading the access log needs an AuthorityCredential."""

    code = "role-not-allowed"


class UnknownBattery(Refusal):
    code = "unknown-battery"
    status = 404


class DomainNotAllowed(VerifierError):
    code = "domain-not-allowed"
    status = 400


class InvalidAccessRequest(Refusal):
    code = "invalid-access-request"
    status = 400


class TierNotAllowed(Refusal):
    code = "tier-not-allowed"


class AccessLogBroken(VerifierError):
    code = "access-log-broken"
    status = 500


class StatusChangeFailed(VerifierError):
    """A role credential's status could not be changed (unknown id, revocation is final, ...)."""

    code = "status-change-failed"
    status = 409
