"""Handing a battery over to another economic operator (Art 77(7)): offer, countersignature,
completion, and the battery's arrival on the receiving instance.

1. `offer`: the responsible operator signs a `BatteryTransferCredential` (eddsa-rdfc-2022) whose
   `validUntil` is the offer's expiry; it is stored here as a pending transfer. Its `id` is
   `{this instance}/transfers/{transfer id}`, so whoever holds it knows where to complete it.
2. `countersign` (the receiving instance, for its operator): the offer must verify, be unexpired,
   name the caller as `transferee` and this instance as `transferEndpoint`; the caller's key adds
   a second, independent proof (a Data Integrity proof set).
3. `complete` (the offering instance): the doubly signed credential must be this instance's
   offer unchanged plus a verifying proof of the transferee; then, in one transaction, the
   credential is stored and queued for anchoring, the old tenure closes and the new one opens,
   the routing registry (and so the battery DID's controller) points at the new operator.
   Completing again returns the same answer and changes nothing.
4. `arrive` (the receiving instance): the battery joins its registry with the DID and identifier
   it has, a fresh passport id for its next life, and the predecessor passport id.
"""

from __future__ import annotations

import copy
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, col, select

from issuer import batteries, operators, store, views
from issuer.config import IssuerConfig
from issuer.errors import (
    InvalidOffer,
    InvalidTransferRequest,
    NotTransferee,
    OfferExpired,
    OfferTampered,
    PeerNotAllowed,
    PeerUnreachable,
    TransferStale,
    UnknownTransfer,
    WrongInstance,
)
from issuer.passports import ARCHIVED
from issuer.tables import Battery, Operator, Passport, Transfer
from proofs import dataintegrity
from proofs.dataintegrity import VerificationMethodResolver
from proofs.errors import ProofError
from resolver import registry
from resolver.errors import DidNotAllowed, DidResolutionFailed, ResolverError
from resolver.tables import BatteryTenure
from vocab.catalogue import Tier
from vocab.context import (
    BATTERY_TRANSFER_CREDENTIAL,
    CREDENTIAL_CONTEXTS,
    PUBLIC_PASSPORT_CREDENTIAL,
)
from vocab.datetimes import InvalidDateTime, as_utc, format_datetime, parse_datetime, utcnow
from vocab.errors import VocabError
from vocab.gs1 import item_key
from vocab.models.events import BatteryTransfer
from vocab.models.status import BatteryStatus
from vocab.vcdm import as_list

TRANSFER = "transfer"  # IssuedCredential.kind of a completed transfer credential
PENDING = "pending"
COMPLETED = "completed"
OUT = "out"
IN = "in"
DEFAULT_TTL = timedelta(days=7)
MIN_TTL = timedelta(minutes=1)
MAX_TTL = timedelta(days=90)
OFFER_FIELDS = frozenset({"to", "endpoint", "expires", "ttlSeconds"})
_DID = re.compile(r"did:[a-z0-9]+:[A-Za-z0-9._:%-]+")
_TRANSFER_PATH = "/transfers/"


@dataclass(frozen=True)
class OfferRequest:
    to: str
    endpoint: str | None  # None: this instance
    expires: datetime


def parse_offer_request(body: dict[str, Any], *, own_url: str, now: datetime) -> OfferRequest:
    unknown = sorted(set(body) - OFFER_FIELDS)
    if unknown:
        raise InvalidTransferRequest(
            unknown[0], "unknown member; an offer has to, endpoint, expires or ttlSeconds"
        )
    to = body.get("to")
    if not isinstance(to, str) or not _DID.fullmatch(to):
        raise InvalidTransferRequest("to", f"{to!r} is not a DID", rule="did")
    endpoint = registry.normalise_endpoint(body.get("endpoint"), field="endpoint", own_url=own_url)
    if "expires" in body and "ttlSeconds" in body:
        raise InvalidTransferRequest("expires", "send expires or ttlSeconds, not both")
    if "expires" in body:
        try:
            expires = as_utc(parse_datetime(body["expires"]))
        except (InvalidDateTime, TypeError) as exc:
            raise InvalidTransferRequest("expires", str(exc), rule="date-time") from None
        field = "expires"
    else:
        ttl = body.get("ttlSeconds", int(DEFAULT_TTL.total_seconds()))
        if not isinstance(ttl, int) or isinstance(ttl, bool):
            raise InvalidTransferRequest("ttlSeconds", f"{ttl!r} is not a whole number of seconds")
        # checked before timedelta, which overflows (a 500) for ttlSeconds like 10**20
        if not MIN_TTL.total_seconds() <= ttl <= MAX_TTL.total_seconds():
            raise InvalidTransferRequest(
                "ttlSeconds", "an offer must stay open between 1 minute and 90 days", rule="range"
            )
        expires = now + timedelta(seconds=ttl)
        field = "ttlSeconds"
    if not now + MIN_TTL <= expires <= now + MAX_TTL:
        raise InvalidTransferRequest(
            field, "an offer must stay open between 1 minute and 90 days", rule="range"
        )
    return OfferRequest(to, endpoint, expires.replace(microsecond=0))


def _latest(session: Session, passport_id: str) -> Passport | None:
    return session.exec(
        select(Passport).where(Passport.id == passport_id).order_by(col(Passport.version).desc())
    ).first()


def offer(
    session: Session,
    config: IssuerConfig,
    operator: Operator,
    battery_id: str,
    request: OfferRequest,
    *,
    now: datetime | None = None,
) -> Transfer:
    """Sign a transfer offer for the battery (responsible operator only) and keep it pending."""
    now = (now or utcnow()).replace(microsecond=0)
    battery = batteries.get(session, battery_id)
    batteries.require_responsible(session, battery, operator)
    if request.to == operator.did:
        raise InvalidTransferRequest("to", "the battery cannot be handed over to its own operator")
    latest = _latest(session, battery.passport_id)
    if latest is not None and latest.state == ARCHIVED:
        raise TransferStale(
            f"battery {battery.id} was recycled: its passport has ended and cannot be handed over"
        )
    transfer_id = str(uuid.uuid4())
    subject = BatteryTransfer.model_validate(
        {
            "battery": battery.item_uri,
            "passportId": battery.passport_id,
            "transferor": operator.did,
            "transferee": request.to,
            "transferredAt": format_datetime(now),
            "transferEndpoint": request.endpoint or config.public_url.rstrip("/"),
        }
    ).model_dump(mode="json", by_alias=True, exclude_none=True)
    unsigned = {
        "@context": list(CREDENTIAL_CONTEXTS),
        "id": f"{config.public_url.rstrip('/')}{_TRANSFER_PATH}{transfer_id}",
        "type": ["VerifiableCredential", BATTERY_TRANSFER_CREDENTIAL],
        "issuer": operator.did,
        "validFrom": format_datetime(now),
        "validUntil": format_datetime(request.expires),
        "credentialSubject": {"id": battery.did, **subject},
    }
    signing = operators.signing_key(session, operator, config.master_key)
    signed = dataintegrity.create_proof(
        unsigned,
        signing.key,
        signing.verification_method,
        proof_purpose="assertionMethod",
        created=now,
    )
    row = Transfer(
        id=transfer_id,
        credential_id=unsigned["id"],
        direction=OUT,
        battery_id=battery.id,
        passport_id=battery.passport_id,
        from_did=operator.did,
        to_did=request.to,
        endpoint=request.endpoint,
        state=PENDING,
        expires_at=request.expires,
        created_at=now,
        offer=signed,
    )
    session.add(row)
    session.flush()
    return row


# --- reading and verifying an offer --------------------------------------------------------------


@dataclass(frozen=True)
class ParsedOffer:
    document: dict[str, Any]
    credential_id: str
    origin: str  # base URL of the instance that made the offer
    transfer_id: str
    transferor: str
    transferee: str
    endpoint: str
    battery: str
    passport_id: str
    valid_until: datetime
    proofs: list[dict[str, Any]]


def read_offer(document: Any) -> ParsedOffer:
    """The parts of a transfer credential this service relies on; InvalidOffer otherwise."""
    if not isinstance(document, dict):
        raise InvalidOffer("a transfer offer is a JSON object (a BatteryTransferCredential)")
    if BATTERY_TRANSFER_CREDENTIAL not in as_list(document.get("type", [])):
        raise InvalidOffer(f"the credential is not a {BATTERY_TRANSFER_CREDENTIAL}")
    credential_id = document.get("id")
    if not isinstance(credential_id, str) or _TRANSFER_PATH not in credential_id:
        raise InvalidOffer("the offer's id must be the URL of a transfer on a dbp instance")
    origin, _, transfer_id = credential_id.rpartition(_TRANSFER_PATH)
    subject = document.get("credentialSubject")
    if not isinstance(subject, dict):
        raise InvalidOffer("the offer must have one credentialSubject: the battery")
    try:
        parsed = BatteryTransfer.model_validate({k: v for k, v in subject.items() if k != "id"})
        valid_until = as_utc(parse_datetime(document.get("validUntil")))
    except (ValidationError, InvalidDateTime, TypeError) as exc:
        raise InvalidOffer(f"the offer is malformed: {str(exc).splitlines()[0]}") from None
    if parsed.transfer_endpoint is None:
        raise InvalidOffer("the offer names no transferEndpoint")
    proofs = [p for p in as_list(document.get("proof", [])) if isinstance(p, dict)]
    if document.get("issuer") != parsed.transferor:
        raise InvalidOffer("the offer's issuer must be its transferor")
    return ParsedOffer(
        document=document,
        credential_id=credential_id,
        origin=origin,
        transfer_id=transfer_id,
        transferor=parsed.transferor,
        transferee=parsed.transferee,
        endpoint=parsed.transfer_endpoint.rstrip("/"),
        battery=str(parsed.battery),
        passport_id=str(parsed.passport_id),
        valid_until=valid_until,
        proofs=proofs,
    )


def verify_signers(
    document: dict[str, Any], resolve: VerificationMethodResolver, expected: list[str]
) -> None:
    """Every proof must verify, made (in this order) by the DIDs in `expected`."""
    try:
        verified = dataintegrity.verify_proof(document, resolve, expected_purpose="assertionMethod")
    except DidNotAllowed as exc:
        raise PeerNotAllowed(f"cannot check the offer's signatures: {exc}") from None
    except DidResolutionFailed as exc:
        raise PeerUnreachable(f"cannot check the offer's signatures: {exc}") from None
    except (ProofError, ResolverError, VocabError) as exc:
        raise InvalidOffer(f"the offer's signatures do not verify: {exc}") from None
    signers = [p.controller for p in verified]
    if signers != expected:
        raise InvalidOffer(
            f"the offer must be signed by {' and then '.join(expected)}, "
            f"but is signed by {', '.join(signers) or 'nobody'}"
        )


def _check_unexpired(parsed: ParsedOffer, now: datetime) -> None:
    if now > parsed.valid_until:
        raise OfferExpired(
            f"the transfer offer {parsed.credential_id} expired at "
            f"{format_datetime(parsed.valid_until)}; ask the current operator for a new one"
        )


def countersign(
    session: Session,
    config: IssuerConfig,
    operator: Operator,
    document: Any,
    resolve: VerificationMethodResolver,
    *,
    now: datetime | None = None,
) -> tuple[ParsedOffer, dict[str, Any]]:
    """The offer with the accepting operator's proof added; an already countersigned offer (a
    repeated accept) is returned as it is once both proofs verify."""
    now = now or utcnow()
    parsed = read_offer(document)
    if parsed.transferee != operator.did:
        raise NotTransferee(
            f"the offer hands the battery to {parsed.transferee}; {operator.did} cannot accept it"
        )
    if registry.normalise_endpoint(
        parsed.endpoint, field="transferEndpoint", own_url=config.public_url
    ):
        raise WrongInstance(
            f"the offer hands the battery over at {parsed.endpoint}; accept it there, "
            f"not at {config.public_url}"
        )
    if len(parsed.proofs) == 2:
        verify_signers(document, resolve, [parsed.transferor, parsed.transferee])
        _check_unexpired(parsed, now)
        return parsed, document
    if len(parsed.proofs) != 1:
        raise InvalidOffer("a transfer offer carries exactly one proof, the transferor's")
    verify_signers(document, resolve, [parsed.transferor])
    _check_unexpired(parsed, now)
    signing = operators.signing_key(session, operator, config.master_key)
    signed = dataintegrity.create_proof(
        document, signing.key, signing.verification_method, proof_purpose="assertionMethod"
    )
    return parsed, signed


# --- completion on the offering instance ---------------------------------------------------------


def _offer_part(document: dict[str, Any]) -> dict[str, Any]:
    """The document as it was offered: every member, with the first proof only."""
    proofs = as_list(document.get("proof", []))
    return {**document, "proof": proofs[0] if proofs else None}


def completion(session: Session, config: IssuerConfig, row: Transfer) -> dict[str, Any]:
    """What the offering instance answers for a completed transfer (also to a repeat)."""
    battery = batteries.get(session, row.battery_id)
    periods = registry.tenures(session, battery.id)
    return {
        "transferId": row.id,
        "id": row.credential_id,
        "state": row.state,
        "completedAt": format_datetime(row.completed_at) if row.completed_at else None,
        "from": row.from_did,
        "to": row.to_did,
        "endpoint": row.endpoint or config.public_url.rstrip("/"),
        "battery": {
            "id": battery.id,
            "gtin": battery.gtin,
            "serial": battery.serial,
            "variant": battery.variant,
            "batch": battery.batch,
            "itemUri": battery.item_uri,
            "did": battery.did,
            "passportId": row.passport_id,
            "category": battery.category,
            # The status the next operator starts from (the lifecycle rules hold across
            # instances) and the passport it keeps showing until it issues its own.
            "status": battery.status,
        },
        "publicCredentials": views.passport_credentials(session, row.passport_id, [Tier.PUBLIC]),
        "tenures": [
            {
                "operator": t.operator_did,
                "since": format_datetime(t.since),
                # rounded up: format_datetime drops the fraction, which would end the tenure
                # before a credential issued in the hand-over's second
                "until": format_datetime(registry.end_of_second(t.until)) if t.until else None,
            }
            for t in periods
        ],
        "verifiableCredential": row.completed,
    }


def complete(
    session: Session,
    config: IssuerConfig,
    document: Any,
    resolve: VerificationMethodResolver,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Record a countersigned offer made here; a repeat returns the same answer."""
    now = now or utcnow()
    parsed = read_offer(document)
    row = session.exec(
        select(Transfer).where(
            Transfer.credential_id == parsed.credential_id, Transfer.direction == OUT
        )
    ).first()
    if row is None:
        raise UnknownTransfer(f"no transfer offer {parsed.credential_id} was made here")
    if _offer_part(document) != row.offer:
        raise OfferTampered(
            f"the credential differs from the transfer offer {parsed.credential_id} made here: "
            "an offer cannot be changed after it was signed"
        )
    # One hand-over of a battery at a time: the route row is locked (PostgreSQL; SQLite writers
    # are serialised anyway), then the offer is read again, so a concurrent completion of the
    # same offer is answered like a repeat and one of another offer finds the battery moved.
    registry.lock(session, row.battery_id)
    session.refresh(row)
    if row.state == COMPLETED:
        return completion(session, config, row)
    if len(parsed.proofs) != 2:
        raise InvalidOffer(
            "the offer has not been countersigned: the transferee's proof must follow the "
            "transferor's"
        )
    verify_signers(document, resolve, [row.from_did, row.to_did])
    if now > as_utc(row.expires_at):
        raise OfferExpired(
            f"the transfer offer {parsed.credential_id} expired at "
            f"{format_datetime(as_utc(row.expires_at))}; ask the current operator for a new one"
        )
    battery = batteries.get(session, row.battery_id)
    route = registry.by_id(session, battery.id)
    if route.holder_did != row.from_did or battery.passport_id != row.passport_id:
        raise TransferStale(
            f"battery {battery.id} changed hands or passport since this offer was made; "
            "the offer no longer applies"
        )
    transferor = operators.by_did(session, row.from_did)
    store.store(
        session,
        operator_id=transferor.id if transferor else battery.operator_id,
        document=document,
        kind=TRANSFER,
        battery_id=battery.id,
        passport_id=row.passport_id,
        credential_id=row.credential_id,
    )
    registry.record_hand_over(
        session,
        route,
        to_did=row.to_did,
        endpoint=row.endpoint,
        transfer_id=row.id,
        at=now,
        first_since=as_utc(battery.created_at),
    )
    receiver = operators.by_did(session, row.to_did)
    if row.endpoint is None and receiver is not None and receiver.removed_at is None:
        battery.operator_id = receiver.id  # the new operator is one of this instance's
    battery.updated_at = now
    session.add(battery)
    row.state = COMPLETED
    row.completed_at = now
    row.completed = copy.deepcopy(document)
    session.add(row)
    session.flush()
    return completion(session, config, row)


# --- arrival on the receiving instance -----------------------------------------------------------


def arrive(
    session: Session,
    config: IssuerConfig,
    operator: Operator,
    answer: dict[str, Any],
    origin: str,
) -> Battery:
    """Take a battery handed over by another instance into this one (idempotent)."""
    document = answer.get("verifiableCredential")
    parsed = read_offer(document)
    known = session.exec(
        select(Transfer).where(
            Transfer.credential_id == parsed.credential_id, Transfer.direction == IN
        )
    ).first()
    if known is not None:
        return batteries.get(session, known.battery_id)
    info = answer.get("battery")
    if not isinstance(info, dict):
        raise InvalidOffer(f"{origin} answered without the battery's identifiers")
    try:
        key = item_key(info["gtin"], info["serial"], info.get("variant"), info.get("batch"))
        battery_id, item_uri, did = str(info["id"]), str(info["itemUri"]), str(info["did"])
    except (KeyError, VocabError) as exc:
        raise InvalidOffer(f"{origin} answered with a malformed battery: {exc}") from None
    if item_uri != parsed.battery or did != parsed.document["credentialSubject"].get("id"):
        raise InvalidOffer(f"{origin} answered about another battery than the offer's")
    if (
        session.get(Battery, battery_id) is not None
        or session.exec(
            select(Battery.id).where(Battery.gtin == key.gtin, Battery.serial == key.serial)
        ).first()
    ):
        raise TransferStale(
            f"battery {key.gtin}/{key.serial} is already registered on this instance"
        )
    now = utcnow()
    battery = Battery(
        id=battery_id,
        gtin=key.gtin,
        serial=key.serial,
        variant=key.variant,
        batch=key.batch,
        item_uri=item_uri,
        did=did,
        operator_id=operator.id,
        # Its next life gets a new passport; the one handed over is its predecessor.
        passport_id=batteries.new_passport_id(),
        category=info.get("category") if isinstance(info.get("category"), str) else None,
        status=_status(info.get("status")),
        created_at=now,
        updated_at=now,
    )
    session.add(battery)
    registry.register(
        session,
        battery_id=battery_id,
        key=key,
        did_web_base=config.did_web_base,
        holder_did=operator.did,
        did=did,
    )
    periods = []
    for t in answer.get("tenures") or []:
        try:
            since = as_utc(parse_datetime(t["since"]))
            until = as_utc(parse_datetime(t["until"])) if t.get("until") else None
        except (KeyError, TypeError, InvalidDateTime):
            continue
        if until is not None and isinstance(t.get("operator"), str):
            periods.append(BatteryTenure(id="", battery_id="", operator_did=t["operator"],
                                         since=since, until=until))  # fmt: skip
    periods.append(
        BatteryTenure(
            id="", battery_id="", operator_did=operator.did, since=registry.whole_seconds(now)
        )
    )
    registry.record_tenures(session, battery_id, periods)
    session.add(
        Transfer(
            id=str(uuid.uuid4()),
            credential_id=parsed.credential_id,
            direction=IN,
            battery_id=battery_id,
            passport_id=parsed.passport_id,
            from_did=parsed.transferor,
            to_did=parsed.transferee,
            endpoint=None,
            origin=origin,
            state=COMPLETED,
            expires_at=parsed.valid_until,
            created_at=now,
            completed_at=now,
            offer=_offer_part(document),
            completed=document,
            handed_over=_handed_over(answer.get("publicCredentials"), parsed),
        )
    )
    session.flush()
    return battery


def _status(value: Any) -> str | None:
    return value if value in {s.value for s in BatteryStatus} else None


def _handed_over(credentials: Any, parsed: ParsedOffer) -> list[dict[str, Any]]:
    """The public credentials of the passport handed over, from the offering instance's answer:
    only public passport credentials about this battery and passport. They are shown, not
    trusted: the page verifies them like any credential before showing their data."""
    out = []
    for credential in credentials if isinstance(credentials, list) else []:
        if not isinstance(credential, dict):
            continue
        subject = credential.get("credentialSubject")
        if (
            PUBLIC_PASSPORT_CREDENTIAL in as_list(credential.get("type", []))
            and isinstance(subject, dict)
            and subject.get("id") == parsed.document["credentialSubject"].get("id")
            and subject.get("passportId") == parsed.passport_id
        ):
            out.append(credential)
    return out


def arrived_battery_view(config: IssuerConfig, battery: Battery, row: Transfer | None) -> dict:
    return {
        "id": battery.id,
        "gtin": battery.gtin,
        "serial": battery.serial,
        "itemUri": battery.item_uri,
        "did": battery.did,
        "passportId": battery.passport_id,
        "predecessor": [row.passport_id] if row is not None else [],
        "passportEndpoint": config.public_url.rstrip("/")
        + item_key(battery.gtin, battery.serial).path(),
    }


def inbound(session: Session, battery_id: str) -> Transfer | None:
    """The transfer by which the battery arrived here, latest first."""
    return session.exec(
        select(Transfer)
        .where(Transfer.battery_id == battery_id, Transfer.direction == IN)
        .order_by(col(Transfer.completed_at).desc())
    ).first()
