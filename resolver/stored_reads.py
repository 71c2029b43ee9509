"""`resolver.views.lookup_stored` for the event loop, on PostgreSQL (issue 16: service.scans).

The same indexed read (battery_routes by its GS1 key, joined with resolver_views by primary
key) as one hand-written statement per wanted answer, prepared on each pooled connection and run
with libpq's calls (infra.async_db.fetch_prepared), in binary (bytea crosses the wire as bytes,
not hex): what `registry.placement` needs of the route, the generation check of
`views.servable`, and of the stored answers only the wanted one and its ETag. No SQLAlchemy:
under wrk its Core statement and row objects cost more CPU than the query.

Scans that arrive together share one statement (`_Batch`): the keys of every scan waiting for
the same answer go as two texts, each row comes back with its key's position. Texts and not
arrays: psycopg dumps a list element by element in Python, ~40 us of CPU for the two lists of a
batch of 22 (cProfile), where a joined string is one C call and PostgreSQL's string_to_array
splits it. The separator, the unit separator control character, is outside GS1 character set
82 (vocab.gs1), so no key holds one; `lookup_stored` declines a key that does. Profiled under
wrk (py-spy, 64 connections, random batteries), a statement per scan spent about a fifth of the
scan's CPU in psycopg's send, wait and result handling, whatever the size of its result; shared,
that cost is paid once per batch. No scan waits for a batch to fill: a batch goes as soon as
one of its few statements in flight is done (the first goes at once), so a batch is whatever
arrived meanwhile. Every read still starts after its scan arrived and copies keep no cache, so
a revocation is seen on the very next scan (resolver.views).
"""

from __future__ import annotations

import asyncio
from collections import namedtuple
from functools import cache
from typing import Any, Final
from weakref import WeakKeyDictionary

from infra.async_db import fetch_prepared
from resolver.views import BLOBS, NOT_LOADED

_ROUTE: Final = ("id", "endpoint", "successor", "state")
# between the keys of a batch (chr(31) in the statement)
SEPARATOR: Final = "\x1f"
_VIEW: Final = ("battery_id", "generation", "built_generation", "stale_at", "anchor", "link_header")
# Statements in flight per wanted answer and pool: while they run, scans gather into the next.
IN_FLIGHT: Final = 2
# For the large answers, at most this many keys a statement, and this many statements in flight
# (of the pool's DBP_RESOLVER_SCAN_CONNECTIONS): a batch of 22 consumer pages (~31 KB each) or
# JSON passports (~10 KB) gave wrk (64 connections, random batteries) a tail of 40-55 ms at p99
# for a median of 5-9 ms; 8 keys and 4 statements brought p99 to 14-16 ms, the page's requests/s
# unchanged, the passport's ~10% lower (4 keys and 6 statements: p99 19 ms, 30% fewer). Linksets
# (~2 KB) batch whole: p99 8 ms either way.
LIMITS: Final = {"page": (8, 4), "passport": (8, 4)}


@cache
def statement(wanted: frozenset[str]) -> tuple[bytes, tuple[str, ...]]:
    """The read of a batch of keys for `wanted` (a subset of BLOBS) and the names of its
    columns, in order: the first is the key's position (1-based) in the arrays."""
    names = ["at"] + [f"r_{c}" for c in _ROUTE] + [f"v_{c}" for c in _VIEW]
    columns = ["k.at"] + [f"r.{c}" for c in _ROUTE] + [f"v.{c}" for c in _VIEW]
    for blob in BLOBS:
        names.append(f"{blob}_missing")
        columns.append(f"v.{blob} IS NULL")
    for blob in sorted(wanted):
        names += [blob, f"{blob}_etag"]
        columns += [f"v.{blob}", f"v.{blob}_etag"]
    sql = (
        f"SELECT {', '.join(columns)} "
        "FROM unnest(string_to_array($1::text, chr(31)), string_to_array($2::text, chr(31))) "
        "WITH ORDINALITY AS k(gtin, serial, at) "
        "JOIN battery_routes r ON r.gtin = k.gtin AND r.serial = k.serial "
        "LEFT JOIN resolver_views v ON v.battery_id = r.id"
    )
    return sql.encode(), tuple(names)


class _Batch:
    """The scans of one pool waiting for one wanted answer, and the statements in flight."""

    # No reference to the pool here: `_batches` is keyed weakly by it, and a value holding its
    # key would keep both alive for good (an app's pool, closed, in every test that makes one).
    def __init__(self, wanted: frozenset[str]) -> None:
        self.wanted = wanted
        self.waiting: list[tuple[str, str, asyncio.Future]] = []
        self.running = 0
        self.tasks: set[asyncio.Task] = set()  # the loop keeps only weak references to tasks
        largest = [LIMITS[blob] for blob in wanted if blob in LIMITS]
        # keys per statement (None: all waiting), statements in flight
        self.keys, self.in_flight = min(largest) if largest else (None, IN_FLIGHT)

    def read(self, pool: Any, gtin: str, serial: str) -> asyncio.Future:
        found = asyncio.get_running_loop().create_future()
        self.waiting.append((gtin, serial, found))
        if self.running < self.in_flight:
            self.running += 1
            task = asyncio.ensure_future(self._drain(pool))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        return found

    async def _drain(self, pool: Any) -> None:
        try:
            while self.waiting:
                at_most = self.keys or len(self.waiting)
                batch, self.waiting = self.waiting[:at_most], self.waiting[at_most:]
                try:
                    rows = await self._rows(pool, batch)
                except BaseException as exc:  # each scan gets it: PoolTimeout -> 503, else router
                    for *_, found in batch:
                        if not found.done():
                            found.set_exception(exc)
                    if not isinstance(exc, Exception):
                        raise
                    continue
                for at, (*_, found) in enumerate(batch, start=1):
                    if not found.done():  # a scan whose client left is cancelled
                        found.set_result(rows.get(at))
        finally:
            self.running -= 1

    async def _rows(
        self, pool: Any, batch: list[tuple[str, str, asyncio.Future]]
    ) -> dict[int, tuple]:
        sql, _names = statement(self.wanted)
        keys = (SEPARATOR.join([k[0] for k in batch]), SEPARATOR.join([k[1] for k in batch]))
        async with pool.connection() as connection:
            return {row[0]: row for row in await fetch_prepared(connection, sql, keys)}


_batches: WeakKeyDictionary[Any, dict[frozenset[str], _Batch]] = WeakKeyDictionary()


# what `lookup_stored` gives: the route's placement columns; the view's, then each of BLOBS and
# its ETag (as views.lookup_stored names them)
_Route = namedtuple("_Route", _ROUTE)  # type: ignore[misc]
_View = namedtuple(  # type: ignore[misc]
    "_View", (*_VIEW, *(name for blob in BLOBS for name in (blob, f"{blob}_etag")))
)


@cache
def _layout(wanted: frozenset[str]) -> tuple[slice, slice, tuple[tuple[int, int | None], ...]]:
    """Where `statement(wanted)`'s row keeps the route's columns, the view's, and for each of
    BLOBS its IS NULL flag and, when wanted, its value (the ETag next)."""
    names = statement(wanted)[1]
    route = slice(1, 1 + len(_ROUTE))
    view = slice(route.stop, route.stop + len(_VIEW))
    blobs = tuple(
        (names.index(f"{blob}_missing"), names.index(blob) if blob in wanted else None)
        for blob in BLOBS
    )
    return route, view, blobs


async def lookup_stored(
    pool: Any, gtin: str, serial: str, wanted: frozenset[str]
) -> tuple[Any, Any] | None:
    """(route, view) as `views.lookup_stored` gives them, with the route's placement columns
    only; None when no battery has this key (the full handler answers: walk-up, errors).
    `pool` is a psycopg_pool.AsyncConnectionPool; a busy one raises its PoolTimeout."""
    if SEPARATOR in serial or SEPARATOR in gtin:
        return None  # not a GS1 key (vocab.gs1 refuses it): the full handler says so
    by_wanted = _batches.setdefault(pool, {})
    batch = by_wanted.get(wanted) or by_wanted.setdefault(wanted, _Batch(wanted))
    found = await batch.read(pool, gtin, serial)
    if found is None:
        return None
    # by position into named tuples, not a dict of the row's names into namespaces: ~1% of a
    # scan's CPU (py-spy under wrk), then 1.8 -> 0.8 us (timeit)
    route_at, view_at, blobs = _layout(wanted)
    route = _Route._make(found[route_at])
    if found[view_at.start] is None:  # v.battery_id: no resolver_views row
        return route, None
    values = list(found[view_at])
    for missing, value in blobs:
        if found[missing]:
            values += (None, None)
        elif value is None:
            values += (NOT_LOADED, None)
        else:
            values += found[value : value + 2]  # the answer and its ETag
    return route, _View._make(values)
