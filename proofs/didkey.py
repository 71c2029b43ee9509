"""did:key (W3C CCG did:key v0.7), computed locally: nothing is looked up. dbp's own keys are
Ed25519 (`z6Mk…`); P-256 keys (`zDn…`) are resolved too, for verifying ES256 JWS."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from proofs.controller import verification_method_for_purpose
from proofs.errors import InvalidDid, InvalidKey, VerificationMethodError
from proofs.keys import KEY_BYTES
from proofs.multibase import ED25519_PUB_PREFIX, decode_base58btc, describe_prefix, encode_base58btc
from proofs.multikey import MULTIKEY_CONTEXT
from proofs.p256 import COMPRESSED_BYTES, P256_PUB_PREFIX, P256PublicKey

DID_KEY_PREFIX = "did:key:"
DID_CONTEXT = "https://www.w3.org/ns/did/v1"
# Every verification relationship a did:key document lists its one key under.
DID_KEY_PURPOSES = (
    "authentication",
    "assertionMethod",
    "capabilityInvocation",
    "capabilityDelegation",
)


def did_key(public: bytes) -> str:
    if not isinstance(public, bytes) or len(public) != KEY_BYTES:
        raise InvalidDid("a did:key is made from a 32-byte Ed25519 public key")
    return DID_KEY_PREFIX + encode_base58btc(ED25519_PUB_PREFIX + public)


def public_key_from_did_key(did: str) -> bytes:
    """The Ed25519 public key a `did:key:z6Mk…` encodes (a DID, not a DID URL)."""
    if not isinstance(did, str) or not did.startswith(DID_KEY_PREFIX):
        raise InvalidDid(f"{did!r} is not a did:key DID")
    identifier = did[len(DID_KEY_PREFIX) :]
    if any(c in identifier for c in "#?/:;"):
        raise InvalidDid(f"{did!r} is a DID URL or has a version; expected a bare did:key DID")
    try:
        data = decode_base58btc(identifier)
    except ValueError as exc:
        raise InvalidDid(f"the method-specific id of {did!r} is {exc}") from None
    if data[:2] != ED25519_PUB_PREFIX:
        raise InvalidDid(f"{did!r} encodes {describe_prefix(data)}; only Ed25519 is supported")
    if len(data) != 2 + KEY_BYTES:
        raise InvalidDid(f"{did!r} does not encode exactly 32 key bytes")
    return data[2:]


def _check_did_key(did: str) -> None:
    """An Ed25519 or a P-256 did:key, or InvalidDid."""
    if not isinstance(did, str):
        public_key_from_did_key(did)  # raises InvalidDid, wording it
    _checked_did_key(did)


# Kept per DID (a pure function of the string; refusals are not kept): resolving a did:key
# checked it twice, each a base58 decode, ~5 us of every verify by an issuer's key.
@lru_cache(maxsize=1024)
def _checked_did_key(did: str) -> None:
    try:
        public_key_from_did_key(did)
        return
    except InvalidDid:
        identifier = did[len(DID_KEY_PREFIX) :] if isinstance(did, str) else ""
        try:
            data = decode_base58btc(identifier)
        except ValueError:
            data = b""
        if data[:2] != P256_PUB_PREFIX:
            raise
    if len(data) != 2 + COMPRESSED_BYTES:
        raise InvalidDid(f"{did!r} does not encode a 33-byte compressed P-256 key")
    try:
        P256PublicKey(data[2:])
    except InvalidKey as exc:
        raise InvalidDid(f"{did!r}: {exc}") from None


def did_key_verification_method_id(did: str) -> str:
    _check_did_key(did)
    return f"{did}#{did[len(DID_KEY_PREFIX) :]}"


def did_key_document(did: str) -> dict[str, Any]:
    """The DID document of a did:key, in Multikey form (no derived X25519 key)."""
    _check_did_key(did)
    vm_id = did_key_verification_method_id(did)
    vm = {
        "id": vm_id,
        "type": "Multikey",
        "controller": did,
        "publicKeyMultibase": did[len(DID_KEY_PREFIX) :],
    }
    document: dict[str, Any] = {
        "@context": [DID_CONTEXT, MULTIKEY_CONTEXT],
        "id": did,
        "verificationMethod": [vm],
    }
    for purpose in DID_KEY_PURPOSES:
        document[purpose] = [vm_id]
    return document


def resolve_did_key_verification_method(verification_method_id: str, proof_purpose: str) -> dict:
    """A `VerificationMethodResolver` for did:key verification methods.

    did:key needs no lookup, so tests and the resolver package can use this directly.
    """
    did = verification_method_id.partition("#")[0]
    try:
        document = did_key_document(did)
    except InvalidDid as exc:
        raise VerificationMethodError(
            f"verification method {verification_method_id!r} cannot be resolved: {exc}"
        ) from None
    return verification_method_for_purpose(document, verification_method_id, proof_purpose)
