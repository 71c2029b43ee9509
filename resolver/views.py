"""Materialized scans (issue 16): what a QR scan returns, kept per battery as bytes.

A battery's answers (linkset, JSON passport presentation, consumer page with its verdicts) change
only when the battery changes, so the first scan after a change builds them (resolver.scan) and
stores them in `resolver_views`; every later scan is one indexed read (battery_routes joined with
resolver_views by the battery's GS1 key) plus bytes out.

How a change reaches every copy of the service: each write that changes what a scan returns bumps
the battery's `generation` in the writer's own transaction (`_invalidate_on_flush`, a listener on
every ORM flush in the process, keyed by table name so that this package needs no import of the
issuer or the anchor). Bytes are served only while built for the current generation. Copies keep
no cache of their own: all read the same row, so a revocation is seen on the very next scan that
starts after its commit, at every copy, with nothing to notify.

A builder stores its bytes with a compare-and-set on the generation it read before building: a
write committed while a view was being built leaves the old generation behind, the store matches
no row, and the next scan builds again. `stale_at` bounds what changes without a write here
(validity periods running out, other instances' status lists, the chain): the earliest validity
boundary of the credentials, or DBP_RESOLVER_VIEW_MAX_AGE_S after building.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, cached_property
from itertools import chain
from types import SimpleNamespace
from typing import Any, Final

from sqlalchemy import Connection, bindparam, event, text, update
from sqlalchemy import select as core_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, select

from resolver.caching import etag
from resolver.tables import BatteryRoute, ResolverView
from vocab.datetimes import utcnow

VIEWS = ResolverView.__table__  # type: ignore[attr-defined]
# A view built while a check could not run (the chain unreachable) is kept this long at most.
TRANSIENT_AGE: Final = timedelta(seconds=5)
TRANSIENT_CODES: Final = frozenset({"anchor-unavailable"})

_BY_KEY: Final = (
    select(BatteryRoute, ResolverView)
    .outerjoin(ResolverView, ResolverView.battery_id == BatteryRoute.id)  # type: ignore[arg-type]
    .where(BatteryRoute.gtin == bindparam("gtin"), BatteryRoute.serial == bindparam("serial"))
)


@dataclass(frozen=True)
class Built:
    """A battery's answers as bytes, with what they were built from."""

    anchor: str
    link_header: str
    linkset: bytes
    passport: bytes | None
    page: bytes
    built_at: datetime
    stale_at: datetime

    @cached_property
    def linkset_etag(self) -> str:
        return etag(self.linkset)

    @cached_property
    def passport_etag(self) -> str | None:
        return etag(self.passport) if self.passport is not None else None

    @cached_property
    def page_etag(self) -> str:
        return etag(self.page)


def lookup(session: Session, gtin: str, serial: str) -> tuple[BatteryRoute, ResolverView | None]:
    """The route and its view in one indexed read (UnknownBattery when not registered)."""
    from resolver.registry import UnknownBattery  # registry imports this module

    found = session.exec(_BY_KEY, params={"gtin": gtin, "serial": serial}).first()
    if found is None:
        raise UnknownBattery(f"no battery {gtin}/{serial} is registered here")
    return found[0], found[1]


ROUTES = BatteryRoute.__table__  # type: ignore[attr-defined]
BLOBS: Final = ("linkset", "passport", "page")
_SMALL: Final = (
    "generation", "built_generation", "stale_at", "anchor", "link_header",
    "linkset_etag", "passport_etag", "page_etag",
)  # fmt: skip


@cache
def _stored_by_key(wanted: frozenset[str]) -> Any:
    """The read of `lookup_stored`: route, view and the wanted answer only (one statement per
    representation, built once so that SQLAlchemy's compiled cache keeps it)."""
    return (
        core_select(
            *ROUTES.c,
            VIEWS.c.battery_id.label("v_battery_id"),
            *(VIEWS.c[name].label(f"v_{name}") for name in _SMALL),
            *(VIEWS.c[name].is_(None).label(f"v_{name}_missing") for name in BLOBS),
            *(VIEWS.c[name].label(f"v_{name}") for name in BLOBS if name in wanted),
        )
        .select_from(ROUTES.outerjoin(VIEWS, VIEWS.c.battery_id == ROUTES.c.id))
        .where(ROUTES.c.gtin == bindparam("gtin"), ROUTES.c.serial == bindparam("serial"))
    )


class NotLoaded:
    """A stored answer `lookup_stored` did not read (another representation was asked for). It
    is not bytes: serving it by mistake fails, and the scan goes to the full handler."""

    def __repr__(self) -> str:
        return "NOT_LOADED"


NOT_LOADED: Final = NotLoaded()


def lookup_stored(
    connection: Connection, gtin: str, serial: str, wanted: frozenset[str] = frozenset(BLOBS)
) -> tuple[Any, Any]:
    """`lookup` for a scan served from stored bytes: the same indexed read, as plain rows, and of
    the stored answers (BLOBS) only those `wanted` cross the wire; the others are None when
    absent and NOT_LOADED otherwise.

    Measured (yappi over scans through the ASGI app, wrk against uvicorn): the ORM lookup's
    session, identity map and row hydration cost more CPU than the query, and reading all three
    answers made the server de-TOAST and send the ~30 KiB page on every linkset scan."""
    from resolver.registry import UnknownBattery  # registry imports this module

    found = connection.execute(_stored_by_key(wanted), {"gtin": gtin, "serial": serial}).first()
    if found is None:
        raise UnknownBattery(f"no battery {gtin}/{serial} is registered here")
    row = found._mapping
    route = SimpleNamespace(**{c.name: row[c.name] for c in ROUTES.c})
    if row["v_battery_id"] is None:
        return route, None
    view = SimpleNamespace(
        battery_id=row["v_battery_id"], **{name: row[f"v_{name}"] for name in _SMALL}
    )
    for name in BLOBS:
        missing = row[f"v_{name}_missing"]
        setattr(view, name, None if missing else row.get(f"v_{name}", NOT_LOADED))
    return route, view


def servable(view: ResolverView | None, anchor: str, now: datetime) -> bool:
    """Whether the stored bytes answer a scan of `anchor` now."""
    return (
        view is not None
        and view.built_generation is not None
        and view.built_generation == view.generation
        and view.anchor == anchor
        and view.stale_at is not None
        and _aware(view.stale_at) > now
        and view.page is not None
    )


def _aware(when: datetime) -> datetime:
    # SQLite hands timezone-aware columns back naive (in UTC as written)
    return when if when.tzinfo else when.replace(tzinfo=utcnow().tzinfo)


def store(session: Session, battery_id: str, generation: int | None, built: Built) -> bool:
    """Keep `built` if no write changed the battery since `generation` was read (None: it had no
    row then). Commits; False when a concurrent write won (the bytes are not kept), or when the
    bytes are stale already (DBP_RESOLVER_VIEW_MAX_AGE_S=0)."""
    if built.stale_at <= built.built_at:
        return False
    values = {
        "built_generation": generation or 0,
        "built_at": built.built_at,
        "stale_at": built.stale_at,
        "anchor": built.anchor,
        "link_header": built.link_header,
        "linkset_etag": built.linkset_etag,
        "passport_etag": built.passport_etag,
        "page_etag": built.page_etag,
        "linkset": built.linkset,
        "passport": built.passport,
        "page": built.page,
    }
    if generation is None:
        # A write that created the row meanwhile wins: DO NOTHING, and the next scan builds.
        statement = (
            _insert(session)(VIEWS)
            .values(battery_id=battery_id, generation=0, **values)
            .on_conflict_do_nothing(index_elements=["battery_id"])
        )
    else:
        statement = (
            update(VIEWS)
            .where(VIEWS.c.battery_id == battery_id, VIEWS.c.generation == generation)
            .values(**values)
        )
    stored = session.connection().execute(statement).rowcount == 1
    session.commit()
    return stored


def _insert(session: Session | OrmSession) -> Any:
    dialect = session.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def stale_at(
    built_at: datetime, max_age_s: float, credentials: list[dict], checks: list
) -> datetime:
    """When the answers built at `built_at` stop being true without any write: the max age, the
    next validity boundary of a credential, sooner when a check could not run."""
    until = built_at + timedelta(seconds=max_age_s)
    for credential in credentials:
        for name in ("validFrom", "validUntil"):
            boundary = _instant(credential.get(name) if isinstance(credential, dict) else None)
            if boundary is not None and built_at < boundary < until:
                until = boundary
    if any(getattr(c, "code", "") in TRANSIENT_CODES for c in checks):
        until = min(until, built_at + TRANSIENT_AGE)
    return until


def _instant(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo else None


# --- invalidation -------------------------------------------------------------------------------

# Tables whose rows name the battery they change, and by which attribute.
_BATTERY_ATTRIBUTE: Final = {
    "batteries": "id",
    "battery_routes": "id",
    "battery_tenures": "battery_id",
    "passports": "battery_id",
    "issued_credentials": "battery_id",
    "transfers": "battery_id",
}
# An operator's name, keys or exit change the page of every battery it issued credentials for.
_BY_OPERATOR: Final = text(
    "UPDATE resolver_views SET generation = generation + 1 WHERE battery_id IN ("
    "SELECT battery_id FROM issued_credentials WHERE operator_id = :operator "
    "UNION SELECT id FROM batteries WHERE operator_id = :operator)"
)
# A status change (revocation, suspension) of one credential: its battery.
_BY_CREDENTIAL_ROW: Final = text(
    "UPDATE resolver_views SET generation = generation + 1 WHERE battery_id IN ("
    "SELECT battery_id FROM issued_credentials WHERE id = :row)"
)
# An anchor batch that moves on (sent, mined, confirmed): the batteries of its credentials.
_BY_ANCHOR_BATCH: Final = text(
    "UPDATE resolver_views SET generation = generation + 1 WHERE battery_id IN ("
    "SELECT c.battery_id FROM anchor_leaves l JOIN issued_credentials c "
    "ON c.credential_id = l.credential_id WHERE l.batch_id = :batch)"
)


def invalidate(session: Session | OrmSession, battery_ids: set[str]) -> None:
    """Bump the generation of each battery's view, creating the row when there is none yet: a
    builder that started before this write then cannot store what it built."""
    if not battery_ids:
        return
    insert = _insert(session)
    statement = (
        insert(VIEWS)
        .values(battery_id=bindparam("id"), generation=1)
        .on_conflict_do_update(
            index_elements=["battery_id"], set_={"generation": VIEWS.c.generation + 1}
        )
    )
    # sorted: concurrent writers bump rows in one order, so they cannot deadlock on them
    session.connection().execute(statement, [{"id": b} for b in sorted(battery_ids)])


def _changed(session: OrmSession, obj: Any) -> bool:
    return obj not in session.dirty or session.is_modified(obj, include_collections=False)


def _invalidate_on_flush(session: OrmSession, _context: Any) -> None:
    batteries: set[str] = set()
    connection = None
    for obj in chain(session.new, session.dirty, session.deleted):
        table = getattr(obj, "__tablename__", None)
        if table is None or table == "resolver_views" or not _changed(session, obj):
            continue
        attribute = _BATTERY_ATTRIBUTE.get(table)
        if attribute is not None:
            battery_id = getattr(obj, attribute, None)
            if battery_id:
                batteries.add(battery_id)
            continue
        connection = connection or session.connection()
        if table == "status_entries" and obj not in session.new:
            connection.execute(_BY_CREDENTIAL_ROW, {"row": obj.credential_row_id})
        elif table == "operator_keys" or (table == "operators" and obj not in session.new):
            operator_id = obj.operator_id if table == "operator_keys" else obj.id
            connection.execute(_BY_OPERATOR, {"operator": operator_id})
        elif table == "anchor_batches" and obj.id is not None:
            connection.execute(_BY_ANCHOR_BATCH, {"batch": obj.id})
    invalidate(session, batteries)


# Every ORM session in the process (the service's, the CLIs', the workers'): a write anywhere
# invalidates the views it changes, in its own transaction. Registered once, at import.
if not event.contains(OrmSession, "after_flush", _invalidate_on_flush):
    event.listen(OrmSession, "after_flush", _invalidate_on_flush)
