"""The line per request as `dbp serve` writes it (service.logs.RequestLines, service.observe):
made without a LogRecord when RequestLines alone writes JSON for it, the same line as the
LogRecord's, written once the event loop's turn ends."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import logging.config
import random
from datetime import UTC, datetime

import pytest

from service import logs, observe

SCOPE = {"method": "GET", "path": "/01/09520123456788/21/BN00000001", "headers": []}
NAMES = ("", "dbp.request", "uvicorn", "uvicorn.error", "uvicorn.access")


@pytest.fixture
def configured():
    """logging_config("json") applied with its streams on a StringIO; the previous set-up back
    afterwards."""
    saved = {}
    for name in NAMES:
        logger = logging.getLogger(name)
        saved[name] = (logger.handlers[:], logger.level, logger.propagate, logger.filters[:])
    logging.config.dictConfig(logs.logging_config("json", "info"))
    out = io.StringIO()
    handler = logging.getLogger("dbp.request").handlers[0]
    handler.setStream(out)
    logging.getLogger().handlers[0].setStream(out)
    try:
        yield handler, out
    finally:
        for name, (handlers, level, propagate, filters) in saved.items():
            logger = logging.getLogger(name)
            logger.handlers[:] = handlers
            logger.setLevel(level)
            logger.propagate = propagate
            logger.filters[:] = filters


def _alone(handler: logs.RequestLines) -> None:
    """pytest attaches its capture to every logger that does not propagate, for each phase of a
    test: taken off here, in the test's own phase."""
    logging.getLogger("dbp.request").handlers[:] = [handler]


def _lines(out: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_utc_millis_is_isoformat_to_the_millisecond():
    rng = random.Random(7)
    edges = (0.0, 0.0005, 0.0004999, 0.9994999, 0.9995, 0.9999994, 0.9999995, 0.9999999)
    times = [rng.uniform(1.6e9, 1.9e9) for _ in range(20000)]
    times += [1_765_084_304 + e for e in edges]
    for t in times:
        expected = datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds")
        assert logs.utc_millis(t) == expected.replace("+00:00", "Z"), t


def test_a_line_made_directly_equals_the_log_records(configured):
    handler, out = configured
    _alone(handler)
    assert observe._direct() is handler
    observe.record({**SCOPE}, "rid-direct", 200, 0.00123, "resolver")
    handler.addFilter(logging.Filter())  # any other filter: the LogRecord's way
    assert observe._direct() is None
    observe.record({**SCOPE}, "rid-record", 200, 0.00123, "resolver")
    direct, recorded = _lines(out)
    assert direct.pop("request_id") == "rid-direct" and recorded.pop("request_id") == "rid-record"
    assert direct.pop("time").endswith("Z") and recorded.pop("time").endswith("Z")
    assert direct == recorded == {
        "level": "info",
        "logger": "dbp.request",
        "message": "GET /01/09520123456788/21/BN00000001 200",
        "method": "GET",
        "path": "/01/09520123456788/21/BN00000001",
        "route": observe.UNMATCHED,
        "status": 200,
        "duration_ms": 1.23,
        "role": "resolver",
    }
    assert list(direct) == list(recorded)  # the same order of members


def test_lines_wait_for_the_end_of_the_loops_turn(configured):
    handler, out = configured
    _alone(handler)

    async def scans() -> tuple[int, int]:
        for n in range(5):
            observe.record({**SCOPE}, f"rid-{n}", 200, 0.001, "resolver")
        during = len(out.getvalue().splitlines())
        await asyncio.sleep(0)  # the flush was scheduled with call_soon: it has run now
        return during, len(out.getvalue().splitlines())

    during, after = asyncio.run(scans())
    assert (during, after) == (0, 5)
    assert [e["request_id"] for e in _lines(out)] == [f"rid-{n}" for n in range(5)]


def test_records_and_facts_keep_their_order_in_a_turn(configured):
    handler, out = configured
    _alone(handler)

    async def turn() -> None:
        observe.record({**SCOPE}, "rid-1", 200, 0.001, "resolver")
        logging.getLogger("dbp.request").warning("a line of its own")  # a LogRecord, formatted
        observe.record({**SCOPE}, "rid-2", 304, 0.001, "resolver")
        await asyncio.sleep(0)

    asyncio.run(turn())
    lines = _lines(out)
    assert [(e["level"], e.get("request_id"), e.get("status")) for e in lines] == [
        ("info", "rid-1", 200),
        ("warning", None, None),
        ("info", "rid-2", 304),
    ]
    assert lines[1]["message"] == "a line of its own"


def test_a_flush_before_the_turn_ends_writes_each_line_once(configured):
    handler, out = configured
    _alone(handler)

    async def scan() -> None:
        observe.record({**SCOPE}, "rid-once", 200, 0.001, "resolver")
        handler.flush()  # logging.shutdown's way, at exit
        await asyncio.sleep(0)

    asyncio.run(scan())
    assert [e["request_id"] for e in _lines(out)] == ["rid-once"]


def test_outside_a_loop_a_line_is_written_at_once(configured):
    handler, out = configured
    _alone(handler)
    observe.record({**SCOPE}, "rid-thread", 404, 0.001, "resolver")
    assert [(e["request_id"], e["status"]) for e in _lines(out)] == [("rid-thread", 404)]


def test_other_set_ups_get_log_records(configured, caplog):
    handler, _out = configured
    _alone(handler)
    handler.setFormatter(logs.TextFormatter())
    assert observe._direct() is None  # the text format
    handler.setFormatter(logs.JsonFormatter())
    logging.getLogger("dbp.request").propagate = True
    assert observe._direct() is None  # lines also go elsewhere (a test's capture)
    with caplog.at_level(logging.INFO, logger="dbp.request"):
        observe.record({**SCOPE}, "rid-captured", 200, 0.001, "resolver")
    assert [r.request_id for r in caplog.records if r.name == "dbp.request"] == ["rid-captured"]


def test_a_broken_stream_is_reported_not_raised(configured, capsys):
    handler, _out = configured
    _alone(handler)

    class Broken(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError("gone")

    handler.setStream(Broken())
    observe.record({**SCOPE}, "rid-lost", 200, 0.001, "resolver")  # no loop: written at once
    assert "BrokenPipeError" in capsys.readouterr().err
