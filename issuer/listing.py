"""Read-only listings for the portals and dashboards: batteries by filter, paged by keyset (an
operator's batteries newest first stay fast over a million rows: one index range scan), a
battery's credentials with their status bits, and counts for the dashboards."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, tuple_
from sqlmodel import Session, col, select

from issuer import statuslists, store
from issuer.tables import Battery, IssuedCredential, Operator, Passport, Transfer
from vocab.datetimes import format_datetime


@dataclass(frozen=True)
class Filters:
    operator_did: str | None = None  # None: every operator's (authorities)
    gtin: str | None = None
    serial: str | None = None  # a prefix
    batch: str | None = None
    status: str | None = None
    category: str | None = None
    model: str | None = None
    chemistry: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None


@dataclass(frozen=True)
class Listed:
    id: str
    gtin: str
    serial: str
    batch: str | None
    item_uri: str
    category: str | None
    status: str | None
    model: str | None
    chemistry: str | None
    passport_id: str
    operator_did: str
    created_at: datetime


def _operator_id(session: Session, did: str) -> str | None:
    return session.exec(select(Operator.id).where(Operator.did == did)).first()


def _where(statement, filters: Filters, operator_id: str | None):
    if filters.operator_did is not None:
        # by the id, not through a join on the DID: only then does the planner walk
        # ix_batteries_operator_created in order and stop after one page
        statement = statement.where(Battery.operator_id == operator_id)
    if filters.gtin:
        statement = statement.where(Battery.gtin == filters.gtin)
    if filters.serial:
        statement = statement.where(col(Battery.serial).startswith(filters.serial, autoescape=True))
    if filters.batch:
        statement = statement.where(Battery.batch == filters.batch)
    if filters.status:
        statement = statement.where(Battery.status == filters.status)
    if filters.category:
        statement = statement.where(Battery.category == filters.category)
    if filters.model:
        statement = statement.where(Battery.model == filters.model)
    if filters.chemistry:
        statement = statement.where(Battery.chemistry == filters.chemistry)
    if filters.created_from:
        statement = statement.where(Battery.created_at >= filters.created_from)
    if filters.created_to:
        statement = statement.where(Battery.created_at < filters.created_to)
    return statement


def batteries(
    session: Session,
    filters: Filters,
    *,
    after: tuple[datetime, str] | None = None,
    limit: int = 50,
) -> list[Listed]:
    """Up to `limit` batteries matching `filters`, newest first, after the keyset `after`
    (created_at, id) of the previous page's last row."""
    operator_id = None
    if filters.operator_did is not None:
        operator_id = _operator_id(session, filters.operator_did)
        if operator_id is None:
            return []
    statement = _where(select(Battery), filters, operator_id)
    if after is not None:
        created, battery_id = after
        # a row-value comparison: the index range starts right at the cursor (an OR of the
        # two cases made PostgreSQL scan half the operator's rows for a page deep down)
        statement = statement.where(
            tuple_(Battery.created_at, Battery.id) < tuple_(created, battery_id)
        )
    statement = statement.order_by(col(Battery.created_at).desc(), col(Battery.id).desc())
    rows = session.exec(statement.limit(limit)).all()
    ids = {b.operator_id for b in rows}
    dids = (
        dict(session.exec(select(Operator.id, Operator.did).where(col(Operator.id).in_(ids))).all())
        if ids
        else {}
    )
    return [
        Listed(
            id=b.id,
            gtin=b.gtin,
            serial=b.serial,
            batch=b.batch,
            item_uri=b.item_uri,
            category=b.category,
            status=b.status,
            model=b.model,
            chemistry=b.chemistry,
            passport_id=b.passport_id,
            operator_did=dids.get(b.operator_id, ""),
            created_at=b.created_at,
        )
        for b in rows
    ]


def battery_operator_did(session: Session, battery_id: str) -> str | None:
    """The DID of the operator the battery is registered to here (None: unknown battery)."""
    row = session.exec(
        select(Operator.did)
        .join(Battery, Battery.operator_id == Operator.id)
        .where(Battery.id == battery_id)
    ).first()
    return row


def credentials(session: Session, battery_id: str) -> list[dict[str, Any]]:
    """Every credential issued here about the battery (all passport versions, events), newest
    version first, each with its status entries and their bits now."""
    rows = session.exec(
        select(IssuedCredential)
        .where(IssuedCredential.battery_id == battery_id)
        .order_by(
            col(IssuedCredential.passport_version).desc(), col(IssuedCredential.issued_at).desc()
        )
    ).all()
    return [
        {
            "credentialId": r.credential_id,
            "kind": r.kind,
            "tier": r.tier,
            "passportVersion": r.passport_version,
            "issuedAt": format_datetime(r.issued_at),
            "status": statuslists.current_status(session, r),
            "document": r.document,
        }
        for r in rows
    ]


def transfers(session: Session, battery_id: str) -> list[dict[str, Any]]:
    rows = session.exec(
        select(Transfer)
        .where(Transfer.battery_id == battery_id)
        .order_by(col(Transfer.created_at).desc())
    ).all()
    return [
        {
            "id": t.id,
            "direction": t.direction,
            "state": t.state,
            "from": t.from_did,
            "to": t.to_did,
            "createdAt": format_datetime(t.created_at),
            "completedAt": format_datetime(t.completed_at) if t.completed_at else None,
        }
        for t in rows
    ]


def counts(session: Session, operator_did: str | None = None) -> dict[str, dict[str, int]]:
    """Batteries by status and by category (this operator's, or all)."""
    out: dict[str, dict[str, int]] = {}
    for name, column in (("status", Battery.status), ("category", Battery.category)):
        statement = select(column, func.count()).join(Operator, Operator.id == Battery.operator_id)
        if operator_did is not None:
            statement = statement.where(Operator.did == operator_did)
        rows = session.exec(statement.group_by(column)).all()
        out[name] = {str(k or "unknown"): int(n) for k, n in rows}
    return out


def latest_public_documents(
    session: Session, operator_did: str | None = None, limit: int = 20_000
) -> list[dict[str, Any]]:
    """The credential subjects of the latest passport version of each battery, every tier
    merged per battery is not needed for the aggregate figures: public tier only (what anyone
    may read), up to `limit` batteries."""
    latest = (
        select(func.max(Passport.version))
        .where(Passport.id == Battery.passport_id)
        .correlate(Battery)
        .scalar_subquery()
    )
    statement = (
        select(IssuedCredential.document)
        .join(Battery, Battery.passport_id == IssuedCredential.passport_id)
        .join(Operator, Operator.id == Battery.operator_id)
        .where(
            IssuedCredential.kind == store.PASSPORT_TIER,
            IssuedCredential.tier == "public",
            IssuedCredential.passport_version == latest,
        )
    )
    if operator_did is not None:
        statement = statement.where(Operator.did == operator_did)
    out = []
    for document in session.exec(statement.limit(limit)).all():
        subject = document.get("credentialSubject") if isinstance(document, dict) else None
        if isinstance(subject, dict):
            out.append(subject)
    return out


def registered_per_month(session: Session, operator_did: str | None = None) -> dict[str, int]:
    """Batteries registered per calendar month (UTC), `YYYY-MM` -> count."""
    if session.get_bind().dialect.name == "postgresql":
        bucket = func.to_char(func.timezone("UTC", Battery.created_at), "YYYY-MM")
    else:
        bucket = func.strftime("%Y-%m", Battery.created_at)
    statement = select(bucket, func.count()).join(Operator, Operator.id == Battery.operator_id)
    if operator_did is not None:
        statement = statement.where(Operator.did == operator_did)
    rows = session.exec(statement.group_by(bucket)).all()
    return {str(k): int(n) for k, n in rows if k}
