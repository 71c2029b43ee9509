"""service.http_protocol: a response's head and body reach the socket in one write, and HTTP/1.1
stays what uvicorn makes of it (lengths, HEAD, streaming, keep-alive, close, large bodies)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn
from server_testkit import free_port, wait_for_health

from service.http_protocol import FLUSH_AT, TurnBuffer, WholeResponses


class Recording:
    """The transport under a TurnBuffer: what reached it, call by call (a stand-in for the
    socket, in a unit test of the buffer)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[bytes]]] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.calls.append(("write", [bytes(data)]))

    def writelines(self, chunks: list[bytes]) -> None:
        self.calls.append(("writelines", [bytes(c) for c in chunks]))

    def close(self) -> None:
        self.calls.append(("close", []))
        self.closing = True

    def abort(self) -> None:
        self.calls.append(("abort", []))
        self.closing = True

    def is_closing(self) -> bool:
        return self.closing

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default=None):
        return ("127.0.0.1", 4711) if name == "peername" else default


async def _turn() -> None:
    await asyncio.sleep(0)  # one pass of the loop: the buffer's flush was scheduled before it


def test_head_and_body_written_in_one_turn_go_out_in_one_call():
    async def scenario():
        real = Recording()
        buffer = TurnBuffer(real, asyncio.get_running_loop())
        buffer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n")
        buffer.write(b"hello")
        assert real.calls == []  # nothing is sent within the turn
        assert buffer.get_write_buffer_size() == 43
        await _turn()
        assert real.calls == [
            ("writelines", [b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n", b"hello"])
        ]
        buffer.write(b"next")  # a later turn: a call of its own
        await _turn()
        assert real.calls[1:] == [("write", [b"next"])]
        buffer.write(b"")  # nothing to send: no call, no flush scheduled
        await _turn()
        assert len(real.calls) == 2

    asyncio.run(scenario())


def test_a_large_write_goes_out_at_once_with_what_was_kept_before_it():
    async def scenario():
        real = Recording()
        buffer = TurnBuffer(real, asyncio.get_running_loop())
        buffer.write(b"head")
        buffer.write(b"x" * FLUSH_AT)
        assert real.calls == [("writelines", [b"head", b"x" * FLUSH_AT])]
        await _turn()  # the flush scheduled for the turn finds nothing left
        assert len(real.calls) == 1

    asyncio.run(scenario())


def test_close_sends_what_was_kept_first_and_abort_drops_it():
    async def scenario():
        real = Recording()
        buffer = TurnBuffer(real, asyncio.get_running_loop())
        buffer.write(b"last words")
        buffer.close()
        assert real.calls == [("write", [b"last words"]), ("close", [])]

        real = Recording()
        buffer = TurnBuffer(real, asyncio.get_running_loop())
        buffer.write(b"never sent")
        buffer.abort()
        await _turn()
        assert real.calls == [("abort", [])]
        assert buffer.get_write_buffer_size() == 0

    asyncio.run(scenario())


def test_nothing_is_written_to_a_transport_already_closing():
    async def scenario():
        real = Recording()
        buffer = TurnBuffer(real, asyncio.get_running_loop())
        buffer.write(b"too late")
        real.closing = True  # the peer went away within the turn
        await _turn()
        assert real.calls == []

    asyncio.run(scenario())


def test_everything_else_is_the_real_transports():
    loop = asyncio.new_event_loop()
    try:
        buffer = TurnBuffer(Recording(), loop)
        assert buffer.get_extra_info("peername") == ("127.0.0.1", 4711)
        assert buffer.is_closing() is False
    finally:
        loop.close()


# --- uvicorn running WholeResponses, over real sockets ---

BIG = bytes(range(256)) * 4096  # 1 MiB
SMALL = b"a small answer"


async def _app(scope, receive, send):
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path in ("/health", "/small"):
        headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(SMALL)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": SMALL})
    elif path == "/big":
        headers = [(b"content-length", str(len(BIG)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": BIG})
    elif path == "/stream":  # chunked, with the loop turning between chunks
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for part in (b"one,", b"two,", b"three"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
            await asyncio.sleep(0)
        await send({"type": "http.response.body", "body": b""})
    elif path == "/close":
        headers = [(b"connection", b"close"), (b"content-length", b"3")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"bye"})
    else:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@contextmanager
def _serving() -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(
        _app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", http=WholeResponses
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(url, _Alive(thread))
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=15)


class _Alive:
    """What wait_for_health asks of a process, for a server thread."""

    def __init__(self, thread: threading.Thread) -> None:
        self.thread, self.returncode = thread, None

    def poll(self):
        return None if self.thread.is_alive() else 1


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    with _serving() as url:
        yield url


def test_responses_over_one_kept_alive_connection(served):
    with httpx.Client(base_url=served, timeout=30) as client:
        for _ in range(20):
            answer = client.get("/small")
            assert answer.status_code == 200
            assert answer.content == SMALL
            assert answer.headers["content-length"] == str(len(SMALL))
        head = client.head("/small")
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-length"] == str(len(SMALL))
        assert client.get("/empty").status_code == 204
        streamed = client.get("/stream")
        assert streamed.headers["transfer-encoding"] == "chunked"
        assert streamed.content == b"one,two,three"
        assert client.get("/big").content == BIG
        assert client.get("/small").content == SMALL  # the connection is still good after all


def test_raw_keep_alive_then_connection_close(served):
    port = int(served.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
        raw.sendall(b"GET /small HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        while not received.endswith(SMALL):
            chunk = raw.recv(65536)
            assert chunk, "the server closed a kept-alive connection"
            received += chunk
        head, _, body = received.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK") and body == SMALL
        raw.sendall(b"GET /close HTTP/1.1\r\nHost: x\r\n\r\n")
        rest = b""
        while chunk := raw.recv(65536):  # ends when the server closes
            rest += chunk
        assert rest.startswith(b"HTTP/1.1 200 OK") and rest.endswith(b"\r\n\r\nbye")


def test_the_header_value_check_answers_as_uvicorns_regex():
    import random
    import re

    from service.http_protocol import HeaderValueCheck

    regex = re.compile(HeaderValueCheck.pattern)
    check = HeaderValueCheck()
    values = [b"", b"plain", b"tab\there", b'<https://x.example/a>; rel="linkset"']
    values += [b"a" + bytes([i]) + b"z" for i in range(256)]
    rng = random.Random(4711)
    values += [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64))) for _ in range(2000)]
    values += [bytes(rng.choice(b"\t !~\x80\xff") for _ in range(3000))]  # long and clean
    for value in values:
        assert bool(check.search(value)) == bool(regex.search(value)), value
    assert sum(bool(check.search(v)) for v in values) > 100  # both answers were exercised
    # and uvicorn's protocol uses it: a forbidden byte in a value is still refused
    from uvicorn.protocols.http import httptools_impl

    assert isinstance(httptools_impl.HEADER_VALUE_RE, HeaderValueCheck)


class _Flow:
    write_paused = False


def _cycle(cls, *, method: str = "GET", keep_alive: bool = True):
    from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

    assert issubclass(cls, RequestResponseCycle)
    return cls(
        scope={"method": method, "headers": [], "http_version": "1.1"},
        transport=Recording(),
        flow=_Flow(),
        logger=None,
        access_logger=None,
        access_log=False,
        default_headers=[(b"date", b"Sun, 06 Dec 2026 22:00:00 GMT"), (b"server", b"uvicorn")],
        message_event=asyncio.Event(),
        expect_100_continue=False,
        keep_alive=keep_alive,
        on_response=lambda: None,
    )


HEADS = [
    [(b"content-length", b"5"), (b"content-type", b"text/plain")],
    [(b"link", b'<https://x.example/a>; rel="linkset"\t, <b>'), (b"content-length", b"5")],
    [(b"content-length", b"5"), (b"content-length", b"7")],  # the first one counts
    [(b"Content-Length", b"5")],  # not lower case: uvicorn's loop lowers it
    [(b"Content-Type", b"text/plain"), (b"content-length", b"5")],
    [(b"content-length", b" 5")],  # not plain digits: uvicorn's int() decides
    [(b"content-length", b"x")],  # uvicorn raises
    [(b"content-length", b"5"), (b"bad name", b"v")],  # uvicorn raises
    [(b"content-length", b"5"), (b"x-injected", b"a\r\nset-cookie: b")],  # uvicorn raises
    [(b"content-length", b"5"), (b"connection", b"close")],
    [(b"transfer-encoding", b"chunked")],
    [(b"content-type", b"text/plain")],  # no length: chunked
    [],
    [(b"content-length", b"5"), (b"x-three", b"a", b"b")],  # not a pair: uvicorn raises
    [(b"content-length", b"5"), [b"x-list", b"a"]],  # a list is a pair too
]


@pytest.mark.parametrize("headers", HEADS)
@pytest.mark.parametrize(
    "status, method, keep_alive",
    [
        (200, "GET", True),
        (304, "GET", True),
        (200, "HEAD", True),
        (200, "GET", False),
        (999, "GET", True),  # no status line: uvicorn raises after starting the response
    ],
)
def test_the_head_is_what_uvicorns_own_cycle_writes(headers, status, method, keep_alive):
    from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

    from service.http_protocol import WholeHeadCycle

    async def outcome(cls) -> tuple:
        cycle = _cycle(cls, method=method, keep_alive=keep_alive)
        start = {"type": "http.response.start", "status": status, "headers": list(headers)}
        try:
            await cycle.send(start)
        except Exception as exc:  # noqa: BLE001 - the error itself is compared
            return ("raised", type(exc), str(exc), cycle.response_started)
        state = (
            cycle.response_started,
            cycle.expected_content_length,
            cycle.chunked_encoding,
            cycle.keep_alive,
        )
        try:
            await cycle.send({"type": "http.response.body", "body": b"hello"})
        except Exception as exc:  # noqa: BLE001
            return (cycle.transport.calls, state, "body raised", type(exc), str(exc))
        return (cycle.transport.calls, state, cycle.response_complete)

    async def both() -> tuple:
        return await outcome(RequestResponseCycle), await outcome(WholeHeadCycle)

    uvicorns, ours = asyncio.run(both())
    assert ours == uvicorns


def test_the_fast_head_takes_the_plain_answers(monkeypatch):
    """The comparison above holds because the fast head ran for the plain cases, not because
    every case fell back to uvicorn's loop."""
    from service import http_protocol

    made: list[object] = []
    real = http_protocol.head
    monkeypatch.setattr(http_protocol, "head", lambda *a: made.append(real(*a)) or made[-1])

    async def send(headers) -> None:
        cycle = _cycle(http_protocol.WholeHeadCycle)
        await cycle.send({"type": "http.response.start", "status": 200, "headers": headers})

    asyncio.run(send(HEADS[0]))
    asyncio.run(send(HEADS[3]))
    assert made[0] is not None and made[0][1] == 5
    assert made[1] is None  # upper case: uvicorn's loop


def test_the_protocol_runs_each_request_on_the_fast_cycle(served):
    from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

    from service.http_protocol import WholeHeadCycle

    seen: list[type] = []
    real = WholeHeadCycle.send

    async def spy(self, message):
        seen.append(type(self))
        await real(self, message)

    original = WholeHeadCycle.send
    WholeHeadCycle.send = spy  # type: ignore[method-assign]
    try:
        assert httpx.get(served + "/small", timeout=30).content == SMALL
    finally:
        WholeHeadCycle.send = original  # type: ignore[method-assign]
    assert seen and all(t is WholeHeadCycle for t in seen)
    assert RequestResponseCycle.send is not spy


def _state(cycle) -> tuple:
    return (
        cycle.response_started,
        cycle.response_complete,
        cycle.expected_content_length,
        cycle.chunked_encoding,
        cycle.keep_alive,
        cycle.message_event.is_set(),
    )


@pytest.mark.parametrize("headers", HEADS[:2])
@pytest.mark.parametrize("body", [b"hello", b""])
def test_a_whole_response_is_what_uvicorns_two_sends_write(headers, body):
    from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

    from service.http_protocol import WholeHeadCycle, header_lines

    headers = [(n, str(len(body)).encode() if n == b"content-length" else v) for n, v in headers]
    finished: list[str] = []

    async def both() -> tuple:
        theirs = _cycle(RequestResponseCycle)
        theirs.on_response = lambda: finished.append("uvicorn")
        await theirs.send({"type": "http.response.start", "status": 200, "headers": headers})
        await theirs.send({"type": "http.response.body", "body": body})
        ours = _cycle(WholeHeadCycle)
        ours.on_response = lambda: finished.append("ours")
        lines = header_lines(headers)
        assert lines is not None
        assert ours.respond(200, lines, body) is True
        return (theirs.transport.calls, _state(theirs)), (ours.transport.calls, _state(ours))

    uvicorns, ours = asyncio.run(both())
    assert ours == uvicorns
    assert finished == ["uvicorn", "ours"]  # the protocol hears of the end either way


@pytest.mark.parametrize(
    "change",
    [
        {"method": "HEAD"},
        {"keep_alive": False},
        {"status": 999},
        {"started": True},
        {"disconnected": True},
        {"paused": True},
        {"access_log": True},
        {"defaults": [(b"Server", b"uvicorn")]},  # upper case: uvicorn's loop lowers it
        {"defaults": [(b"content-length", b"0")]},  # uvicorn would take it as the length
        {"defaults": [(b"x-bad", b"a\nb")]},
    ],
)
def test_a_whole_response_is_declined_when_the_cycle_is_not_plain(change):
    from service.http_protocol import WholeHeadCycle

    async def attempt() -> tuple:
        cycle = _cycle(
            WholeHeadCycle,
            method=change.get("method", "GET"),
            keep_alive=change.get("keep_alive", True),
        )
        cycle.response_started = change.get("started", False)
        cycle.disconnected = change.get("disconnected", False)
        cycle.access_log = change.get("access_log", False)
        cycle.flow = type("Flow", (), {"write_paused": change.get("paused", False)})()
        cycle.default_headers = change.get("defaults", cycle.default_headers)
        before = _state(cycle)
        lines = b"content-length: 5\r\n"
        done = cycle.respond(change.get("status", 200), lines, b"hello")
        return done, cycle.transport.calls, before == _state(cycle)

    assert asyncio.run(attempt()) == (False, [], True)


def test_header_lines_check_values_and_default_lines_follow_the_servers_list():
    from service.http_protocol import default_lines, header_lines

    assert header_lines([(b"etag", b'"a"'), (b"link", b"<x>;\trel=a")]) == (
        b'etag: "a"\r\nlink: <x>;\trel=a\r\n'
    )
    assert header_lines([(b"etag", b'"a"\r\nset-cookie: b')]) is None
    assert header_lines([(b"x", b"\x7f")]) is None
    assert header_lines([]) is None

    first = [(b"date", b"Mon, 07 Dec 2026 01:00:00 GMT"), (b"server", b"uvicorn")]
    assert default_lines(first) == b"date: Mon, 07 Dec 2026 01:00:00 GMT\r\nserver: uvicorn\r\n"
    # uvicorn makes a new list each second: the new date is taken, not the one kept
    second = [(b"date", b"Mon, 07 Dec 2026 01:00:01 GMT"), (b"server", b"uvicorn")]
    assert default_lines(second) == b"date: Mon, 07 Dec 2026 01:00:01 GMT\r\nserver: uvicorn\r\n"
    assert default_lines([]) == b""


@pytest.mark.parametrize("policy, written", [("default-src 'none'", True), ("a\nb", False)])
def test_the_scan_front_writes_whole_only_with_security_headers_uvicorn_takes(policy, written):
    """A policy uvicorn would refuse is not dropped from a whole write: the front declines it
    and the messages go (where uvicorn refuses it)."""
    from infra.headers import SecurityHeaders
    from resolver.api import StoredResponse
    from service.http_protocol import WholeHeadCycle
    from service.scans import ScanFront

    front = ScanFront("all", SecurityHeaders(None, html_policy=policy, https_public_url=False))
    answer = StoredResponse(200, b"<p>", b"content-length: 3\r\n", html=True)

    async def attempt() -> tuple:
        cycle = _cycle(WholeHeadCycle)
        done = front._respond(cycle.send, answer, False, (b"x-request-id", b"r1"))
        return done, b"".join(b"".join(chunks) for _, chunks in cycle.transport.calls)

    done, wire = asyncio.run(attempt())
    assert done is written
    if written:
        assert wire.startswith(b"HTTP/1.1 200 OK\r\n")
        assert b"\r\ncontent-security-policy: default-src 'none'\r\n" in wire
        assert wire.endswith(b"\r\nx-request-id: r1\r\n\r\n<p>")
    else:
        assert wire == b""
