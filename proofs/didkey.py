"""did:key for Ed25519 (W3C CCG did:key v0.7), computed locally: nothing is looked up."""

from __future__ import annotations

from typing import Any

from proofs.controller import verification_method_for_purpose
from proofs.errors import InvalidDid, VerificationMethodError
from proofs.keys import KEY_BYTES
from proofs.multibase import ED25519_PUB_PREFIX, decode_base58btc, describe_prefix, encode_base58btc
from proofs.multikey import MULTIKEY_CONTEXT

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


def did_key_verification_method_id(did: str) -> str:
    public_key_from_did_key(did)
    return f"{did}#{did[len(DID_KEY_PREFIX) :]}"


def did_key_document(did: str) -> dict[str, Any]:
    """The DID document of an Ed25519 did:key, in Multikey form (no derived X25519 key)."""
    public_key_from_did_key(did)
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
