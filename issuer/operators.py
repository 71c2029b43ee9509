"""Economic operators: their DIDs, bearer tokens and Ed25519 signing keys.

Keys live where the key store puts them (`proofs.signer`): sealed in the database under the master
key, or inside a PKCS#11 token with only a reference here. The `master_key` arguments take either
the master key (bytes) or a `Keystore`."""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, select

from issuer import operator_identity
from issuer.errors import InvalidOperatorName, NotAuthenticated, OperatorExists, UnknownOperator
from issuer.tables import Operator, OperatorKey
from proofs.didkey import did_key, did_key_verification_method_id
from proofs.keys import Ed25519Key
from proofs.multikey import multikey_verification_method
from proofs.signer import HeldKey, Keystore, as_keystore
from vocab.datetimes import format_datetime, utcnow

NAME_PATTERN = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
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
    master_key: bytes | Keystore,
) -> tuple[Operator, str]:
    """Create an operator with a fresh key; returns it with its bearer token (shown once)."""
    if not NAME_PATTERN.fullmatch(name) or name == INSTANCE_NAME:
        raise InvalidOperatorName(
            f"operator name {name!r} must be 1-63 lowercase letters, digits or inner hyphens "
            f"and not {INSTANCE_NAME!r}"
        )
    if did_method not in ("web", "key"):
        raise InvalidOperatorName(f"DID method {did_method!r} is not supported (use web or key)")
    if session.exec(select(Operator).where(Operator.name == name)).first():
        raise OperatorExists(f"an operator named {name!r} already exists")
    keystore = as_keystore(master_key)
    if did_method == "web":
        did = operator_did(did_web_base, name)
        vm_id = f"{did}#key-1"
        public, held = keystore.new_ed25519(vm_id)
    else:
        # A did:key is its key: the key store names the key once the public key is known.
        public, held = keystore.new_ed25519(
            lambda public: did_key_verification_method_id(did_key(public))
        )
        did = did_key(public)
        vm_id = did_key_verification_method_id(did)
    operator = Operator(id=str(uuid.uuid4()), name=name, did=did, did_method=did_method)
    session.add(operator)
    session.flush()
    token = new_token(session, operator)
    _store_key(session, operator, public, held, vm_id)
    return operator, token


def new_token(session: Session, operator: Operator) -> str:
    """Replace the operator's bearer token; the old one stops working at once."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    operator.token_hash = token_hash(token)
    session.add(operator)
    session.flush()
    return token


def ensure_instance(
    session: Session, *, did_web_base: str, master_key: bytes | Keystore
) -> Operator:
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
    vm_id = f"{did_web_base}#key-1"
    public, held = as_keystore(master_key).new_ed25519(vm_id)
    _store_key(session, operator, public, held, vm_id)
    return operator


def _store_key(
    session: Session, operator: Operator, public: bytes, held: HeldKey, vm_id: str
) -> OperatorKey:
    row = OperatorKey(
        id=vm_id,
        operator_id=operator.id,
        public_multibase=Ed25519Key.from_public(public).public_multibase,
        sealed_private=held.sealed,
        key_ref=held.ref,
    )
    session.add(row)
    session.flush()
    return row


def rotate_key(session: Session, operator: Operator, master_key: bytes | Keystore) -> OperatorKey:
    """Add a new assertion key; the old ones retire but stay in the DID document."""
    if operator.did_method != "web":
        raise InvalidOperatorName("a did:key operator cannot rotate its key: the DID is the key")
    keys = keys_of(session, operator)
    now = utcnow()
    for row in keys:
        if row.retired_at is None:
            row.retired_at = now
            session.add(row)
    vm_id = f"{operator.did}#key-{len(keys) + 1}"
    public, held = as_keystore(master_key).new_ed25519(vm_id)
    return _store_key(session, operator, public, held, vm_id)


def keys_of(session: Session, operator: Operator) -> list[OperatorKey]:
    rows = session.exec(select(OperatorKey).where(OperatorKey.operator_id == operator.id)).all()
    return sorted(rows, key=lambda r: (r.created_at, r.id))


def signing_key(session: Session, operator: Operator, master_key: bytes | Keystore) -> SigningKey:
    active = [k for k in keys_of(session, operator) if k.retired_at is None]
    if not active:
        raise UnknownOperator(f"operator {operator.name!r} has no active key")
    row = active[-1]
    public = Ed25519Key.from_multibase(row.public_multibase).public
    key = as_keystore(master_key).ed25519(held_key(row), row.id, public)
    return SigningKey(key, row.id)


def held_key(row: OperatorKey) -> HeldKey:
    return HeldKey(sealed=row.sealed_private, ref=row.key_ref)


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


def _verification_method(row: OperatorKey, controller: str) -> dict:
    method = multikey_verification_method(
        Ed25519Key.from_multibase(row.public_multibase), row.id, controller
    )
    if row.retired_at is not None:
        # Controlled Identifiers 1.0 `revoked`: a verifier accepts this key's proofs created before
        # its retirement (old credentials keep verifying) and refuses any that claim a later time.
        method["revoked"] = format_datetime(_next_whole_second(row.retired_at))
    return method


def _next_whole_second(moment: datetime) -> datetime:
    # Proofs carry whole seconds (created is truncated), so a proof this key made in the second of
    # its retirement must still fall before `revoked`: round the retirement up, never down.
    whole = moment.replace(microsecond=0)
    return whole if whole == moment else whole + timedelta(seconds=1)


def did_document(session: Session, operator: Operator) -> dict:
    """The operator's DID document (did:web operators and the instance; did:key is derived)."""
    methods = [_verification_method(row, operator.did) for row in keys_of(session, operator)]
    ids = [m["id"] for m in methods]
    document: dict = {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": operator.did,
    }
    known_as = operator_identity.aliases(session, operator)
    if known_as:
        # DID Core alsoKnownAs: the operator's other identifiers, which a passport it signs may
        # name it by (issuer.operator_identity).
        document["alsoKnownAs"] = known_as
    return {
        **document,
        "verificationMethod": methods,
        "authentication": ids,
        "assertionMethod": ids,
        "capabilityInvocation": ids,
    }
