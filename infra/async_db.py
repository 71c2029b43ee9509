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
loop (`DrainingConnection`), and `fetch_prepared` runs a prepared statement on one of them with
libpq's own calls.
"""

from __future__ import annotations

import asyncio
import hashlib
import select
from collections.abc import Generator, Sequence
from functools import cache
from typing import Any, Final

from psycopg import AsyncConnection, pq
from psycopg.adapt import Transformer
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
    """psycopg's AsyncConnection whose waits go through `drained`; it also keeps what
    `fetch_prepared` needs: the statements prepared on it and a row loader."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.prepared: set[bytes] = set()
        self.rows = Transformer(self)

    async def wait(self, gen: Any, *args: Any, **kwargs: Any) -> Any:
        return await super().wait(drained(gen, self.pgconn.socket), *args, **kwargs)


class ReadFailed(Exception):
    """A statement run by `fetch_prepared` failed (its message is the server's)."""


TEXT_OID: Final = 25  # the type of `fetch_prepared`'s parameters


@cache
def _statement_name(sql: bytes) -> bytes:
    return b"dbp_" + hashlib.sha256(sql).hexdigest()[:24].encode()


async def fetch_prepared(
    connection: DrainingConnection, sql: bytes, params: Sequence[str]
) -> list[tuple]:
    """The rows of `sql` (placeholders $1, $2, ... of type text) for `params`, read in binary,
    prepared on `connection` the first time. The connection must be idle and not shared
    (checked out of the pool), in autocommit.

    The same libpq calls a cursor's `execute(..., prepare=True, binary=True)` and `fetchall()`
    make, without the cursor's layers around them (its generators, query conversion, lock,
    result checks in Python): measured on a batch read of 32 stored linksets, the cursor took
    ~1.3x the CPU of this per statement, ~1.6x for a batch of 8 (a batch of consumer pages),
    alternated in one process. A failure leaves the connection mid-statement (or not IDLE):
    the pool then closes it when it comes back (psycopg_pool's reset)."""
    pgconn = connection.pgconn
    name = _statement_name(sql)
    if name not in connection.prepared:
        pgconn.send_prepare(name, sql, [TEXT_OID] * len(params))
        await _result(pgconn)
        connection.prepared.add(name)
    pgconn.send_query_prepared(name, [p.encode() for p in params], result_format=pq.Format.BINARY)
    try:
        result = await _result(pgconn)
    except ReadFailed:
        connection.prepared.discard(name)  # a server that lost it (a reset): prepared again
        raise
    connection.rows.set_pgresult(result)
    return connection.rows.load_rows(0, result.ntuples, tuple)


_OK: Final = (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK)


async def _result(pgconn: pq.abc.PGconn) -> pq.abc.PGresult:
    """The one result of the statement just sent on `pgconn` (non-blocking, as psycopg's
    async connections are), its data already in the socket read without the loop (`drained`)."""
    loop = asyncio.get_running_loop()
    fileno = pgconn.socket
    while pgconn.flush():  # the statement did not fit in the socket's buffer at once
        await _ready(loop.add_writer, loop.remove_writer, fileno)
    results = []
    drains = 0
    while True:
        if drains < DRAIN_AT_MOST and select.select([fileno], [], [], 0)[0]:
            drains += 1
        else:
            drains = 0
            await _ready(loop.add_reader, loop.remove_reader, fileno)
        pgconn.consume_input()
        while not pgconn.is_busy():
            result = pgconn.get_result()
            if result is None:
                if len(results) != 1 or results[0].status not in _OK:
                    failed = next((r for r in results if r.status not in _OK), None)
                    raise ReadFailed(_message(failed) if failed else "not a single result")
                return results[0]
            results.append(result)


def _message(result: pq.abc.PGresult) -> str:
    primary = result.error_field(pq.DiagnosticField.MESSAGE_PRIMARY) or result.error_message
    return primary.decode("utf-8", "replace").strip()


async def _ready(add: Any, remove: Any, fileno: int) -> None:
    ready = asyncio.get_running_loop().create_future()
    add(fileno, _wake, ready)
    try:
        await ready
    finally:
        remove(fileno)


def _wake(ready: asyncio.Future) -> None:
    # the socket may be reported ready again before the waiting task has run and removed this
    if not ready.done():
        ready.set_result(None)


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
        configure=_in_utc,
        name="scans",
        open=False,
    )
    await pool.open()
    return pool


async def _in_utc(connection: AsyncConnection) -> None:
    """Sessions in UTC by that name: psycopg then gives timestamps datetime's own UTC, where for
    a server zone such as Debian's `Etc/UTC` it converts each through zoneinfo, half the CPU of
    loading a stored view's row (timeit, 32 rows: 1.36 -> 0.75 us a row). The instants are the
    same either way."""
    await connection.execute("SET TIME ZONE 'UTC'")
