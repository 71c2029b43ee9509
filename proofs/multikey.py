"""Reading Ed25519 public keys out of verification methods, and writing Multikey ones."""

from __future__ import annotations

from typing import Any

import base58

from proofs.errors import InvalidKey, VerificationMethodError
from proofs.keys import KEY_BYTES, Ed25519Key, b64url_decode
from proofs.multibase import ED25519_PUB_PREFIX, decode_base58btc, describe_prefix

MULTIKEY_CONTEXT = "https://w3id.org/security/multikey/v1"
_MULTIBASE_TYPES = frozenset({"Multikey", "Ed25519VerificationKey2020"})
_JWK_TYPES = frozenset({"JsonWebKey", "JsonWebKey2020"})
SUPPORTED_TYPES = frozenset({*_MULTIBASE_TYPES, *_JWK_TYPES, "Ed25519VerificationKey2018"})


def public_key_from_verification_method(vm: dict[str, Any]) -> bytes:
    """The raw 32-byte Ed25519 public key a verification method describes.

    Accepts Multikey and Ed25519VerificationKey2020 (`publicKeyMultibase`), JsonWebKey and
    JsonWebKey2020 (`publicKeyJwk`, OKP/Ed25519) and Ed25519VerificationKey2018
    (`publicKeyBase58`). Raises VerificationMethodError for another type and InvalidKey for key
    material that is not an Ed25519 public key.
    """
    if not isinstance(vm, dict):
        raise VerificationMethodError("a verification method must be a JSON object")
    vm_type = vm.get("type")
    vm_id = vm.get("id", "<no id>")
    if vm_type in _MULTIBASE_TYPES:
        value = vm.get("publicKeyMultibase")
        if not isinstance(value, str):
            raise InvalidKey(f"verification method {vm_id} ({vm_type}) has no publicKeyMultibase")
        try:
            data = decode_base58btc(value)
        except ValueError as exc:
            raise InvalidKey(f"publicKeyMultibase of {vm_id} is {exc}") from None
        if data[:2] != ED25519_PUB_PREFIX:
            raise InvalidKey(
                f"verification method {vm_id} holds {describe_prefix(data)}; "
                "only Ed25519 keys are supported"
            )
        return _exact(data[2:], vm_id)
    if vm_type in _JWK_TYPES:
        jwk = vm.get("publicKeyJwk")
        if not isinstance(jwk, dict):
            raise InvalidKey(f"verification method {vm_id} ({vm_type}) has no publicKeyJwk")
        if "d" in jwk:
            # A published key carrying its private part is compromised by definition.
            raise InvalidKey(f"publicKeyJwk of {vm_id} contains private key material ('d')")
        if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
            raise InvalidKey(
                f"publicKeyJwk of {vm_id} is kty={jwk.get('kty')!r} crv={jwk.get('crv')!r}; "
                "only OKP/Ed25519 is supported"
            )
        try:
            return _exact(b64url_decode(jwk.get("x")), vm_id)
        except ValueError as exc:
            raise InvalidKey(f"publicKeyJwk 'x' of {vm_id} is {exc}") from None
    if vm_type == "Ed25519VerificationKey2018":
        value = vm.get("publicKeyBase58")
        if not isinstance(value, str):
            raise InvalidKey(f"verification method {vm_id} has no publicKeyBase58")
        try:
            return _exact(base58.b58decode(value), vm_id)
        except ValueError as exc:
            raise InvalidKey(f"publicKeyBase58 of {vm_id} is not base58: {exc}") from None
    raise VerificationMethodError(
        f"verification method {vm_id} has type {vm_type!r}; supported types are "
        + ", ".join(sorted(SUPPORTED_TYPES))
    )


def multikey_verification_method(
    key: Ed25519Key | bytes, id: str, controller: str
) -> dict[str, str]:
    """A Multikey verification method (Controlled Identifiers 1.0) for an Ed25519 key."""
    public = key if isinstance(key, bytes) else key.public
    return {
        "id": id,
        "type": "Multikey",
        "controller": controller,
        "publicKeyMultibase": Ed25519Key(public).public_multibase,
    }


def _exact(public: bytes, vm_id: str) -> bytes:
    if len(public) != KEY_BYTES:
        raise InvalidKey(f"the key of {vm_id} is {len(public)} bytes, an Ed25519 key is 32")
    return public
