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
"""

from __future__ import annotations

from psycopg_pool import AsyncConnectionPool
from psycopg_pool import PoolTimeout as PoolTimeout  # re-export: what a busy pool raises
from sqlalchemy.engine import URL

from infra.db import POOL_TIMEOUT_S


def conninfo(url: URL) -> str:
    """libpq's URI for a SQLAlchemy `postgresql+psycopg` URL (the password kept)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


async def open_pool(url: URL, size: int, wait_s: float = POOL_TIMEOUT_S) -> AsyncConnectionPool:
    """A pool of `size` connections to the database of `url`, opened (connections are made in
    the background); a request waits at most `wait_s` for one."""
    pool = AsyncConnectionPool(
        conninfo(url),
        min_size=size,
        max_size=size,
        timeout=wait_s,
        kwargs={"autocommit": True},
        name="scans",
        open=False,
    )
    await pool.open()
    return pool
