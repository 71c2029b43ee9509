"""`resolver.views.lookup_stored` for the event loop, on PostgreSQL (issue 16: service.scans).

The same indexed read (battery_routes by its GS1 key, joined with resolver_views by primary
key) as one hand-written statement per wanted answer, prepared on each pooled connection, in
binary (bytea crosses the wire as bytes, not hex): what `registry.placement` needs of the route,
the generation check of `views.servable`, and of the stored answers only the wanted one and its
ETag. No SQLAlchemy: under wrk its Core statement and row objects cost more CPU than the query.
Copies still keep no cache, so a revocation is seen on the very next scan (resolver.views).
"""

from __future__ import annotations

from functools import cache
from types import SimpleNamespace
from typing import Any, Final

from resolver.views import BLOBS, NOT_LOADED

_ROUTE: Final = ("id", "endpoint", "successor", "state")
_VIEW: Final = ("battery_id", "generation", "built_generation", "stale_at", "anchor", "link_header")


@cache
def statement(wanted: frozenset[str]) -> tuple[bytes, tuple[str, ...]]:
    """The read for `wanted` (a subset of BLOBS) and the names of its columns, in order."""
    names = [f"r_{c}" for c in _ROUTE] + [f"v_{c}" for c in _VIEW]
    columns = [f"r.{c}" for c in _ROUTE] + [f"v.{c}" for c in _VIEW]
    for blob in BLOBS:
        names.append(f"{blob}_missing")
        columns.append(f"v.{blob} IS NULL")
    for blob in sorted(wanted):
        names += [blob, f"{blob}_etag"]
        columns += [f"v.{blob}", f"v.{blob}_etag"]
    sql = (
        f"SELECT {', '.join(columns)} FROM battery_routes r "
        "LEFT JOIN resolver_views v ON v.battery_id = r.id "
        "WHERE r.gtin = %s AND r.serial = %s"
    )
    return sql.encode(), tuple(names)


async def lookup_stored(
    pool: Any, gtin: str, serial: str, wanted: frozenset[str]
) -> tuple[Any, Any] | None:
    """(route, view) as `views.lookup_stored` gives them, with the route's placement columns
    only; None when no battery has this key (the full handler answers: walk-up, errors).
    `pool` is a psycopg_pool.AsyncConnectionPool; a busy one raises its PoolTimeout."""
    sql, names = statement(wanted)
    async with pool.connection() as connection:
        cursor = await connection.execute(sql, (gtin, serial), prepare=True, binary=True)
        found = await cursor.fetchone()
    if found is None:
        return None
    row = dict(zip(names, found, strict=True))
    route = SimpleNamespace(**{c: row[f"r_{c}"] for c in _ROUTE})
    if row["v_battery_id"] is None:
        return route, None
    view = SimpleNamespace(**{c: row[f"v_{c}"] for c in _VIEW})
    for blob in BLOBS:
        if row[f"{blob}_missing"]:
            value, tag = None, None
        else:
            value, tag = row.get(blob, NOT_LOADED), row.get(f"{blob}_etag")
        setattr(view, blob, value)
        setattr(view, f"{blob}_etag", tag)
    return route, view
