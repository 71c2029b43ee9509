"""The credential store: every credential this service signs is kept, as signed, in the caller's
transaction, together with the status list entries it carries, and queued for anchoring in the
same transaction (anchor/outbox.py): a credential that is rolled back leaves no leaf behind."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlmodel import Session, select

from anchor import leaves, outbox
from issuer import statuslists
from issuer.errors import FieldError
from issuer.statuslists import AllocatedEntry
from issuer.tables import IssuedCredential
from vocab.datetimes import utcnow

PASSPORT_TIER = "passport-tier"
EVENT = "event"
VC_API = "vc-api"
GRANT = "grant"  # an AccessGrantCredential (issuer.grants), with status entries


class CredentialIdTaken(FieldError):
    code = "credential-exists"
    status = 409
    rule = "unique"


def check_new_id(session: Session, credential_id: str | None) -> None:
    """A credential id names one credential: refuse to sign a second one under it."""
    if credential_id is None:
        return
    if session.exec(
        select(IssuedCredential.id).where(IssuedCredential.credential_id == credential_id)
    ).first():
        raise CredentialIdTaken(
            "credential.id", f"a credential with id {credential_id!r} was already issued here"
        )


def previous(session: Session, credential_id: str | None) -> IssuedCredential | None:
    """The credential issued earlier under `credential_id`, if any."""
    if credential_id is None:
        return None
    return session.exec(
        select(IssuedCredential).where(IssuedCredential.credential_id == credential_id)
    ).first()


def store(
    session: Session,
    *,
    operator_id: str,
    document: dict,
    kind: str,
    battery_id: str | None = None,
    passport_id: str | None = None,
    passport_version: int | None = None,
    tier: str | None = None,
    status_entries: Sequence[AllocatedEntry] = (),
    credential_id: str | None = None,
    anchor: bool = True,
) -> IssuedCredential:
    """Add a signed credential (and its status entries) to the session; not committed here.

    `credential_id` defaults to the document's `id`; an enveloped (vc+jwt) credential's `id` is
    a data: URL of the whole token, so its caller passes the inner credential's id instead."""
    if credential_id is None and kind != VC_API and isinstance(document.get("id"), str):
        credential_id = document["id"]
    row = IssuedCredential(
        id=str(uuid.uuid4()),
        credential_id=credential_id,
        operator_id=operator_id,
        battery_id=battery_id,
        passport_id=passport_id,
        passport_version=passport_version,
        kind=kind,
        tier=tier,
        document=document,
        issued_at=utcnow(),
    )
    session.add(row)
    statuslists.record(session, row.id, list(status_entries))
    if anchor:
        outbox.enqueue(session, credential_id, document, kind=anchor_kind(kind))
    return row


def anchor_kind(kind: str) -> str:
    # The outbox files lifecycle events apart from passport credentials.
    return "lifecycle-event" if kind == EVENT else "credential"


def anchor_leaves(
    session: Session, documents: Sequence[tuple[dict, tuple[str, str] | None]], kind: str
) -> None:
    """Queue several credentials for anchoring at once (one duplicate query, one insert), given
    as (document, its `outbox.leaf_row` or None) pairs: leaves computed already (in a signing
    process) are not computed again."""
    outbox.enqueue_leaves(
        session,
        [
            (
                d.get("id") if d.get("id") is not None else leaves.document_id(d),
                *(leaf or outbox.leaf_row(d)),
            )
            for d, leaf in documents
        ],
        kind=anchor_kind(kind),
    )
