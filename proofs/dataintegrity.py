"""W3C Data Integrity proofs: `DataIntegrityProof` with `eddsa-rdfc-2022` and `eddsa-jcs-2022`.

Implements vc-data-integrity 1.0 (add/verify proof, proof sets and chains) and vc-di-eddsa 1.0.
Legacy VC 1.1 suites (Ed25519Signature2020, JsonWebSignature2020, Ed25519Signature2018) are
verified by `proofs.legacy`, dispatched from `verify_proof` by proof `type`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from proofs import legacy
from proofs.canonical import DocumentLoader, jcs, rdfc, rdfc_varying
from proofs.controller import VerificationMethodResolver, checked_verification_method
from proofs.errors import (
    ChallengeMismatch,
    DomainMismatch,
    InvalidSignature,
    MalformedDocument,
    MalformedProof,
    MissingProof,
    ProofExpired,
    ProofPurposeMismatch,
    UnsupportedCryptosuite,
)
from proofs.keys import SIGNATURE_BYTES, Ed25519Key, verifying_key
from proofs.multibase import decode_base58btc, encode_base58btc
from proofs.multikey import public_key_from_verification_method
from vocab.datetimes import as_utc, format_datetime, parse_datetime, utcnow
from vocab.loader import document_loader as bundled_loader

__all__ = [
    "CRYPTOSUITES",
    "DATA_INTEGRITY_PROOF",
    "EDDSA_JCS_2022",
    "EDDSA_RDFC_2022",
    "SigningInput",
    "VerificationMethodResolver",
    "VerifiedProof",
    "create_proof",
    "signing_input",
    "verify_proof",
]

DATA_INTEGRITY_PROOF = "DataIntegrityProof"
EDDSA_RDFC_2022 = "eddsa-rdfc-2022"
EDDSA_JCS_2022 = "eddsa-jcs-2022"
CRYPTOSUITES = (EDDSA_RDFC_2022, EDDSA_JCS_2022)


@dataclass(frozen=True)
class VerifiedProof:
    """One proof that verified, with what a verifier needs to judge it further."""

    type: str
    cryptosuite: str | None
    verification_method: str
    controller: str
    proof_purpose: str
    created: datetime | None
    expires: datetime | None
    challenge: str | None
    domain: tuple[str, ...]
    proof_id: str | None
    method: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class SigningInput:
    """The intermediate values of vc-di-eddsa's transformation and hashing steps."""

    canonical_document: str
    canonical_proof_config: str
    document_hash: bytes
    proof_hash: bytes

    @property
    def data(self) -> bytes:
        """What is signed: hash(proof config) || hash(document)."""
        return self.proof_hash + self.document_hash


def signing_input(
    unsecured_document: dict[str, Any],
    proof: dict[str, Any],
    *,
    document_loader: DocumentLoader = bundled_loader,
    canonical_document: str | None = None,
) -> SigningInput:
    """Canonicalize and hash a document (without its proof) and a proof's configuration.

    `proof` may carry a `proofValue`; it is left out. The proof config gets the document's
    `@context` (vc-di-eddsa "proof configuration"): on the wire an `eddsa-rdfc-2022` proof has
    none of its own, an `eddsa-jcs-2022` proof carries a copy. `canonical_document` lets a caller
    that verifies a proof set canonicalize the shared document only once.
    """
    canonicalize = _canonicalizer(proof.get("cryptosuite"), document_loader)
    config = {k: v for k, v in proof.items() if k != "proofValue"}
    if "@context" in unsecured_document:
        config["@context"] = unsecured_document["@context"]
    if canonical_document is None:
        canonical_document = canonicalize(unsecured_document)
    if proof.get("cryptosuite") == EDDSA_RDFC_2022:
        # Configs recur with only `created` changed: canonical.rdfc_varying keeps a template.
        canonical_config = rdfc_varying(config, "created", document_loader=document_loader)
    else:
        canonical_config = canonicalize(config)
    return SigningInput(
        canonical_document=canonical_document,
        canonical_proof_config=canonical_config,
        document_hash=hashlib.sha256(canonical_document.encode("utf-8")).digest(),
        proof_hash=hashlib.sha256(canonical_config.encode("utf-8")).digest(),
    )


def _canonicalizer(
    cryptosuite: object, document_loader: DocumentLoader
) -> Callable[[dict[str, Any]], str]:
    if cryptosuite == EDDSA_RDFC_2022:
        return lambda document: rdfc(document, document_loader=document_loader)
    if cryptosuite == EDDSA_JCS_2022:
        return lambda document: jcs(document).decode("utf-8")
    raise UnsupportedCryptosuite(_unsupported_cryptosuite(cryptosuite))


def create_proof(
    document: dict[str, Any],
    key: Ed25519Key,
    verification_method: str,
    *,
    cryptosuite: str = EDDSA_RDFC_2022,
    proof_purpose: str = "assertionMethod",
    created: datetime | str | None = None,
    challenge: str | None = None,
    domain: str | Sequence[str] | None = None,
    expires: datetime | str | None = None,
    proof_id: str | None = None,
    previous_proof: str | Sequence[str] | None = None,
    document_loader: DocumentLoader = bundled_loader,
) -> dict[str, Any]:
    """A copy of `document` with a new `DataIntegrityProof` added.

    A document that already has proofs gets a proof set; `previous_proof` (ids of existing
    proofs) makes the new proof part of a proof chain, signing those proofs too.
    `created` defaults to now (UTC, whole seconds).
    """
    if not isinstance(document, dict):
        raise MalformedDocument("a document to sign must be a JSON object")
    if cryptosuite not in CRYPTOSUITES:
        raise UnsupportedCryptosuite(_unsupported_cryptosuite(cryptosuite))
    existing = _proof_list(document["proof"]) if "proof" in document else []
    unsecured = {k: v for k, v in document.items() if k != "proof"}

    proof: dict[str, Any] = {}
    if proof_id is not None:
        proof["id"] = proof_id
    proof["type"] = DATA_INTEGRITY_PROOF
    proof["cryptosuite"] = cryptosuite
    proof["created"] = _datetime_value(created if created is not None else utcnow(), "created")
    proof["verificationMethod"] = verification_method
    proof["proofPurpose"] = proof_purpose
    if expires is not None:
        proof["expires"] = _datetime_value(expires, "expires")
    if challenge is not None:
        proof["challenge"] = challenge
    if domain is not None:
        proof["domain"] = domain if isinstance(domain, str) else list(domain)
    if previous_proof is not None:
        proof["previousProof"] = (
            previous_proof if isinstance(previous_proof, str) else list(previous_proof)
        )
        unsecured["proof"] = _previous_proofs(proof, existing, "the new proof")
    if cryptosuite == EDDSA_JCS_2022 and "@context" in unsecured:
        proof["@context"] = unsecured["@context"]

    data = signing_input(unsecured, proof, document_loader=document_loader).data
    proof["proofValue"] = encode_base58btc(key.sign(data))

    secured = dict(document)
    secured["proof"] = [*existing, proof] if existing else proof
    return secured


def verify_proof(
    document: dict[str, Any],
    resolve: VerificationMethodResolver,
    *,
    expected_purpose: str = "assertionMethod",
    challenge: str | None = None,
    domain: str | None = None,
    now: datetime | None = None,
    document_loader: DocumentLoader = bundled_loader,
) -> list[VerifiedProof]:
    """Verify every proof of `document` (one proof, a proof set or a chain); all must verify.

    Checks, per proof: structure, purpose, challenge, domain, expiry, the verification method
    (through `resolve`, which must vouch that its controller lists it under the purpose, and whose
    `controller` must own it) and the signature. The first failure raises its own ProofError.
    Binding the controller to the credential's issuer or the presentation's holder is left to
    the caller, which knows which of them the proof speaks for (`VerifiedProof.controller`).
    """
    if not isinstance(document, dict):
        raise MalformedDocument("a secured document must be a JSON object")
    if document.get("proof") in (None, [], {}):
        raise MissingProof("the document has no proof, so nothing vouches for its content")
    proofs = _proof_list(document["proof"])
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    now = as_utc(now) if now is not None else utcnow()
    cache: dict[tuple[Any, ...], str] = {}

    results = []
    for index, proof in enumerate(proofs):
        label = _label(proof, index, len(proofs))
        proof_type, vm_id, purpose = _required_fields(proof, label)
        if proof_type == DATA_INTEGRITY_PROOF:
            cryptosuite = proof.get("cryptosuite")
            if cryptosuite not in CRYPTOSUITES:
                raise UnsupportedCryptosuite(f"{label}: {_unsupported_cryptosuite(cryptosuite)}")
        elif proof_type in legacy.SUITES:
            cryptosuite = None
        else:
            raise UnsupportedCryptosuite(
                f"{label} has type {proof_type!r}; supported are DataIntegrityProof "
                f"({', '.join(CRYPTOSUITES)}) and, for VC 1.1, {', '.join(sorted(legacy.SUITES))}"
            )
        if purpose != expected_purpose:
            raise ProofPurposeMismatch(
                f"{label} is for {purpose!r}, but {expected_purpose!r} is required here"
            )
        _check_challenge(proof, challenge, label)
        proof_domains = _check_domain(proof, domain, label)
        created = _optional_datetime(proof, "created", label)
        expires = _optional_datetime(proof, "expires", label)
        if expires is not None and now >= expires:
            raise ProofExpired(f"{label} expired at {proof['expires']}")

        method = checked_verification_method(resolve, vm_id, purpose, now, signed_at=created)
        key = verifying_key(public_key_from_verification_method(method))

        if proof_type == DATA_INTEGRITY_PROOF:
            _verify_data_integrity(unsecured, proof, proofs, key, label, document_loader, cache)
        else:
            legacy.verify_legacy_proof(
                unsecured, proof, key, label=label, document_loader=document_loader
            )
        results.append(
            VerifiedProof(
                type=proof_type,
                cryptosuite=cryptosuite,
                verification_method=vm_id,
                controller=method["controller"],
                proof_purpose=purpose,
                created=created,
                expires=expires,
                challenge=proof.get("challenge"),
                domain=proof_domains,
                proof_id=proof.get("id"),
                method=method,
            )
        )
    return results


def _verify_data_integrity(
    unsecured: dict[str, Any],
    proof: dict[str, Any],
    all_proofs: list[dict[str, Any]],
    key: Ed25519Key,
    label: str,
    document_loader: DocumentLoader,
    cache: dict[tuple[Any, ...], str],
) -> None:
    value = proof.get("proofValue")
    try:
        signature = decode_base58btc(value)
    except ValueError as exc:
        raise MalformedProof(f"{label}: proofValue is {exc}") from None
    if len(signature) != SIGNATURE_BYTES:
        # Decodable but the wrong size: an altered signature rather than a malformed proof.
        raise InvalidSignature(
            f"{label}: proofValue holds {len(signature)} bytes; an Ed25519 signature is 64"
        )
    document = dict(unsecured)
    if "@context" in proof:
        # vc-di-eddsa: the proof's contexts must open the document's, and are what was signed.
        proof_ctx = _as_list(proof["@context"])
        doc_ctx = _as_list(document.get("@context"))
        if doc_ctx[: len(proof_ctx)] != proof_ctx:
            # The contexts were signed with the proof; other ones mean a changed document.
            raise InvalidSignature(
                f"{label}: the document's @context does not start with the @context the proof "
                f"was made over ({proof_ctx!r})"
            )
        document["@context"] = proof["@context"]
    if "previousProof" in proof:
        document["proof"] = _previous_proofs(proof, all_proofs, label)
    # Proofs of a set usually sign the very same document: canonicalize it once (a lone proof
    # has nothing to share it with, and skips writing the key).
    cache_key = (
        (
            proof["cryptosuite"],
            repr(document.get("@context")),
            tuple(id(p) for p in document.get("proof", ())),
        )
        if len(all_proofs) > 1
        else None
    )
    inputs = signing_input(
        document, proof, document_loader=document_loader, canonical_document=cache.get(cache_key)
    )
    if cache_key is not None:
        cache[cache_key] = inputs.canonical_document
    data = inputs.data
    if not key.verify(signature, data):
        raise InvalidSignature(
            f"the signature of {label} ({proof['cryptosuite']}, {proof['verificationMethod']}) "
            "does not match: the document or the proof was changed after signing, or another "
            "key signed it"
        )


def _proof_list(value: Any) -> list[dict[str, Any]]:
    proofs = value if isinstance(value, list) else [value]
    for index, proof in enumerate(proofs):
        if not isinstance(proof, dict):
            raise MalformedProof(f"proof {index + 1} is not a JSON object")
    return proofs


def _previous_proofs(
    proof: dict[str, Any], all_proofs: list[dict[str, Any]], label: str
) -> list[dict[str, Any]]:
    wanted = proof["previousProof"]
    wanted_ids = [wanted] if isinstance(wanted, str) else wanted
    if not isinstance(wanted_ids, list) or not all(isinstance(w, str) for w in wanted_ids):
        raise MalformedProof(f"{label}: previousProof must be a string or a list of strings")
    by_id = {p.get("id"): p for p in all_proofs if p is not proof and "id" in p}
    missing = [w for w in wanted_ids if w not in by_id]
    if missing:
        raise MalformedProof(
            f"{label}: previousProof {', '.join(missing)} is not among the document's proofs"
        )
    return [by_id[w] for w in wanted_ids]


def _label(proof: dict[str, Any], index: int, count: int) -> str:
    name = "proof" if count == 1 else f"proof {index + 1} of {count}"
    proof_id = proof.get("id")
    return f"{name} ({proof_id})" if isinstance(proof_id, str) else name


def _required_fields(proof: dict[str, Any], label: str) -> tuple[str, str, str]:
    values = []
    for name in ("type", "verificationMethod", "proofPurpose"):
        value = proof.get(name)
        if not isinstance(value, str) or not value:
            raise MalformedProof(f"{label} has no {name} (a non-empty string is required)")
        values.append(value)
    return values[0], values[1], values[2]


def _check_challenge(proof: dict[str, Any], expected: str | None, label: str) -> None:
    if expected is None:
        return
    actual = proof.get("challenge")
    if actual is None:
        raise ChallengeMismatch(f"{label} has no challenge; the verifier expects {expected!r}")
    if actual != expected:
        raise ChallengeMismatch(
            f"{label} answers challenge {actual!r}, not the expected {expected!r}"
        )


def _check_domain(proof: dict[str, Any], expected: str | None, label: str) -> tuple[str, ...]:
    raw = proof.get("domain")
    domains = tuple(_as_list(raw)) if raw is not None else ()
    if not all(isinstance(d, str) for d in domains):
        raise MalformedProof(f"{label}: domain must be a string or a list of strings")
    if expected is not None and expected not in domains:
        if not domains:
            raise DomainMismatch(f"{label} has no domain; the verifier expects {expected!r}")
        raise DomainMismatch(
            f"{label} is bound to domain {', '.join(map(repr, domains))}, not {expected!r}"
        )
    return domains


def _optional_datetime(proof: dict[str, Any], name: str, label: str) -> datetime | None:
    if name not in proof:
        return None
    try:
        return parse_datetime(proof[name])
    except ValueError as exc:
        raise MalformedProof(f"{label}: {name} {exc}") from None


def _datetime_value(value: datetime | str, name: str) -> str:
    if isinstance(value, datetime):
        return format_datetime(value)
    try:
        parse_datetime(value)
    except ValueError as exc:
        raise MalformedProof(f"{name}: {exc}") from None
    return value


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _unsupported_cryptosuite(cryptosuite: object) -> str:
    if cryptosuite is None:
        return "a DataIntegrityProof must name its cryptosuite"
    return f"cryptosuite {cryptosuite!r} is not supported (supported: {', '.join(CRYPTOSUITES)})"
