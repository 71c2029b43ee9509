"""Structured logs: one JSON object per line, every line inside a request carrying its id.

`X-Request-ID` is honoured when a client or proxy sends a sane one and generated otherwise
(`service.observe`); the id lives in a context variable, so any logger used while the request
runs (a domain error, the anchor check) writes it as well.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Final

import orjson

request_id: ContextVar[str | None] = ContextVar("dbp_request_id", default=None)

# Attributes a log call may pass in `extra=` that become JSON members.
FIELDS: Final = ("method", "path", "route", "status", "duration_ms", "client", "role")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id.get()
        return True


# (a whole second, its text up to the milliseconds): lines come many a second
_second: tuple[int, str] = (0, "")


def utc_millis(created: float) -> str:
    """`created` (a POSIX time) as `2026-12-07T05:11:44.950Z`: what
    `datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")` gives, with Z, its
    rounding to the microsecond included, the text of the second made once a second (1.2 us a
    line otherwise, timeit)."""
    global _second
    whole = int(created)
    micros = round((created - whole) * 1e6)
    if micros >= 1_000_000:
        whole, micros = whole + 1, micros - 1_000_000
    second = _second
    if second[0] != whole:
        second = _second = (
            whole,
            datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S."),
        )
    return f"{second[1]}{micros // 1000:03d}Z"


def json_line(
    created: float,
    level: str,
    logger: str,
    message: str,
    request_id: str | None,
    fields: dict[str, Any],
    exception: str | None = None,
) -> str:
    """One log line as JsonFormatter writes it (`fields`: any of FIELDS, in that order)."""
    out: dict[str, Any] = {
        "time": utc_millis(created),
        "level": level,
        "logger": logger,
        "message": message,
    }
    if request_id is not None:
        out["request_id"] = request_id
    out.update(fields)
    if exception is not None:
        out["exception"] = exception
    return orjson.dumps(out, default=str).decode()


def request_line(
    created: float,
    logger: str,
    request_id: str,
    method: str,
    path: str,
    route: str,
    status: int,
    duration_ms: float,
    role: str,
) -> str:
    """The line of one request (service.observe.record) as JsonFormatter writes its LogRecord."""
    fields = request_fields(method, path, route, status, duration_ms, role)
    return json_line(created, "info", logger, f"{method} {path} {status}", request_id, fields)


def request_fields(
    method: str, path: str, route: str, status: int, duration_ms: float, role: str
) -> dict[str, Any]:
    """A request line's members after the request id, in FIELDS' order."""
    return {"method": method, "path": path, "route": route, "status": status,
            "duration_ms": duration_ms, "role": role}  # fmt: skip


# what service.observe hands RequestLines.add for a request: request_line's arguments
RequestFacts = tuple[float, str, str, str, str, str, int, float, str]


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = {}
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                fields[name] = value
        return json_line(
            record.created,
            record.levelname.lower(),
            record.name,
            record.getMessage(),
            getattr(record, "request_id", None),
            fields,
            self.formatException(record.exc_info) if record.exc_info else None,
        )


class RequestLines(logging.StreamHandler):
    """The handler of the one line per request (`dbp.request`, service.observe) that `dbp serve`
    configures: its lines are written together once per turn of the event loop, not one write
    and flush each. `add` also takes a request's facts (service.observe does so when this handler
    alone writes JSON for that logger): no LogRecord is made, and the line is made at the flush,
    with the others of its turn. A LogRecord, its filter and formatting and a write per line took
    ~9.6 us of CPU a request (timeit, JSON to a file) where a stored QR scan takes ~40 us in
    all without a line; under wrk (linkset, 64 connections) a scan took 48-50 us with the line
    made in `add`, 44-45 us made at the flush, 40 us with no line. A line waits at most until
    the loop's current turn ends; outside an event loop it is written at once."""

    def __init__(self, stream: Any = None) -> None:
        super().__init__(stream)
        self._pending: list[str | RequestFacts] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.add(self.format(record))
        except Exception:  # noqa: BLE001 - logging's rule: a failed line never fails the caller
            self.handleError(record)

    def add(self, line: str | RequestFacts) -> None:
        with self.lock:
            self._pending.append(line)
            first = len(self._pending) == 1
        if first:
            try:
                asyncio.get_running_loop().call_soon(self.flush)
            except RuntimeError:  # not in an event loop (a worker thread, a script)
                self.flush()

    def flush(self) -> None:
        with self.lock:
            lines, self._pending = self._pending, []
            if not lines or self.stream is None:
                return
            try:
                text = [line if type(line) is str else request_line(*line) for line in lines]
                self.stream.write(self.terminator.join(text) + self.terminator)
                super().flush()
            except Exception:  # noqa: BLE001 - as `emit`: said on stderr, never raised
                self.handleError(logging.makeLogRecord({"msg": f"{len(lines)} request lines"}))


class TextFormatter(logging.Formatter):
    """The human format (`make run`): the request line reads like an access log."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        rid = getattr(record, "request_id", None)
        return f"{line} [{rid}]" if rid else line


def resolve_format(configured: str) -> str:
    if configured != "auto":
        return configured
    return "text" if sys.stderr.isatty() else "json"


def logging_config(log_format: str, level: str = "info") -> dict[str, Any]:
    """A `logging.config.dictConfig` for the process (uvicorn's `log_config` takes it): every
    logger, uvicorn's included, to stderr in the chosen format; the request lines through
    `RequestLines`, every other line through one plain handler."""
    formatter = "json" if resolve_format(log_format) == "json" else "text"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {
            "json": {"()": JsonFormatter},
            "text": {"()": TextFormatter},
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": formatter,
                "filters": ["request_id"],
            },
            "requests": {
                "()": RequestLines,
                "stream": "ext://sys.stderr",
                "formatter": formatter,
                "filters": ["request_id"],
            },
        },
        "root": {"handlers": ["stderr"], "level": level.upper()},
        # uvicorn's own loggers propagate to the root; its access log is replaced by ours
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": False, "level": "WARNING"},
            # the line per request (service.observe), to the same stream in batches
            "dbp.request": {"handlers": ["requests"], "propagate": False},
        },
    }
