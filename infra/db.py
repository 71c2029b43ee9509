"""Database pool rules for request handlers: one pooled connection per request, and a busy pool
answers quickly instead of hanging.

Why one: a request that holds a connection and waits for a second one deadlocks as soon as every
connection is held by such requests (64 concurrent page requests stopped the service: each held
its session while the page's anchor check opened another). `OneConnectionPerRequest` (an ASGI
middleware) marks each request in a context variable, which anyio copies into the worker thread
that runs a sync handler and its dependencies; `watch_pool` counts the connections checked out
under that mark. A second concurrent checkout is logged and recorded in `second_checkouts`, which
the test suite asserts empty after every test.

Why quickly: engines wait at most POOL_TIMEOUT_S for a connection; SQLAlchemy then raises
`sqlalchemy.exc.TimeoutError`, which the service answers with 503 and Retry-After.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from sqlalchemy import Engine, event
from sqlmodel import Session
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger("dbp.db")

POOL_TIMEOUT_S = 1.0


@dataclass
class _Request:
    what: str
    held: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


_current: ContextVar[_Request | None] = ContextVar("dbp_request_connections", default=None)
# "METHOD path: where the second connection was taken" for each second concurrent checkout (the
# latest 100: a running service logs them too and must not grow without bound).
second_checkouts: deque[str] = deque(maxlen=100)


class OneConnectionPerRequest:
    """ASGI middleware: marks each HTTP request so `watch_pool` can count its connections."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _current.set(_Request(f"{scope['method']} {scope.get('path', '')}"))
        try:
            await self.app(scope, receive, send)
        finally:
            _current.reset(token)


def watch_pool(engine: Engine) -> None:
    """Count the pooled connections each marked request holds at once."""
    event.listen(engine, "checkout", _checked_out)
    event.listen(engine, "checkin", _checked_in)


def _checked_out(_dbapi_connection, record, _proxy) -> None:
    request = _current.get()
    if request is None:
        return
    with request.lock:
        request.held += 1
        held = request.held
    record.info["dbp_request"] = request
    if held > 1:
        ours = [f for f in traceback.extract_stack()[:-1] if "site-packages" not in f.filename]
        where = "".join(traceback.format_list(ours[-10:]))
        second_checkouts.append(f"{request.what}: connection {held} taken at\n{where}")
        log.warning("%s holds %d pooled connections at once", request.what, held)


def _checked_in(_dbapi_connection, record) -> None:
    request = record.info.pop("dbp_request", None)
    if request is not None:
        with request.lock:
            request.held -= 1


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: committed when the block ends normally, rolled back otherwise."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def db_session(request: Request) -> Iterator[Session]:
    """FastAPI dependency: a session per request on the engine of the app's runtime (the
    composition root keeps it in `app.state.runtime`); handlers commit explicitly, anything
    uncommitted is rolled back."""
    with Session(request.app.state.runtime.engine, expire_on_commit=False) as session:
        yield session
