"""Exceptions raised by `proofs`.

Every class carries a `code` slug and an HTTP `status`, which the service turns into an RFC 9457
problem document; the message is meant for a person reading that problem, so it names the field,
URL, term or key that is wrong.
"""

from __future__ import annotations

from collections.abc import Iterable


class ProofError(Exception):
    """Base class for everything `proofs` raises on bad input."""

    code: str = "proof-error"
    status: int = 400


class MalformedProof(ProofError):
    """A proof object is structurally wrong: a missing or ill-typed field, an undecodable value."""

    code = "malformed-proof"


class MissingProof(MalformedProof):
    """A document that must be secured carries no proof at all."""

    code = "missing-proof"


class MalformedDocument(ProofError):
    """The secured document cannot be processed: invalid JSON-LD, or not canonicalizable JSON."""

    code = "malformed-document"


class UndefinedTerm(MalformedDocument):
    """The document uses JSON-LD terms no context defines, or relative IRIs.

    A JSON-LD processor silently drops such data, so it would ride along unsigned; it is refused.
    """

    code = "undefined-term"

    def __init__(self, terms: Iterable[str], message: str | None = None) -> None:
        self.terms: tuple[str, ...] = tuple(terms)
        listed = ", ".join(repr(t) for t in self.terms)
        super().__init__(
            message
            or f"the document uses JSON-LD terms that no @context defines: {listed}; "
            "add a context defining them (undefined data would not be covered by the signature)"
        )


class ContextNotAllowed(MalformedDocument):
    """The document names a JSON-LD context that is not bundled with the service."""

    code = "context-not-allowed"

    def __init__(self, url: str) -> None:
        self.url = url
        super().__init__(
            f"JSON-LD context {url!r} is not one of the contexts this service knows; "
            "remote contexts are never fetched"
        )


class UnsupportedCryptosuite(ProofError):
    """A proof type or cryptosuite this library does not implement."""

    code = "unsupported-cryptosuite"


class InvalidSignature(ProofError):
    """The signature does not match the document and proof under the verification method's key."""

    code = "invalid-signature"


class VerificationMethodError(ProofError):
    """The verification method is unknown, unresolvable, of the wrong type, inconsistent with its
    controller, or not authorised for the proof purpose."""

    code = "verification-method-error"


class ProofPurposeMismatch(ProofError):
    """The proof was made for another purpose than the one the verifier expects."""

    code = "proof-purpose-mismatch"


class ChallengeMismatch(ProofError):
    """The proof's challenge is missing or differs from the one the verifier issued."""

    code = "challenge-mismatch"


class DomainMismatch(ProofError):
    """The proof's domain is missing or does not include the verifier's domain."""

    code = "domain-mismatch"


class ProofExpired(ProofError):
    """The proof (or token) is past its expiry time."""

    code = "proof-expired"


class InvalidKey(ProofError):
    """Key material is malformed, of an unsupported type, or inconsistent (public vs private)."""

    code = "invalid-key"


class InvalidDid(ProofError):
    """A DID (or DID URL) is malformed or uses an unsupported key type."""

    code = "invalid-did"


class MalformedJws(ProofError):
    """A compact JWS / JWT cannot be parsed, or its header or payload is not acceptable."""

    code = "malformed-jws"


class AlgorithmNotAllowed(MalformedJws):
    """The JWS `alg` is not one we accept (only EdDSA / Ed25519; never `none`)."""

    code = "algorithm-not-allowed"


class KeyIdMismatch(ProofError):
    """The JWS `kid` names a key that does not belong to the credential's issuer (or VP holder)."""

    code = "kid-mismatch"
