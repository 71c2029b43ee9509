"""Access grants: an operator lets a named party read tiers of its batteries until a date.

An `AccessGrantCredential` carries a revocation and a suspension entry on its issuer's status
lists, like role credentials, so the operator can withdraw it before its expiry: the verifier
checks those entries on every `/access` request. Grants are stored with kind `grant`, which is
what `GET /grants` and `dbp grant list` read back.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from pydantic import ValidationError
from sqlmodel import Session, select

from issuer import batteries, credentials, operators, statuslists, store
from issuer.config import IssuerConfig
from issuer.errors import FieldError, UnknownCredential
from issuer.tables import Battery, IssuedCredential, Operator
from proofs import jose
from proofs.errors import ProofError
from vocab import bitstring
from vocab.context import ACCESS_GRANT_CREDENTIAL, CREDENTIAL_CONTEXTS
from vocab.datetimes import as_utc, format_datetime, utcnow
from vocab.models.roles import AccessGrant
from vocab.vcdm import as_list

GRANT_FIELDS = frozenset({"grantee", "batteries", "tiers", "expiry"})


class InvalidGrantRequest(FieldError):
    code = "invalid-grant-request"
    status = 422


def is_grant(credential: dict) -> bool:
    return ACCESS_GRANT_CREDENTIAL in as_list(credential.get("type", []))


def _battery_uri(session: Session, operator: Operator, value: object, field: str) -> str:
    """A battery this operator is responsible for, named by its id or its item URI."""
    if not isinstance(value, str) or not value:
        raise InvalidGrantRequest(field, "must be a battery id or its GS1 Digital Link URI")
    battery = session.get(Battery, value)
    if battery is None:
        battery = session.exec(select(Battery).where(Battery.item_uri == value)).first()
    if battery is None:
        raise InvalidGrantRequest(
            field, f"no battery {value!r} is registered here", rule="known-battery"
        )
    if batteries.responsible_did(session, battery) != operator.did:
        raise InvalidGrantRequest(
            field,
            f"{operator.did} is not the operator responsible for battery {battery.id}; only the "
            "responsible operator's grants open its passport",
            rule="responsible-operator",
        )
    return battery.item_uri


def grant_subject(session: Session, operator: Operator, body: Any) -> dict:
    """The credentialSubject of a grant from a `POST /grants` body
    `{grantee, batteries, tiers, expiry}`; 422 naming the first bad field."""
    if not isinstance(body, dict):
        raise InvalidGrantRequest("body", "must be a JSON object")
    unknown = sorted(set(body) - GRANT_FIELDS)
    if unknown:
        raise InvalidGrantRequest(
            unknown[0], f"is not a grant field (known: {', '.join(sorted(GRANT_FIELDS))})"
        )
    missing = sorted(GRANT_FIELDS - set(body))
    if missing:
        raise InvalidGrantRequest(missing[0], "is required", rule="required")
    named = body["batteries"]
    if not isinstance(named, list) or not named:
        raise InvalidGrantRequest("batteries", "must be a non-empty list of batteries")
    subject = {
        "grantee": body["grantee"],
        "batteries": [
            _battery_uri(session, operator, b, f"batteries[{i}]") for i, b in enumerate(named)
        ],
        "tiers": body["tiers"],
        "expiry": body["expiry"],
    }
    try:
        grant = AccessGrant.model_validate(subject)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "body"
        raise InvalidGrantRequest(where, str(first.get("msg"))) from None
    if not grant.grantee.startswith("did:"):
        raise InvalidGrantRequest("grantee", "must be the DID of the party granted access")
    if as_utc(grant.expiry) <= utcnow():
        raise InvalidGrantRequest("expiry", "must be in the future", rule="future")
    subject["tiers"] = list(dict.fromkeys(subject["tiers"]))
    subject["expiry"] = format_datetime(grant.expiry)
    return subject


def grant_credential(issuer: str, subject: dict) -> dict:
    """The unsigned AccessGrantCredential; it is valid until the grant's expiry."""
    return {
        "@context": list(CREDENTIAL_CONTEXTS),
        "id": f"urn:uuid:{uuid.uuid4()}",
        "type": ["VerifiableCredential", ACCESS_GRANT_CREDENTIAL],
        "issuer": issuer,
        "validFrom": format_datetime(utcnow()),
        "validUntil": subject["expiry"],
        "credentialSubject": subject,
    }


def sign_grant(
    session: Session,
    config: IssuerConfig,
    operator: Operator,
    master_key: bytes,
    credential: dict,
    options: credentials.IssueOptions,
) -> dict:
    """Sign a grant with a revocation and a suspension entry and store it (kind `grant`).

    A grant without an `id` gets a `urn:uuid:` one: it is how the operator names it to revoke it.
    A grant that brings its own `credentialStatus` is refused: its entries must be on this
    operator's lists, or revoking it here would not reach the verifier."""
    if "credentialStatus" in credential:
        raise InvalidGrantRequest(
            "credential.credentialStatus",
            "is assigned by the issuer: a grant gets a revocation and a suspension entry on the "
            "operator's own status lists",
            rule="issuer-assigned",
        )
    credential = dict(credential)
    credential.setdefault("id", f"urn:uuid:{uuid.uuid4()}")
    credential_id = options.credential_id or credential["id"]
    store.check_new_id(session, credential_id)
    ((revocation, suspension),) = statuslists.allocate(session, config, operator, 1)
    credential["credentialStatus"] = [revocation.entry, suspension.entry]
    prepared = credentials.prepare(credential, operator.did, options)
    signing = operators.signing_key(session, operator, master_key)
    signed = credentials.sign(prepared, signing.key, signing.verification_method, options)
    store.store(
        session,
        operator_id=operator.id,
        document=signed,
        kind=store.GRANT,
        credential_id=credential_id,
        status_entries=[revocation, suspension],
    )
    return signed


def change_grant_status(
    session: Session,
    config: IssuerConfig,
    operator: Operator,
    grant_id: str,
    change: statuslists.StatusChange,
) -> IssuedCredential:
    """Revoke, suspend or reinstate one of the operator's grants (and nothing else: `dbp grant
    revoke` must not withdraw a passport by a mistyped id)."""
    row = session.exec(
        select(IssuedCredential).where(
            IssuedCredential.credential_id == grant_id,
            IssuedCredential.operator_id == operator.id,
            IssuedCredential.kind == store.GRANT,
        )
    ).first()
    if row is None:
        raise UnknownCredential(f"operator {operator.name!r} issued no grant {grant_id!r}")
    return statuslists.change_status(session, config, operator, grant_id, change)


@dataclass(frozen=True)
class GrantRow:
    credential_id: str | None
    issued_at: datetime
    subject: dict
    state: str  # active, expired, suspended or revoked

    def as_json(self) -> dict:
        return {
            "id": self.credential_id,
            "issued": format_datetime(self.issued_at),
            "grantee": self.subject.get("grantee"),
            "batteries": self.subject.get("batteries", []),
            "tiers": self.subject.get("tiers", []),
            "expiry": self.subject.get("expiry"),
            "state": self.state,
        }


def _subject_of(document: dict) -> dict:
    if "credentialSubject" in document:
        subjects = as_list(document["credentialSubject"])
        return subjects[0] if subjects and isinstance(subjects[0], dict) else {}
    return {}


def _state(session: Session, row: IssuedCredential, subject: dict, now: datetime) -> str:
    bits = {e["statusPurpose"]: e["status"] for e in statuslists.current_status(session, row)}
    if bits.get(bitstring.REVOCATION):
        return "revoked"
    if bits.get(bitstring.SUSPENSION):
        return "suspended"
    expiry = subject.get("expiry")
    if isinstance(expiry, str) and expiry <= format_datetime(now):
        return "expired"
    return "active"


def list_grants(session: Session, operator: Operator) -> list[GrantRow]:
    """The operator's grants, oldest first, each with its state now."""
    rows = session.exec(
        select(IssuedCredential)
        .where(IssuedCredential.operator_id == operator.id, IssuedCredential.kind == store.GRANT)
        .order_by(IssuedCredential.issued_at, IssuedCredential.id)
    ).all()
    now = utcnow()
    out = []
    for row in rows:
        subject = _subject_of(row.document) or _subject_of(_enveloped(row.document))
        state = _state(session, row, subject, now)
        out.append(GrantRow(row.credential_id, row.issued_at, subject, state))
    return out


def _enveloped(document: dict) -> dict:
    # A vc+jwt grant is stored as its envelope (we signed it); the subject is in the payload.
    try:
        _, payload, _ = jose.parse_compact(jose.unwrap_envelope(document))
        value = orjson.loads(payload)
    except (ProofError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
