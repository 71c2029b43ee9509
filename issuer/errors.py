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


class FieldError(IssuerError):
    """Bad input in one named field. The problem carries `field` and an `errors` list in the
    `{"path", "rule", "message"}` shape of `PassportInvalid`, so clients handle both alike."""

    code = "invalid-field"
    status = 422
    rule = "invalid"

    def __init__(self, field: str, message: str, *, rule: str | None = None) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.problem_extensions = {
            "field": field,
            "errors": [{"path": field, "rule": rule or self.rule, "message": message}],
        }


class BatteryExists(FieldError):
    code = "battery-exists"
    status = 409
    rule = "unique"


class UnknownBattery(IssuerError):
    code = "unknown-battery"
    status = 404


class NotResponsible(FieldError):
    """The authenticated operator is not the one responsible for the battery (Art 77(4))."""

    code = "not-responsible-operator"
    status = 403
    rule = "responsible-operator"


class PassportMismatch(FieldError):
    """The passport names another battery or passport than the one it is issued for."""

    code = "passport-mismatch"
    status = 422
    rule = "must-match"


class PassportVersionConflict(FieldError):
    code = "passport-version-conflict"
    status = 409
    rule = "next-version"


class UnknownCredential(IssuerError):
    code = "unknown-credential"
    status = 404


class InvalidStatusRequest(FieldError):
    code = "invalid-status-request"
    status = 400


class StatusChangeRefused(FieldError):
    code = "status-change-refused"
    status = 409
    rule = "irreversible"


class InvalidBulkRequest(FieldError):
    code = "invalid-bulk-request"
    status = 400


class IdempotencyKeyReused(FieldError):
    """The same Idempotency-Key with a different request body."""

    code = "idempotency-key-reused"
    status = 422
    rule = "same-request"


class UnknownJob(IssuerError):
    code = "unknown-job"
    status = 404


class UnknownStatusList(IssuerError):
    code = "unknown-status-list"
    status = 404


class ConcurrentChange(IssuerError):
    """Another request changed the same rows first; retrying the request is safe."""

    code = "concurrent-change"
    status = 409


# --- transfers (hand-over to a new operator) and new lives --------------------------------------


class InvalidTransferRequest(FieldError):
    code = "invalid-transfer-request"
    status = 400


class InvalidOffer(IssuerError):
    """Not a transfer offer, or its signatures do not verify (a tampered offer)."""

    code = "invalid-offer"
    status = 422


class OfferTampered(IssuerError):
    """The credential differs from the offer this instance made."""

    code = "offer-tampered"
    status = 422


class OfferExpired(IssuerError):
    code = "offer-expired"
    status = 410


class NotTransferee(IssuerError):
    """The accepting operator is not the one the offer names."""

    code = "not-transferee"
    status = 403


class WrongInstance(IssuerError):
    code = "wrong-instance"
    status = 422


class UnknownTransfer(IssuerError):
    code = "unknown-transfer"
    status = 404


class TransferStale(IssuerError):
    """The battery changed hands (or ended) since the offer was made."""

    code = "transfer-stale"
    status = 409


class PeerNotAllowed(IssuerError):
    code = "peer-not-allowed"
    status = 422


class PeerUnreachable(IssuerError):
    code = "peer-unreachable"
    status = 502


class PeerRefused(IssuerError):
    """The other instance answered with a problem; its code and status are passed on."""

    def __init__(self, message: str, *, code: str, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


class UnknownPredecessor(FieldError):
    code = "unknown-predecessor"
    status = 422
    rule = "known-passport"


class PredecessorNotYours(FieldError):
    code = "predecessor-not-yours"
    status = 403
    rule = "transferred-to-you"
