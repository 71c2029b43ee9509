"""Issuing a passport: validate the Annex XIII data, split it by access tier, and sign one
credential per tier; store them with a new passport version that supersedes the last.

Issuance runs in three steps so that bulk ingestion can sign on several cores:
`plan` (database: ids, version, status entries, key), `prepare` (pure CPU: validation, tier split,
signing; picklable in and out, so it runs in a worker process) and `commit` (database again).

Superseding: a new version marks the previous one `superseded` in the database and leaves its
credentials' status bits alone. Art 77 keeps the passport's history readable, and a superseded
version is not a false or withdrawn statement: it was true when issued. Revocation and suspension
stay what the Bitstring Status List spec says they are, decisions about one credential's validity,
taken explicitly through POST /credentials/status. Who wants the current version asks
`views.battery_by_id` (passport_version, passport_state).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from anchor import outbox
from issuer import batteries, operator_identity, operators, statuslists, store
from issuer.config import IssuerConfig
from issuer.documents import library as documents
from issuer.dppregistry import outbox as registry_outbox
from issuer.errors import PassportMismatch, PassportVersionConflict
from issuer.statuslists import AllocatedEntry
from issuer.tables import Battery, Operator, Passport
from proofs import dataintegrity
from proofs.keys import Ed25519Key
from vocab.catalogue import Tier
from vocab.context import BATTERY_PASSPORT_CREDENTIAL, CREDENTIAL_CONTEXTS
from vocab.datetimes import format_datetime, utcnow
from vocab.errors import PassportInvalid
from vocab.schemas import credential_schema
from vocab.tiers import credential_type, split_by_tier
from vocab.validation import validate_passport

ACTIVE = "active"
SUPERSEDED = "superseded"
INACTIVE = "inactive"
ARCHIVED = "archived"
TIER_SLOTS = len(Tier)  # at most one credential per tier


@dataclass(frozen=True)
class IssuancePlan:
    """Everything `prepare` needs; plain data so that it can cross into a worker process."""

    passport: dict[str, Any]  # with passportId, passportVersion and batteryIdentifier set
    battery_did: str
    issuer_did: str
    valid_from: str
    credential_ids: tuple[str, ...]  # one per tier slot
    statuses: tuple[tuple[dict, dict], ...]  # (revocation, suspension) entries per tier slot
    seed: bytes | None  # the sealed key, opened; None when the key is held in a token
    verification_method: str
    # The key held in a token (proofs.pkcs11.TokenEd25519Key): it pickles as a reference.
    token_key: Ed25519Key | None = None
    # (tier, relatedResource entries): the battery's documents each tier credential lists
    related: tuple[tuple[str, tuple[dict, ...]], ...] = ()


@dataclass(frozen=True)
class PreparedCredential:
    tier: str
    slot: int
    document: dict
    # (encoding, leaf hex) of the signed document (anchor.outbox.leaf_row), computed in `prepare`
    anchor_leaf: tuple[str, str] | None = None


@dataclass(frozen=True)
class PreparedPassport:
    category: str
    battery_status: str | None
    predecessors: list[str] | None
    credentials: list[PreparedCredential] = field(default_factory=list)
    # kept on the battery row so the portals can search by them
    model: str | None = None
    chemistry: str | None = None


@dataclass(frozen=True)
class IssuedPassport:
    passport_id: str
    version: int
    battery_id: str
    credentials: list[dict]


def tier_credential(
    tier: Tier,
    subject: dict[str, Any],
    *,
    credential_id: str,
    issuer_did: str,
    battery_did: str,
    valid_from: str,
    status: tuple[dict, dict],
    related: tuple[dict, ...] = (),
) -> dict[str, Any]:
    """The unsigned credential carrying one tier's document about the battery; `related` are the
    battery's documents of that tier (VC DM 2.0 relatedResource, each with its digest)."""
    credential = {
        "@context": list(CREDENTIAL_CONTEXTS),
        "id": credential_id,
        "type": ["VerifiableCredential", BATTERY_PASSPORT_CREDENTIAL, credential_type(tier)],
        "issuer": issuer_did,
        "validFrom": valid_from,
        "credentialSubject": {"id": battery_did, **subject},
        "credentialSchema": credential_schema(tier),
        "credentialStatus": [dict(status[0]), dict(status[1])],
    }
    if related:
        credential["relatedResource"] = [dict(r) for r in related]
    return credential


def prepare(plan: IssuancePlan) -> PreparedPassport:
    """Validate, split by tier and sign (no database). Raises `PassportInvalid`."""
    passport = validate_passport(plan.passport)
    key = plan.token_key if plan.seed is None else Ed25519Key.from_private(plan.seed)
    assert key is not None
    related = dict(plan.related)
    credentials = []
    for slot, (tier, document) in enumerate(split_by_tier(passport).items()):
        unsigned = tier_credential(
            tier,
            document,
            credential_id=plan.credential_ids[slot],
            issuer_did=plan.issuer_did,
            battery_did=plan.battery_did,
            valid_from=plan.valid_from,
            status=plan.statuses[slot],
            related=related.get(tier.value, ()),
        )
        signed = dataintegrity.create_proof(
            unsigned,
            key,
            plan.verification_method,
            proof_purpose="assertionMethod",
            created=plan.valid_from,
        )
        credentials.append(PreparedCredential(tier.value, slot, signed, outbox.leaf_row(signed)))
    status = passport.lifecycle.battery_status.value if passport.lifecycle else None
    chemistry = passport.materials.battery_chemistry if passport.materials else None
    return PreparedPassport(
        category=passport.general.battery_category.value,
        battery_status=status,
        predecessors=list(passport.predecessor) if passport.predecessor else None,
        credentials=credentials,
        model=(passport.general.model or None) and str(passport.general.model)[:64],
        chemistry=chemistry.short_name[:32] if chemistry else None,
    )


def next_version(session: Session, passport_id: str) -> int:
    latest = session.exec(
        select(func.max(Passport.version)).where(Passport.id == passport_id)
    ).one()
    return (latest or 0) + 1


def bind_identity(data: Any, battery: Battery, version: int) -> dict[str, Any]:
    """A copy of the passport data with the identifiers the service assigns filled in; values the
    client sent must equal them."""
    if not isinstance(data, dict):
        raise PassportInvalid(
            [{"path": "", "rule": "type", "message": "a passport is a JSON object"}]
        )
    out = dict(data)
    expected = {"batteryIdentifier": battery.item_uri, "passportId": battery.passport_id}
    for name, value in expected.items():
        if name in out and out[name] != value:
            what = "item URI" if name == "batteryIdentifier" else "passport id"
            raise PassportMismatch(
                name, f"must be {value!r}, the {what} of battery {battery.id}, not {out[name]!r}"
            )
        out[name] = value
    if "passportVersion" in out and out["passportVersion"] != version:
        raise PassportVersionConflict(
            "passportVersion",
            f"the service assigns versions; the next version of passport {battery.passport_id} "
            f"is {version}, not {out['passportVersion']!r} (omit passportVersion to take it)",
        )
    out["passportVersion"] = version
    return out


def plan(
    session: Session,
    config: IssuerConfig,
    operator: Operator,
    battery: Battery,
    data: Any,
    *,
    signing: operators.SigningKey | None = None,
    version: int | None = None,
) -> tuple[IssuancePlan, list[tuple[AllocatedEntry, AllocatedEntry]]]:
    version = version or next_version(session, battery.passport_id)
    bound = bind(data, battery, version, operator, operator_identity.aliases(session, operator))
    signing = signing or operators.signing_key(session, operator, config.master_key)
    allocated = statuslists.allocate(session, config, operator, TIER_SLOTS)
    related = documents.related_by_tier(session, battery.id, config.public_url)
    return issuance_plan(bound, battery, operator, signing, allocated, related), allocated


def bind(
    data: Any, battery: Battery, version: int, operator: Operator, aliases: list[str]
) -> dict[str, Any]:
    """The passport data with the service's identifiers and the operator filled in (raises for
    values that contradict them); `aliases` are the operator's (operator_identity.aliases)."""
    return operator_identity.bind_operator(
        bind_identity(data, battery, version), operator.did, aliases
    )


def issuance_plan(
    bound: dict[str, Any],
    battery: Battery,
    operator: Operator,
    signing: operators.SigningKey,
    allocated: list[tuple[AllocatedEntry, AllocatedEntry]],
    related: dict[str, list[dict]],
) -> IssuancePlan:
    """The plan of a bound passport (`bind`) with its status entries and related documents."""
    return IssuancePlan(
        passport=bound,
        battery_did=battery.did,
        issuer_did=operator.did,
        valid_from=format_datetime(utcnow()),
        credential_ids=tuple(f"urn:uuid:{uuid.uuid4()}" for _ in range(TIER_SLOTS)),
        statuses=tuple((rev.entry, sus.entry) for rev, sus in allocated),
        seed=signing.key.private,
        verification_method=signing.verification_method,
        token_key=None if signing.key.private is not None else signing.key,
        related=tuple((tier, tuple(entries)) for tier, entries in related.items()),
    )


def commit(
    session: Session,
    operator: Operator,
    battery: Battery,
    issuance: IssuancePlan,
    allocated: list[tuple[AllocatedEntry, AllocatedEntry]],
    prepared: PreparedPassport,
) -> IssuedPassport:
    """Write the new version, supersede the previous one, store the credentials."""
    now = utcnow()
    version = issuance.passport["passportVersion"]
    earlier = (
        session.exec(
            select(Passport).where(Passport.id == battery.passport_id, Passport.state == ACTIVE)
        ).all()
        if version > 1
        else []
    )
    for previous in earlier:
        previous.state = SUPERSEDED
        previous.superseded_at = now
        previous.state_changed_by = operator.did
        session.add(previous)
    _stage(session, (operator, battery, issuance, allocated, prepared), now)
    store.anchor_leaves(
        session, [(c.document, c.anchor_leaf) for c in prepared.credentials], store.PASSPORT_TIER
    )
    if version == 1:
        # Art 77(10): the battery's identifier goes to the EU registry; queued in this
        # transaction, sent later (issuer.dppregistry).
        registry_outbox.register_battery(session, battery)
    session.add(battery)
    session.flush()
    return IssuedPassport(
        battery.passport_id, version, battery.id, [c.document for c in prepared.credentials]
    )


# One passport version to write: who issues, the battery, its plan, its status entries and its
# signed credentials.
Staged = tuple[
    Operator, Battery, IssuancePlan, list[tuple[AllocatedEntry, AllocatedEntry]], PreparedPassport
]


def commit_first_versions(
    session: Session,
    entries: list[Staged],
) -> None:
    """`commit` for the first passport version of several new batteries (bulk issuance), with
    one anchor-leaf query and insert, one registry query, and one flush for all of them (the
    ORM sends each table's rows as one multi-row INSERT)."""
    now = utcnow()
    signed: list[tuple[dict, tuple[str, str] | None]] = []
    status_entries: list[tuple[str, list[AllocatedEntry]]] = []
    for entry in entries:
        if entry[2].passport["passportVersion"] != 1:
            raise ValueError("commit_first_versions takes first versions only")
        _stage(session, entry, now, status_entries)
        signed.extend((c.document, c.anchor_leaf) for c in entry[4].credentials)
    store.anchor_leaves(session, signed, store.PASSPORT_TIER)
    statuslists.record_many(session, status_entries)
    # Art 77(10), as in `commit`
    registry_outbox.register_batteries(session, [battery for _, battery, *_ in entries])
    session.flush()


def _stage(
    session: Session,
    entry: Staged,
    now: Any,
    status_entries: list[tuple[str, list[AllocatedEntry]]] | None = None,
) -> None:
    """Add the version, its credentials and the battery's searchable fields (no SQL). With
    `status_entries`, the credentials' status entries are appended there for the caller to
    write (statuslists.record_many) instead of added one by one."""
    operator, battery, issuance, allocated, prepared = entry
    version = issuance.passport["passportVersion"]
    session.add(
        Passport(
            id=battery.passport_id,
            version=version,
            battery_id=battery.id,
            operator_id=operator.id,
            state=ACTIVE,
            predecessor_ids=prepared.predecessors,
            created_at=now,
            state_changed_by=operator.did,
        )
    )
    for credential in prepared.credentials:
        entries = list(allocated[credential.slot])
        row = store.store(
            session,
            operator_id=operator.id,
            document=credential.document,
            kind=store.PASSPORT_TIER,
            battery_id=battery.id,
            passport_id=battery.passport_id,
            passport_version=version,
            tier=credential.tier,
            status_entries=entries if status_entries is None else (),
            anchor=False,
        )
        if status_entries is not None:
            status_entries.append((row.id, entries))
    battery.category = prepared.category
    battery.model = prepared.model
    battery.chemistry = prepared.chemistry
    if prepared.battery_status is not None:
        battery.status = prepared.battery_status
    battery.updated_at = now


def issue(
    session: Session, config: IssuerConfig, operator: Operator, battery_id: str, data: Any
) -> IssuedPassport:
    """Issue the next version of a battery's passport, in the caller's transaction."""
    battery = batteries.get(session, battery_id)
    batteries.require_responsible(session, battery, operator)
    issuance, allocated = plan(session, config, operator, battery, data)
    prepared = prepare(issuance)
    return commit(session, operator, battery, issuance, allocated, prepared)
