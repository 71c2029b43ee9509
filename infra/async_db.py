"""An asyncio PostgreSQL pool (psycopg 3 + psycopg_pool) for reads made in the event loop.

Why: a QR scan served from its stored bytes is one indexed read (service.scans). Run through
SQLAlchemy in a worker thread, most of its CPU went to the thread hop, to SQLAlchemy Core and to
building result rows, not to the query. In the event loop, on a connection of its own pool, the
read costs one prepared statement's round trip and the decoding of a handful of columns.

The pool follows infra.db's rules: a request holds one of its connections at a time, and waits
a bounded time for one (`wait_s`; then psycopg_pool.PoolTimeout: 503 with Retry-After). Its
connections run in autocommit (one statement, no BEGIN/ROLLBACK round trips). Broken connections
are not pinged on checkout (a `SELECT 1` per scan would double the database work): a statement
that fails on one raises, the pool drops the connection when it comes back, and the caller's
fallback answers meanwhile.

Its connections read a result that is already in the socket without a trip through the event
loop (`DrainingConnection`).
"""

from __future__ import annotations

import select
from collections.abc import Generator
from typing import Any, Final

from psycopg import AsyncConnection
from psycopg.waiting import Ready, Wait
from psycopg_pool import AsyncConnectionPool
from psycopg_pool import PoolTimeout as PoolTimeout  # re-export: what a busy pool raises
from sqlalchemy.engine import URL

from infra.db import POOL_TIMEOUT_S


def conninfo(url: URL) -> str:
    """libpq's URI for a SQLAlchemy `postgresql+psycopg` URL (the password kept)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


# Results read in a row without the loop, at most: then one trip, so that a result streaming in
# for long does not keep the loop from everything else.
DRAIN_AT_MOST: Final = 64


def drained(gen: Generator[Any, Any, Any], fileno: int) -> Generator[Any, Any, Any]:
    """`gen` (one of psycopg's generators, which yield what they wait for and are sent what is
    ready), answered at once when it waits to read and the socket has data already.

    libpq reads at most its buffer's free space (~16 KB) per call, and psycopg's wait_async
    makes every wait a trip through the event loop (a reader added and removed, a future, a
    timer). A batch of 22 stored linkset scans is ~100 KB of rows: 10-11 waits per statement,
    measured with uvloop (1.0 without the stored bytes), ~20 us of CPU each. The rest of the
    result is in the socket by the time the first part is read, so a zero-timeout select
    (~1 us) finds it. psycopg's own wait_async does the same for writes."""
    try:
        state = next(gen)
        drains = 0
        while True:
            if state == Wait.R and drains < DRAIN_AT_MOST and select.select([fileno], [], [], 0)[0]:
                drains += 1
                state = gen.send(Ready.R)
                continue
            drains = 0
            state = gen.send((yield state))
    except StopIteration as done:
        return done.value


class DrainingConnection(AsyncConnection):
    """psycopg's AsyncConnection whose waits go through `drained`."""

    async def wait(self, gen: Any, *args: Any, **kwargs: Any) -> Any:
        return await super().wait(drained(gen, self.pgconn.socket), *args, **kwargs)


async def open_pool(url: URL, size: int, wait_s: float = POOL_TIMEOUT_S) -> AsyncConnectionPool:
    """A pool of `size` connections to the database of `url`, opened (connections are made in
    the background); a request waits at most `wait_s` for one."""
    pool = AsyncConnectionPool(
        conninfo(url),
        min_size=size,
        max_size=size,
        timeout=wait_s,
        kwargs={"autocommit": True},
        connection_class=DrainingConnection,
        name="scans",
        open=False,
    )
    await pool.open()
    return pool
