"""Adding a battery's documents, and listing them: for the next passport version's
`relatedResource`, for the page, and for readers entitled to restricted tiers."""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from typing import Final

from sqlmodel import Session, col, select

from issuer.documents.errors import (
    DocumentTooLarge,
    DocumentUnavailable,
    InvalidDocument,
    UnknownDocument,
    UnsupportedDocumentType,
)
from issuer.documents.objectstore import ObjectMissing, ObjectStore, ObjectStoreError
from issuer.documents.tables import BatteryDocument
from issuer.tables import Battery, Operator
from vocab.catalogue import Tier
from vocab.datetimes import as_utc, utcnow

# Document types and the tier each goes to unless the operator says otherwise (Annex XIII: the
# EU declaration of conformity and safety information are public (point 1); dismantling
# information is for persons with a legitimate interest and the Commission (point 2); test
# reports are for notified bodies, market surveillance authorities and the Commission (point 3)).
DOCUMENT_TYPES: Final[dict[str, Tier]] = {
    "declaration-of-conformity": Tier.PUBLIC,
    "safety-information": Tier.PUBLIC,
    "dismantling-information": Tier.LEGITIMATE_INTEREST_AND_COMMISSION,
    "test-report": Tier.AUTHORITIES,
    "other": Tier.PUBLIC,
}
# PDF and images, recognised by their first bytes: the declared type must agree.
_MAGIC: Final = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)
MEDIA_TYPES: Final = frozenset({"application/pdf", "image/png", "image/jpeg", "image/webp"})
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
DOCUMENTS_PATH = "/documents/"


def sniff(data: bytes) -> str | None:
    for magic, media_type in _MAGIC:
        if data.startswith(magic):
            return media_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def digest_sri(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


def document_url(public_url: str, document_id: str) -> str:
    return f"{public_url}{DOCUMENTS_PATH}{document_id}"


def _field(value: str | None, name: str, limit: int) -> str:
    if value is None or not value.strip():
        raise InvalidDocument(name, "is required")
    value = value.strip()
    if len(value) > limit:
        raise InvalidDocument(name, f"is longer than {limit} characters")
    return value


def add(
    session: Session,
    store: ObjectStore,
    battery: Battery,
    operator: Operator,
    *,
    data: bytes,
    declared_media_type: str | None,
    doc_type: str | None,
    title: str | None,
    language: str | None,
    tier: str | None,
    max_bytes: int,
) -> BatteryDocument:
    """Check everything, put the bytes in the store, add the row (in the caller's transaction).
    Bytes stored for a transaction that then fails are harmless: nothing refers to them, and the
    same bytes uploaded again land on the same key."""
    doc_type = _field(doc_type, "type", 40)
    if doc_type not in DOCUMENT_TYPES:
        raise InvalidDocument("type", f"must be one of {', '.join(DOCUMENT_TYPES)}")
    title = _field(title, "title", 200)
    language = _field(language, "language", 35)
    if not _LANGUAGE.fullmatch(language):
        raise InvalidDocument("language", f"{language!r} is not a BCP 47 language tag (e.g. en)")
    if tier is None or not tier.strip():
        chosen = DOCUMENT_TYPES[doc_type]
    else:
        try:
            chosen = Tier(tier.strip())
        except ValueError:
            raise InvalidDocument(
                "tier", f"must be one of {', '.join(t.value for t in Tier)}"
            ) from None
    if not data:
        raise InvalidDocument("file", "is empty")
    if len(data) > max_bytes:
        raise DocumentTooLarge("file", f"is {len(data)} bytes; the limit is {max_bytes}")
    found = sniff(data)
    if found is None:
        raise UnsupportedDocumentType(
            "file", "is not a PDF, PNG, JPEG or WebP file (by its content)"
        )
    declared = (declared_media_type or "").split(";", 1)[0].strip().lower()
    if declared and declared != "application/octet-stream" and declared != found:
        raise UnsupportedDocumentType("file", f"is declared {declared} but its content is {found}")
    sha256 = hashlib.sha256(data).hexdigest()
    try:
        store.put(f"sha256/{sha256}", data, found)
    except ObjectStoreError as exc:
        raise DocumentUnavailable(f"the document store refused the upload: {exc}") from None
    document = BatteryDocument(
        id=str(uuid.uuid4()),
        battery_id=battery.id,
        operator_id=operator.id,
        doc_type=doc_type,
        title=title,
        language=language,
        tier=chosen.value,
        media_type=found,
        size=len(data),
        sha256=sha256,
        digest_sri=digest_sri(data),
        created_at=utcnow(),
    )
    session.add(document)
    session.flush()
    return document


def of_battery(session: Session, battery_id: str) -> list[BatteryDocument]:
    return list(
        session.exec(
            select(BatteryDocument)
            .where(BatteryDocument.battery_id == battery_id)
            .order_by(col(BatteryDocument.created_at), col(BatteryDocument.id))
        )
    )


def related_resource(document: BatteryDocument, public_url: str) -> dict:
    """The `relatedResource` entry (VC DM 2.0 §5.3) naming a document."""
    return {
        "id": document_url(public_url, document.id),
        "digestSRI": document.digest_sri,
        "mediaType": document.media_type,
    }


def related_by_tier(session: Session, battery_id: str, public_url: str) -> dict[str, list[dict]]:
    """Each tier's documents, as the tier credential of the next passport version lists them."""
    out: dict[str, list[dict]] = {}
    for document in of_battery(session, battery_id):
        out.setdefault(document.tier, []).append(related_resource(document, public_url))
    return out


def describe(document: BatteryDocument, public_url: str) -> dict:
    return {
        "id": document.id,
        "url": document_url(public_url, document.id),
        "type": document.doc_type,
        "title": document.title,
        "language": document.language,
        "tier": document.tier,
        "mediaType": document.media_type,
        "size": document.size,
        "digestSRI": document.digest_sri,
        "created": as_utc(document.created_at).isoformat().replace("+00:00", "Z"),
    }


def get(session: Session, document_id: str) -> BatteryDocument:
    document = session.get(BatteryDocument, document_id) if len(document_id) <= 36 else None
    if document is None:
        raise UnknownDocument(f"no document {document_id!r} is kept here")
    return document


def read(store: ObjectStore, document: BatteryDocument) -> bytes:
    try:
        return store.get(f"sha256/{document.sha256}")
    except ObjectMissing:
        raise DocumentUnavailable(f"the bytes of document {document.id} are missing") from None
    except ObjectStoreError as exc:
        raise DocumentUnavailable(f"the document store did not answer: {exc}") from None
