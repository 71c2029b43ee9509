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
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http import httptools_impl
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# Larger writes are not worth keeping: one more system call is cheap next to copying them.
FLUSH_AT = 64 * 1024
# uvicorn's --http for it, as `dbp serve` runs it (the benchmarks and real-process tests too)
UVICORN_HTTP = "service.http_protocol:WholeResponses"


# What uvicorn refuses in a header value (its HEADER_VALUE_RE): control characters but tab, and DEL.
FORBIDDEN_IN_VALUES = bytes([*range(0x00, 0x09), *range(0x0A, 0x20), 0x7F])


class HeaderValueCheck:
    """uvicorn's HEADER_VALUE_RE as far as its protocol uses it (`search(value)`, truthy when
    the value holds a forbidden byte), by `bytes.translate`: the regex engine steps through the
    character class byte by byte, 7.5 us for a 2.5 KB Link header, where deleting the forbidden
    bytes in C and comparing lengths takes 1.9 us. Same answer for every value (tested against
    the regex)."""

    pattern = httptools_impl.HEADER_VALUE_RE.pattern

    def search(self, value: bytes) -> bool:
        return len(value.translate(None, FORBIDDEN_IN_VALUES)) != len(value)


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


class WholeResponses(HttpToolsProtocol):
    """HttpToolsProtocol writing through a `TurnBuffer` (`--http service.http_protocol:
    WholeResponses` for uvicorn's command line; `dbp serve` uses it)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(TurnBuffer(transport, self.loop))  # type: ignore[arg-type]
