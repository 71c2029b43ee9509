"""The holder's identity: an Ed25519 key and the DID it controls (did:key, or a did:web that a
dbp instance hosts for the wallet at `/holders/{name}/did.json`)."""

from __future__ import annotations

from typing import Any

from proofs.didkey import did_key, did_key_document, did_key_verification_method_id
from proofs.keys import Ed25519Key
from vocab.datetimes import format_datetime, utcnow
from wallet.dids import Resolver
from wallet.errors import NoIdentity, ServiceError
from wallet.net import Http


def new_key() -> Ed25519Key:
    return Ed25519Key.generate()


def _identity(key: Ed25519Key, did: str, vm: str, method: str, **extra: Any) -> dict[str, Any]:
    return {
        "did": did,
        "verificationMethod": vm,
        "didMethod": method,
        "publicKeyMultibase": key.public_multibase,
        "privateKeyMultibase": key.private_multibase,
        "createdAt": format_datetime(utcnow()),
        **extra,
    }


def did_key_identity(key: Ed25519Key) -> dict[str, Any]:
    did = did_key(key.public)
    return _identity(key, did, did_key_verification_method_id(did), "key")


def did_web_identity(
    key: Ed25519Key, http: Http, *, service: str, name: str, token: str
) -> dict[str, Any]:
    """Register the public key with a dbp instance (`POST /holders`, an operator's bearer token),
    then resolve the new did:web the way any verifier would and check it lists our key."""
    base = service.rstrip("/")
    _, answer = http.json(
        "POST",
        f"{base}/holders",
        json={"name": name, "publicKeyMultibase": key.public_multibase},
        headers={"Authorization": f"Bearer {token}"},
    )
    did, vm = (
        (answer.get("did"), answer.get("verificationMethod"))
        if isinstance(answer, dict)
        else (None, None)
    )
    if not isinstance(did, str) or not isinstance(vm, str):
        raise ServiceError(f"{base}/holders did not answer with a DID and verification method")
    method = Resolver(http).verification_method(vm, "authentication")
    if method.get("publicKeyMultibase") != key.public_multibase:
        raise ServiceError(f"the DID document of {did} does not hold this wallet's key")
    return _identity(key, did, vm, "web", service=base, name=name)


def require(identity: dict[str, Any] | None) -> dict[str, Any]:
    if not identity:
        raise NoIdentity("the wallet has no identity yet; run `dbp wallet init` first")
    return identity


def signing_key(identity: dict[str, Any]) -> Ed25519Key:
    return Ed25519Key.from_multibase(
        identity["publicKeyMultibase"], identity["privateKeyMultibase"]
    )


def did_document(identity: dict[str, Any], http: Http | None = None) -> dict[str, Any]:
    """The wallet's DID document: computed for did:key, fetched from its host for did:web."""
    if identity["didMethod"] == "key":
        return did_key_document(identity["did"])
    with http or Http() as client:
        return Resolver(client).document(identity["did"])


def public_view(identity: dict[str, Any]) -> dict[str, Any]:
    """The identity without its private key, for printing."""
    return {k: v for k, v in identity.items() if k != "privateKeyMultibase"}
