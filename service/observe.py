"""Every request, observed once: its id (`X-Request-ID`, honoured or generated, echoed), one log
line (method, path, status, duration) and the Prometheus request metrics by route template.

A plain ASGI middleware, outermost, so answers made by other middleware (413 for a large body)
and unhandled errors (500) are counted too.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import time
import uuid
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service import logs, metrics

log = logging.getLogger("dbp.request")

HEADER: Final = b"x-request-id"
# A proxy's id is kept when it is short and plain (it ends up in logs and headers).
ACCEPTED_ID: Final = re.compile(r"[A-Za-z0-9._:+/=-]{1,128}")
UNMATCHED: Final = "(unmatched)"
# scope key: the id service.scans' front gave a request it then handed to the whole stack
SCOPE_ID: Final = "dbp.request_id"


def incoming_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == HEADER:
            text = value.decode("latin-1").strip()
            if ACCEPTED_ID.fullmatch(text):
                return text
            break
    return new_id()


# A new id per request: 32 hex digits, a random half per process and a counter. uuid4 reads 16
# bytes from os.urandom on every request, a system call: ~3% of the samples of a QR scan served
# from stored bytes (py-spy under wrk). Ids only need to be unique, not unpredictable. A forked
# worker draws its own random half (at the fork, not by asking os.getpid(), a system call, on
# every request).
_ids: tuple[str, itertools.count] | None = None


def _draw() -> None:
    global _ids
    _ids = (uuid.uuid4().hex[:16], itertools.count())


_draw()
os.register_at_fork(after_in_child=_draw)


def new_id() -> str:
    assert _ids is not None
    return f"{_ids[0]}{next(_ids[1]) & 0xFFFF_FFFF_FFFF_FFFF:016x}"


def route_template(scope: Scope) -> str:
    """The path template FastAPI matched (`/batteries/{battery_id}/passport`): bounded label
    values, whatever paths clients send."""
    route = scope.get("route")
    return getattr(route, "path", None) or UNMATCHED


class ObserveRequests:
    def __init__(self, app: ASGIApp, role: str) -> None:
        self.app = app
        self.role = role

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = scope.get(SCOPE_ID) or incoming_id(scope)
        token = logs.request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != HEADER]
                headers.append((HEADER, rid.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            record(scope, rid, status, time.perf_counter() - started, self.role)
            logs.request_id.reset(token)


def record(scope: Scope, rid: str, status: int, elapsed: float, role: str) -> None:
    """The request's metrics and its one log line (also service.scans' fast path for QR scans,
    which answers ahead of this middleware and must leave the same records)."""
    route = route_template(scope)
    method, path = scope["method"], scope["path"]
    metrics.observe_request(method, route, status, elapsed)
    if not log.isEnabledFor(logging.INFO):
        return  # the line's fields are not even gathered (a stored QR scan's ~1 us)
    duration_ms = round(elapsed * 1000, 2)
    lines = _direct()
    if lines is not None:
        lines.add((time.time(), log.name, rid, method, path, route, status, duration_ms, role))
        return
    fields = logs.request_fields(method, path, route, status, duration_ms, role)
    log.info("%s %s %d", method, path, status, extra={"request_id": rid, **fields})


def _direct() -> logs.RequestLines | None:
    """The handler that alone takes the request lines when it writes them as JSON (`dbp serve`
    with DBP_LOG_FORMAT=json: service.logs.logging_config): then it is handed the request's
    facts, no LogRecord. Any other set-up (the text format, a test's capture, added handlers or
    filters) gets the LogRecord."""
    handlers = log.handlers
    if len(handlers) != 1 or log.propagate or log.filters or log.disabled:
        return None
    handler = handlers[0]
    if (
        type(handler) is not logs.RequestLines
        or type(handler.formatter) is not logs.JsonFormatter
        or handler.level > logging.INFO
        or any(type(f) is not logs.RequestIdFilter for f in handler.filters)
    ):
        return None
    return handler
