"""infra.async_db: a wait to read is answered at once when the socket has data already (no trip
through the event loop), and only then; results read that way are whole and right."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Generator, Iterator

import pytest
from pg_testkit import create_database
from psycopg.waiting import Ready, Wait
from sqlalchemy.engine import make_url

from infra.async_db import DRAIN_AT_MOST, DrainingConnection, drained, open_pool


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
