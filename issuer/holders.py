"""Holder DIDs this instance hosts for wallets: `did:web:{host}:holders:{name}`.

A wallet that wants a did:web (rather than a did:key) registers its public key here with an
operator's bearer token; the instance then serves the DID document at
`/holders/{name}/did.json`. The private key never leaves the wallet, so the instance can publish
the document but cannot sign as the holder. A name is taken once and never re-pointed to another
key: credentials issued to the DID stay bound to the key that was there when they were issued.
"""

from __future__ import annotations

from sqlmodel import Session, select

from issuer.errors import IssuerError
from issuer.operators import NAME_PATTERN
from issuer.tables import HolderDid, Operator
from proofs.errors import ProofError
from proofs.keys import Ed25519Key
from proofs.multikey import multikey_verification_method

HOLDER_SEGMENT = "holders"
KEY_FRAGMENT = "#key-1"


class InvalidHolder(IssuerError):
    code = "invalid-holder"
    status = 400


class HolderExists(IssuerError):
    code = "holder-exists"
    status = 409


class UnknownHolder(IssuerError):
    code = "unknown-holder"
    status = 404


def holder_did(did_web_base: str, name: str) -> str:
    return f"{did_web_base}:{HOLDER_SEGMENT}:{name}"


def register(
    session: Session,
    *,
    name: object,
    public_multibase: object,
    did_web_base: str,
    operator: Operator,
) -> HolderDid:
    """Record a holder's public key under `name`; the caller commits."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise InvalidHolder(
            f"name: {name!r} must be 1-63 lowercase letters, digits or inner hyphens"
        )
    if not isinstance(public_multibase, str):
        raise InvalidHolder("publicKeyMultibase: an Ed25519 Multikey value (z6Mk...) is required")
    try:
        key = Ed25519Key.from_multibase(public_multibase)
    except ProofError as exc:
        raise InvalidHolder(f"publicKeyMultibase: {exc}") from None
    if session.get(HolderDid, name) is not None:
        raise HolderExists(f"a holder named {name!r} is already registered here")
    row = HolderDid(
        name=name,
        did=holder_did(did_web_base, name),
        public_multibase=key.public_multibase,
        registered_by=operator.id,
    )
    session.add(row)
    session.flush()
    return row


def by_name(session: Session, name: str) -> HolderDid:
    row = session.get(HolderDid, name) if len(name) <= 63 else None
    if row is None:
        raise UnknownHolder(f"no holder named {name!r} is registered here")
    return row


def by_did(session: Session, did: str) -> HolderDid | None:
    return session.exec(select(HolderDid).where(HolderDid.did == did)).first()


def did_document(row: HolderDid) -> dict:
    """The holder's DID document: one Multikey, usable to authenticate (present) and to assert
    (sign credentials of its own, such as a hand-over)."""
    vm = multikey_verification_method(
        Ed25519Key.from_multibase(row.public_multibase), row.did + KEY_FRAGMENT, row.did
    )
    return {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": row.did,
        "verificationMethod": [vm],
        "authentication": [vm["id"]],
        "assertionMethod": [vm["id"]],
    }
