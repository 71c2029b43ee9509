"""infra.async_db: a wait to read is answered at once when the socket has data already (no trip
through the event loop), and only then; results read that way are whole and right, by a cursor
and by `fetch_prepared` alike."""

from __future__ import annotations

import asyncio
import datetime
import socket
from collections.abc import Generator, Iterator

import pytest
from pg_testkit import create_database
from psycopg.waiting import Ready, Wait
from sqlalchemy.engine import make_url

from infra.async_db import (
    DRAIN_AT_MOST,
    DrainingConnection,
    ReadFailed,
    drained,
    fetch_prepared,
    open_pool,
)


@pytest.fixture
def sockets() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, peer = socket.socketpair()
    ours.setblocking(False)
    try:
        yield ours, peer
    finally:
        ours.close()
        peer.close()


def waits(*states: Wait) -> Generator[Wait, Ready, list[Ready]]:
    """A stand-in for one of psycopg's generators: yields each state, returns what it was sent."""
    sent = []
    for state in states:
        sent.append((yield state))
    return sent


def finish(gen: Generator, value: object = None) -> object:
    with pytest.raises(StopIteration) as done:
        gen.send(value)
    return done.value.value


def test_reads_waiting_in_the_socket_are_answered_without_yielding(sockets):
    ours, peer = sockets
    peer.send(b"rows")
    assert finish(drained(waits(Wait.R, Wait.R, Wait.R), ours.fileno())) == [Ready.R] * 3


def test_an_empty_socket_and_a_wait_to_write_are_yielded_to_the_caller(sockets):
    ours, peer = sockets
    gen = drained(waits(Wait.R, Wait.W, Wait.R), ours.fileno())
    assert next(gen) == Wait.R  # nothing to read yet: the caller waits
    assert gen.send(Ready.R) == Wait.W  # writes are the caller's (psycopg polls them itself)
    peer.send(b"rows")
    # the last read finds data: answered here
    assert finish(gen, Ready.W) == [Ready.R, Ready.W, Ready.R]


def test_a_long_stream_still_yields_to_the_loop_now_and_then(sockets):
    ours, peer = sockets
    peer.send(b"more than enough")
    states = 2 * DRAIN_AT_MOST + 2
    gen = drained(waits(*[Wait.R] * states), ours.fileno())
    assert next(gen) == Wait.R  # the first wait, then DRAIN_AT_MOST answered in a row
    assert gen.send(Ready.R) == Wait.R  # the caller's answer, then as many more
    assert finish(gen, Ready.R) == [Ready.R] * states


@pytest.mark.postgres
def test_a_result_larger_than_libpqs_buffer_comes_back_whole():
    url, drop = create_database()

    async def scenario() -> list[tuple[int, str]]:
        pool = await open_pool(make_url(url), 1)
        try:
            async with pool.connection() as connection:
                assert isinstance(connection, DrainingConnection)
                cursor = await connection.execute(
                    "SELECT i, repeat(chr(64 + i), 9000) FROM generate_series(1, 26) AS i"
                )
                return await cursor.fetchall()
        finally:
            await pool.close()

    try:
        rows = asyncio.run(scenario())
    finally:
        drop()
    assert rows == [(i, chr(64 + i) * 9000) for i in range(1, 27)]


# every kind of column the stored reads load: text, NULL, bigint, bool, timestamptz, bytea
ROWS_SQL = (
    "SELECT i, k, repeat(k, i::int), NULL::text, i * 4000000000, mod(i, 2) = 0, "
    "timestamptz '2026-12-07 01:02:03+01' + i * interval '1 day', "
    "decode(repeat('ff00', i::int * 3000), 'hex') "
    "FROM unnest(string_to_array($1::text, ','), string_to_array($2::text, ',')) "
    "WITH ORDINALITY AS t(k, j, i)"
)


def _with_pool(scenario):
    url, drop = create_database()

    async def run():
        pool = await open_pool(make_url(url), 1)
        try:
            return await scenario(pool)
        finally:
            await pool.close()

    try:
        return asyncio.run(run())
    finally:
        drop()


@pytest.mark.postgres
def test_fetch_prepared_gives_the_rows_a_binary_cursor_gives():
    params = (",".join("abcdefghij"), ",".join("0123456789"))

    async def scenario(pool):
        async with pool.connection() as connection:
            ours = await fetch_prepared(connection, ROWS_SQL.encode(), params)
            again = await fetch_prepared(connection, ROWS_SQL.encode(), params)
            cursor = await connection.execute(
                ROWS_SQL.replace("$1", "%s").replace("$2", "%s"), params, binary=True
            )
            theirs = await cursor.fetchall()
            cursor = await connection.execute(
                "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'dbp_%'"
            )
            (prepared,) = await cursor.fetchone()
            zone = connection.info.parameter_status("TimeZone")
        return ours, again, theirs, prepared, zone

    ours, again, theirs, prepared, zone = _with_pool(scenario)
    assert ours == theirs == again
    assert len(ours) == 10 and sum(len(row[7]) for row in ours) > 100_000  # past libpq's buffer
    assert prepared == 1  # prepared once on the connection, run twice
    # sessions in UTC by that name: timestamps come back in datetime's own UTC
    assert zone == "UTC"
    assert ours[0][6].tzinfo is datetime.UTC
    assert ours[0][6] == datetime.datetime(2026, 12, 8, 0, 2, 3, tzinfo=datetime.UTC)


@pytest.mark.postgres
def test_fetch_prepared_raises_the_servers_error_and_prepares_again_after_a_reset():
    params = ("a,b", "1,2")

    async def scenario(pool):
        async with pool.connection() as connection:
            with pytest.raises(ReadFailed, match="division by zero"):
                await fetch_prepared(connection, b"SELECT 1 / 0 WHERE $1::text <> $2::text", params)
        async with pool.connection() as connection:  # the pool gave back a usable connection
            first = await fetch_prepared(connection, ROWS_SQL.encode(), params)
            await connection.execute("DEALLOCATE ALL")  # the server forgets what was prepared
            with pytest.raises(ReadFailed, match="does not exist"):
                await fetch_prepared(connection, ROWS_SQL.encode(), params)
            return first, await fetch_prepared(connection, ROWS_SQL.encode(), params)

    first, after = _with_pool(scenario)
    assert [row[1] for row in first] == ["a", "b"]
    assert after == first
