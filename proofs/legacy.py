"""Linked Data proof suites of VC 1.1: Ed25519Signature2020, JsonWebSignature2020 and
Ed25519Signature2018.

This is what Catena-X partners send today. dbp issues `DataIntegrityProof` only;
`create_legacy_proof` exists so that tests can produce such proofs and so that the interop tests
can check that didkit reads ours. All three suites sign
hash(canonical proof options) || hash(canonical document), canonicalized with RDFC-1.0 (URDNA2015),
the proof options taking the document's `@context` plus any the proof brings (as didkit writes
them); they differ in how the signature is written:
- Ed25519Signature2020: `proofValue`, base58btc multibase of the raw signature;
- JsonWebSignature2020 and Ed25519Signature2018: `jws`, a detached JWS with unencoded payload
  (RFC 7797, `b64: false`) whose payload is those 64 hash bytes.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from proofs.canonical import DocumentLoader, rdfc
from proofs.errors import (
    AlgorithmNotAllowed,
    InvalidSignature,
    MalformedDocument,
    MalformedProof,
)
from proofs.keys import SIGNATURE_BYTES, Ed25519Key, b64url_decode, b64url_encode
from proofs.multibase import decode_base58btc, encode_base58btc
from vocab import json_text
from vocab.datetimes import format_datetime, utcnow
from vocab.loader import document_loader as bundled_loader

ED25519_SIGNATURE_2020 = "Ed25519Signature2020"
JSON_WEB_SIGNATURE_2020 = "JsonWebSignature2020"
ED25519_SIGNATURE_2018 = "Ed25519Signature2018"
SUITES = frozenset({ED25519_SIGNATURE_2020, JSON_WEB_SIGNATURE_2020, ED25519_SIGNATURE_2018})
_JWS_SUITES = frozenset({JSON_WEB_SIGNATURE_2020, ED25519_SIGNATURE_2018})
_SIGNATURE_FIELDS = frozenset({"proofValue", "jws", "signatureValue"})
# Only EdDSA over Ed25519: these suites are verified with Ed25519 keys only.
_JWS_ALGORITHMS = frozenset({"EdDSA"})


def legacy_signing_input(
    unsecured_document: dict[str, Any],
    proof: dict[str, Any],
    *,
    document_loader: DocumentLoader = bundled_loader,
) -> bytes:
    """hash(canonical proof options) || hash(canonical document), both SHA-256 over RDFC-1.0."""
    options = {k: v for k, v in proof.items() if k not in _SIGNATURE_FIELDS}
    options["@context"] = _proof_options_context(unsecured_document, proof)
    proof_hash = hashlib.sha256(rdfc(options, document_loader=document_loader).encode()).digest()
    document_hash = hashlib.sha256(
        rdfc(unsecured_document, document_loader=document_loader).encode()
    ).digest()
    return proof_hash + document_hash


def verify_legacy_proof(
    unsecured_document: dict[str, Any],
    proof: dict[str, Any],
    key: Ed25519Key,
    *,
    label: str = "proof",
    document_loader: DocumentLoader = bundled_loader,
) -> None:
    """Check the signature of one legacy proof; raises MalformedProof, AlgorithmNotAllowed or
    InvalidSignature. Purpose, challenge, domain and the key are checked by `verify_proof`."""
    proof_type = proof.get("type")
    if proof_type == ED25519_SIGNATURE_2020:
        try:
            signature = decode_base58btc(proof.get("proofValue"))
        except ValueError as exc:
            raise MalformedProof(f"{label}: proofValue is {exc}") from None
        _check_length(signature, label)
        data = legacy_signing_input(unsecured_document, proof, document_loader=document_loader)
    elif proof_type in _JWS_SUITES:
        encoded_header, signature = _parse_detached_jws(proof.get("jws"), label)
        data = (
            encoded_header.encode("ascii")
            + b"."
            + legacy_signing_input(unsecured_document, proof, document_loader=document_loader)
        )
    else:
        raise MalformedProof(f"{label}: {proof_type!r} is not a legacy proof type")
    if not key.verify(signature, data):
        raise InvalidSignature(
            f"the signature of {label} ({proof_type}, {proof.get('verificationMethod')}) does "
            "not match: the document or the proof was changed after signing, or another key "
            "signed it"
        )


def create_legacy_proof(
    document: dict[str, Any],
    key: Ed25519Key,
    verification_method: str,
    *,
    proof_type: str = ED25519_SIGNATURE_2020,
    proof_purpose: str = "assertionMethod",
    created: datetime | None = None,
    challenge: str | None = None,
    domain: str | None = None,
    document_loader: DocumentLoader = bundled_loader,
) -> dict[str, Any]:
    """A copy of a VC 1.1 `document` with a legacy proof (for tests and interop checks)."""
    if not isinstance(document, dict):
        raise MalformedDocument("a document to sign must be a JSON object")
    if proof_type not in SUITES:
        raise MalformedProof(f"{proof_type!r} is not a legacy proof type")
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    proof: dict[str, Any] = {
        "type": proof_type,
        "created": format_datetime(created or utcnow()),
        "verificationMethod": verification_method,
        "proofPurpose": proof_purpose,
    }
    if challenge is not None:
        proof["challenge"] = challenge
    if domain is not None:
        proof["domain"] = domain
    data = legacy_signing_input(unsecured, proof, document_loader=document_loader)
    if proof_type == ED25519_SIGNATURE_2020:
        proof["proofValue"] = encode_base58btc(key.sign(data))
    else:
        header = b64url_encode(
            json.dumps(
                {"alg": "EdDSA", "b64": False, "crit": ["b64"]}, separators=(",", ":")
            ).encode()
        )
        signature = key.sign(header.encode("ascii") + b"." + data)
        proof["jws"] = f"{header}..{b64url_encode(signature)}"
    return {**unsecured, "proof": proof}


def _proof_options_context(unsecured_document: dict[str, Any], proof: dict[str, Any]) -> Any:
    """The document's contexts, then any the proof brings that the document lacks.

    didkit (Rust ssi) puts the suite context into the proof (`"@context": [".../jws-2020/v1"]`)
    and signs the proof options under the document's contexts plus that one; the suite context
    alone does not even define `type`. Without a proof context this is just the document's.
    """
    document_context = unsecured_document.get("@context")
    if "@context" not in proof:
        return document_context
    combined = list(document_context) if isinstance(document_context, list) else [document_context]
    own = proof["@context"] if isinstance(proof["@context"], list) else [proof["@context"]]
    combined.extend(c for c in own if c not in combined)
    return combined


def _parse_detached_jws(jws: object, label: str) -> tuple[str, bytes]:
    if not isinstance(jws, str) or jws.count(".") != 2:
        raise MalformedProof(f"{label}: jws must be a detached compact JWS 'header..signature'")
    encoded_header, payload, encoded_signature = jws.split(".")
    if payload:
        raise MalformedProof(f"{label}: jws must have a detached (empty) payload")
    try:
        header = json_text.loads_lenient(b64url_decode(encoded_header))
        signature = b64url_decode(encoded_signature)
    except ValueError as exc:
        raise MalformedProof(f"{label}: jws is not decodable: {exc}") from None
    if not isinstance(header, dict):
        raise MalformedProof(f"{label}: the jws header is not a JSON object")
    alg = header.get("alg")
    if alg not in _JWS_ALGORITHMS:
        raise AlgorithmNotAllowed(
            f"{label}: jws alg {alg!r} is not allowed; only EdDSA (Ed25519) is accepted"
        )
    # RFC 7797: the payload is the raw hash bytes only when b64 is false and marked critical.
    if header.get("b64") is not False or "b64" not in (header.get("crit") or []):
        raise MalformedProof(f"{label}: jws must use an unencoded payload (b64: false, crit b64)")
    unknown = set(header.get("crit") or []) - {"b64"}
    if unknown:
        raise MalformedProof(f"{label}: jws marks unknown header parameters critical: {unknown}")
    _check_length(signature, label)
    return encoded_header, signature


def _check_length(signature: bytes, label: str) -> None:
    if len(signature) != SIGNATURE_BYTES:
        raise InvalidSignature(
            f"{label}: the signature is {len(signature)} bytes; an Ed25519 signature is 64"
        )
