"""Economic operators: their DIDs, bearer tokens and Ed25519 signing keys (sealed at rest)."""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass

from sqlmodel import Session, select

from issuer.errors import InvalidOperatorName, NotAuthenticated, OperatorExists, UnknownOperator
from issuer.tables import Operator, OperatorKey
from proofs.didkey import did_key, did_key_verification_method_id
from proofs.keys import Ed25519Key
from proofs.multikey import multikey_verification_method
from proofs.sealing import seal, unseal
from vocab.datetimes import utcnow

NAME_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
INSTANCE_NAME = "instance"
TOKEN_PREFIX = "dbp_"


@dataclass(frozen=True)
class SigningKey:
    key: Ed25519Key
    verification_method: str


def token_hash(token: str) -> str:
    # Tokens carry 256 bits of randomness, so a plain SHA-256 is enough (no password stretching).
    return hashlib.sha256(token.encode()).hexdigest()


def operator_did(did_web_base: str, name: str) -> str:
    return f"{did_web_base}:operators:{name}"


def create_operator(
    session: Session,
    *,
    name: str,
    did_method: str,
    did_web_base: str,
    master_key: bytes,
) -> tuple[Operator, str]:
    """Create an operator with a fresh key; returns it with its bearer token (shown once)."""
    if not NAME_PATTERN.match(name) or name == INSTANCE_NAME:
        raise InvalidOperatorName(
            f"operator name {name!r} must be 1-63 lowercase letters, digits or inner hyphens "
            f"and not {INSTANCE_NAME!r}"
        )
    if did_method not in ("web", "key"):
        raise InvalidOperatorName(f"DID method {did_method!r} is not supported (use web or key)")
    if session.exec(select(Operator).where(Operator.name == name)).first():
        raise OperatorExists(f"an operator named {name!r} already exists")
    key = Ed25519Key.generate()
    if did_method == "web":
        did = operator_did(did_web_base, name)
        vm_id = f"{did}#key-1"
    else:
        did = did_key(key.public)
        vm_id = did_key_verification_method_id(did)
    operator = Operator(id=str(uuid.uuid4()), name=name, did=did, did_method=did_method)
    session.add(operator)
    session.flush()
    token = new_token(session, operator)
    _store_key(session, operator, key, vm_id, master_key)
    return operator, token


def new_token(session: Session, operator: Operator) -> str:
    """Replace the operator's bearer token; the old one stops working at once."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    operator.token_hash = token_hash(token)
    session.add(operator)
    session.flush()
    return token


def ensure_instance(session: Session, *, did_web_base: str, master_key: bytes) -> Operator:
    """This service's own identity, `did:web:{host}`, served at /.well-known/did.json."""
    existing = session.exec(select(Operator).where(Operator.kind == "instance")).first()
    if existing:
        return existing
    operator = Operator(
        id=str(uuid.uuid4()),
        name=INSTANCE_NAME,
        did=did_web_base,
        did_method="web",
        kind="instance",
    )
    session.add(operator)
    session.flush()
    _store_key(session, operator, Ed25519Key.generate(), f"{did_web_base}#key-1", master_key)
    return operator


def _store_key(
    session: Session, operator: Operator, key: Ed25519Key, vm_id: str, master_key: bytes
) -> OperatorKey:
    assert key.private is not None
    row = OperatorKey(
        id=vm_id,
        operator_id=operator.id,
        public_multibase=key.public_multibase,
        sealed_private=seal(master_key, key.private, vm_id.encode()),
    )
    session.add(row)
    session.flush()
    return row


def rotate_key(session: Session, operator: Operator, master_key: bytes) -> OperatorKey:
    """Add a new assertion key; the old ones retire but stay in the DID document."""
    if operator.did_method != "web":
        raise InvalidOperatorName("a did:key operator cannot rotate its key: the DID is the key")
    keys = keys_of(session, operator)
    now = utcnow()
    for row in keys:
        if row.retired_at is None:
            row.retired_at = now
            session.add(row)
    return _store_key(
        session, operator, Ed25519Key.generate(), f"{operator.did}#key-{len(keys) + 1}", master_key
    )


def keys_of(session: Session, operator: Operator) -> list[OperatorKey]:
    rows = session.exec(select(OperatorKey).where(OperatorKey.operator_id == operator.id)).all()
    return sorted(rows, key=lambda r: (r.created_at, r.id))


def signing_key(session: Session, operator: Operator, master_key: bytes) -> SigningKey:
    active = [k for k in keys_of(session, operator) if k.retired_at is None]
    if not active:
        raise UnknownOperator(f"operator {operator.name!r} has no active key")
    row = active[-1]
    seed = unseal(master_key, row.sealed_private, row.id.encode())
    return SigningKey(Ed25519Key.from_private(seed), row.id)


def authenticate(session: Session, token: str | None) -> Operator:
    if not token:
        raise NotAuthenticated("a bearer token is required (Authorization: Bearer <token>)")
    digest = token_hash(token)
    operator = session.exec(select(Operator).where(Operator.token_hash == digest)).first()
    if operator is None:
        raise NotAuthenticated("the bearer token is not valid")
    if operator.removed_at is not None:
        raise NotAuthenticated(f"operator {operator.name!r} has been removed")
    return operator


def by_name(session: Session, name: str) -> Operator:
    operator = session.exec(select(Operator).where(Operator.name == name)).first()
    if operator is None:
        raise UnknownOperator(f"no operator named {name!r}")
    return operator


def by_did(session: Session, did: str) -> Operator | None:
    return session.exec(select(Operator).where(Operator.did == did)).first()


def did_document(session: Session, operator: Operator) -> dict:
    """The operator's DID document (did:web operators and the instance; did:key is derived)."""
    methods = [
        multikey_verification_method(
            Ed25519Key.from_multibase(row.public_multibase), row.id, operator.did
        )
        for row in keys_of(session, operator)
    ]
    ids = [m["id"] for m in methods]
    return {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": operator.did,
        "verificationMethod": methods,
        "authentication": ids,
        "assertionMethod": ids,
        "capabilityInvocation": ids,
    }
