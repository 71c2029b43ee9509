"""uvicorn's httptools HTTP/1.1 protocol with each response sent in one write (issue 16).

uvicorn writes a response's status line and headers to the socket as soon as the app sends
`http.response.start`, and the body with the next message: two send(2) calls per response, each
a trip through the loopback TCP stack that wakes the client. Profiled under wrk (py-spy, 64
connections, stored linkset scans), the write of the head alone was ~14% of the process's CPU.
`WholeResponses` gives the protocol a transport that keeps what is written during one turn of
the event loop and hands it to the socket at the end of that turn in one `writelines` (one
writev(2) on uvloop). An app that sends head and body back to back, as every Starlette
Response does, then costs one system call; one that streams still has each chunk sent within
the turn it was written in, so nothing is held across an await that waits for anything.

Closing flushes first, aborting drops what was kept (as the socket would), and a write that
would keep more than `FLUSH_AT` bytes goes out at once. Everything else (flow control, peer
address, upgrade) is the real transport's.

Importing this module also replaces the regex uvicorn's httptools protocol checks every header
value with (`HeaderValueCheck`): in the same profile, matching a linkset scan's 2.5 KB Link header
against it was ~8% of the CPU.

Each request's cycle is a `WholeHeadCycle`: uvicorn's, whose response head is checked and
written in a few C calls over all headers at once instead of a loop of Python steps per header
(`head`). The same bytes, the same state and the same errors as uvicorn's (a head it cannot take
as plainly goes to uvicorn's own code). A caller that has a whole GET answer at hand (service.scans'
stored QR scans) can skip the two ASGI messages: `WholeHeadCycle.respond` writes head and body
as their sends would, from header lines the caller vouches for (`header_lines`).
"""

from __future__ import annotations

import asyncio
from operator import itemgetter
from typing import Any

from uvicorn.protocols.http import httptools_impl
from uvicorn.protocols.http.httptools_impl import (
    HEADER_RE,
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)

from infra.headers import plain_values

# Larger writes are not worth keeping: one more system call is cheap next to copying them.
FLUSH_AT = 64 * 1024
# uvicorn's --http for it, as `dbp serve` runs it (the benchmarks and real-process tests too)
UVICORN_HTTP = "service.http_protocol:WholeResponses"


class HeaderValueCheck:
    """uvicorn's HEADER_VALUE_RE as far as its protocol uses it (`search(value)`, truthy when
    the value holds a forbidden byte), by `bytes.translate`: the regex engine steps through the
    character class byte by byte, 7.5 us for a 2.5 KB Link header, where deleting the forbidden
    bytes in C and comparing lengths takes 1.9 us. Same answer for every value (tested against
    the regex)."""

    pattern = httptools_impl.HEADER_VALUE_RE.pattern

    def search(self, value: bytes) -> bool:
        return not plain_values((value,))


httptools_impl.HEADER_VALUE_RE = HeaderValueCheck()  # type: ignore[assignment]


class TurnBuffer:
    """A transport that sends what is written to it once per event loop turn."""

    __slots__ = ("_transport", "_loop", "_kept", "_size")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._kept: list[bytes] = []
        self._size = 0

    def write(self, data: bytes) -> None:
        if not data:
            return
        if not self._kept:
            self._loop.call_soon(self.flush)
        self._kept.append(data)
        self._size += len(data)
        if self._size >= FLUSH_AT:
            self.flush()

    def writelines(self, chunks: Any) -> None:
        for data in chunks:
            self.write(data)

    def flush(self) -> None:
        """Hand what was kept to the socket (a no-op when nothing is kept or it is closed)."""
        kept, self._kept, self._size = self._kept, [], 0
        if not kept or self._transport.is_closing():
            return
        if len(kept) == 1:
            self._transport.write(kept[0])
        else:
            self._transport.writelines(kept)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def abort(self) -> None:
        self._kept, self._size = [], 0
        self._transport.abort()

    def get_write_buffer_size(self) -> int:
        return self._size + self._transport.get_write_buffer_size()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


# Header names uvicorn's head loop acts on (length, chunking, keep-alive): a head with
# transfer-encoding or connection, or without content-length, goes to uvicorn's own code.
_ACTED_ON = frozenset({b"transfer-encoding", b"connection"})
_LENGTH = b"content-length"
_NAME, _VALUE = itemgetter(0), itemgetter(1)


def head(status: int, headers: list[tuple[bytes, bytes]]) -> tuple[bytes, int] | None:
    """The response head uvicorn's RequestResponseCycle would write for `headers` (the server's
    defaults first) and the content length they declare; None when uvicorn's own loop must make
    it: a header that is not a (name, value) pair, a name or value it refuses (uvicorn raises),
    a name not in lower case, a transfer-encoding or connection header, no content-length of
    plain digits, or a status uvicorn has no status line for.

    One check over all names joined and one over all values joined ('\t', allowed in values,
    between them) find what the per-header checks would, and the lines are joined by C calls
    too: profiled under wrk (64 connections, stored linkset scans with 15 headers), uvicorn's
    loop of regex searches, lower-casing, comparisons and formatting per header was ~10 us of a
    scan's ~110 us of CPU; this is ~4 us (timeit)."""
    if status not in STATUS_LINE:  # uvicorn fails on it after marking the response started
        return None
    names = _plain_names(headers)
    if names is None:
        return None
    try:
        length = headers[names.index(_LENGTH)][1]  # the first, as uvicorn's loop takes it
    except ValueError:
        return None
    if not length.isdigit():  # uvicorn's int() decides what else it takes
        return None
    if not _plain_values(headers):
        return None
    lines = b"\r\n".join(map(b": ".join, headers))
    return STATUS_LINE[status] + lines + b"\r\n\r\n", int(length)


def _plain_names(headers: list[tuple[bytes, bytes]]) -> list[bytes] | None:
    """The names of `headers` when each is a (name, value) pair whose name uvicorn's loop would
    write as it is and not act on; None otherwise."""
    try:
        dict(headers)  # pairs, as uvicorn's loop unpacks them (else it raises)
    except (TypeError, ValueError):
        return None
    names = list(map(_NAME, headers))
    joined = b"".join(names)
    if HEADER_RE.search(joined) or joined.lower() != joined or not _ACTED_ON.isdisjoint(names):
        return None
    return names


def _plain_values(headers: list[tuple[bytes, bytes]]) -> bool:
    return plain_values(map(_VALUE, headers))


def header_lines(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    """`headers` as header lines for `WholeHeadCycle.respond`, each ending in CRLF, for a caller
    that vouches for their names (lower-case token constants of its own): the values are
    checked as `head` checks them; None when uvicorn would refuse one."""
    if not headers or not _plain_values(headers):
        return None
    return b"\r\n".join(map(b": ".join, headers)) + b"\r\n"


# the server's default headers (date, server) as header lines, for the list they were made of:
# uvicorn replaces the list once a second (a new date), so the list itself is the key
_defaults: tuple[list[tuple[bytes, bytes]], bytes | None] = ([], b"")


def default_lines(defaults: list[tuple[bytes, bytes]]) -> bytes | None:
    """`defaults` (uvicorn's default headers) as header lines, each ending in CRLF; None when
    uvicorn's own loop must write them (see `head`; a content-length among them, too)."""
    global _defaults
    if defaults is not _defaults[0]:
        names = _plain_names(defaults)
        plain = names is not None and _LENGTH not in names
        _defaults = (defaults, (header_lines(defaults) if defaults else b"") if plain else None)
    return _defaults[1]


class WholeHeadCycle(RequestResponseCycle):
    """uvicorn's request/response cycle, writing a plain response head by `head`, or a whole
    response at once by `respond`."""

    def respond(self, status: int, lines: bytes, body: bytes) -> bool:
        """Write a whole GET response in one go, head and body: what `send` of its start and
        then of its whole body would write, without the two messages, the checks of every name
        and value, and uvicorn's bookkeeping per message. False, with nothing written, when the
        cycle is not plain (the caller then sends the messages as usual).

        `lines` are the response's header lines, each ending in CRLF, and the caller vouches
        for them: lower-case token names, values uvicorn takes, a content-length of exactly
        len(body), no transfer-encoding or connection header."""
        if (
            self.response_started
            or self.flow.write_paused
            or self.disconnected
            or self.access_log
            or not self.keep_alive
            or self.scope["method"] != "GET"
            or status not in STATUS_LINE
        ):
            return False
        defaults = default_lines(self.default_headers)
        if defaults is None:
            return False
        # what `send` sets for a start with a content-length, and then for the whole body
        self.response_started = True
        self.waiting_for_100_continue = False
        self.chunked_encoding = False
        self.expected_content_length = 0
        self.transport.write(b"".join((STATUS_LINE[status], defaults, lines, b"\r\n")))
        self.transport.write(body)
        self.response_complete = True
        self.message_event.set()
        self.on_response()
        return True

    async def send(self, message: Any) -> None:
        if (
            self.response_started
            or message["type"] != "http.response.start"
            or self.flow.write_paused
            or self.disconnected
            or self.access_log
            or not self.keep_alive
        ):
            await super().send(message)
            return
        made = head(message["status"], self.default_headers + list(message.get("headers", ())))
        if made is None:
            await super().send(message)
            return
        # what uvicorn's send sets when its loop meets content-length (chunked_encoding is None
        # before the head: it is set nowhere else)
        self.response_started = True
        self.waiting_for_100_continue = False
        self.expected_content_length = made[1]
        self.chunked_encoding = False
        self.transport.write(made[0])


class WholeResponses(HttpToolsProtocol):
    """HttpToolsProtocol writing through a `TurnBuffer` (`--http service.http_protocol:
    WholeResponses` for uvicorn's command line; `dbp serve` uses it), each request's cycle a
    `WholeHeadCycle`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(TurnBuffer(transport, self.loop))  # type: ignore[arg-type]

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        # uvicorn made the cycle by its module's name for the class; its task has not run yet
        # (it looks up `send` when it does), so the subclass takes over the whole cycle
        if type(self.cycle) is RequestResponseCycle:
            self.cycle.__class__ = WholeHeadCycle
