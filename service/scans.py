"""QR scans ahead of the router (issue 16): GET and HEAD of an item URI answered from the
battery's stored bytes without FastAPI's routing and dependency machinery.

Profiled under wrk (py-spy, and yappi over a loop of scans through the ASGI app), a linkset scan
served from its stored view spent more CPU in FastAPI than in the scan itself: matching the path
against every included router in turn (the item route is the 14th), solving the route's
dependencies, and the threadpool hops of the endpoint. This middleware sits inside the service's
own middleware (request ids, logs, metrics, security headers, the one-connection guard, the body
limit all still apply) and hands the scan to `resolver.api.stored_scan`, the very code the
route runs first, in one worker thread. Whatever that does not answer (a battery whose answers
must be built, a typed link, an error of any kind) goes on to the router unchanged, which
answers as it always did; only GET and HEAD of `/01/...` come here, and of the application's
routes only `resolve_item` takes those.

On PostgreSQL (DBP_RESOLVER_ASYNC_SCANS, the default) the read runs in the event loop instead:
`api.stored_scan_async` on the app's own async psycopg pool (`scan_pool`, opened with the app
by service.app), no thread hop and no SQLAlchemy. SQLite keeps the worker thread.

`ScanFront` answers those loop reads ahead of every middleware (service.app calls it first).
Profiled under wrk (py-spy, 64 connections, linkset, random batteries), the layers a stored scan
passed through before and after its read (Starlette's error and body-limit middleware, request
ids, security headers, the connection guard, the body limit, each with its own wrapped `send`)
took about a fifth of its CPU. The front does for this one route what they would do, with the
same code where it matters (`observe.record`, `SecurityHeaders.added`): the same headers, the
same request id rules, the same metrics and log line. What it does not take on (a request with
a body, a battery whose answers must be built, an error, a busy pool) goes through the whole
stack as before, marked so that `ItemScans` does not read a second time."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from anyio import CapacityLimiter, to_thread
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from infra.async_db import PoolTimeout as AsyncPoolTimeout
from infra.headers import SecurityHeaders
from resolver import api
from service import logs, observe
from service.http_protocol import WholeHeadCycle, header_lines
from service.problems import pool_busy

PREFIX = "/01/"
# scope key: the front read this scan and declined it (None), or its pool was busy (the error)
TRIED = "dbp.scan_front"
_BODY_HEADERS = frozenset({b"content-length", b"transfer-encoding"})


def _item_route() -> Any:
    return next(
        r
        for r in api.router.routes
        if getattr(r, "endpoint", None) is api.resolve_item and "GET" in getattr(r, "methods", ())
    )


class ItemScans:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # what the router would record: the route template is the metrics' label
        self.route = _item_route()
        # Scans get threads of their own, fewer than anyio's 40 (DBP_RESOLVER_SCAN_THREADS): wrk,
        # 64 connections, linkset, one worker on PostgreSQL, alternated in one run: 638-889/s and
        # 0.84-1.14 ms of CPU per scan on the shared 40; 932-1,161/s and 0.70-0.88 ms with 6;
        # 723-947/s with 8; 912-1,062/s with 12. Under load, 40 threads mostly pass the GIL and the
        # pool around; a scan holds its thread for one indexed read.
        self.limiter: tuple[asyncio.AbstractEventLoop, CapacityLimiter] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in ("GET", "HEAD")
            or not scope["path"].startswith(PREFIX)
        ):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        rt = scope["app"].state.runtime
        if TRIED in scope:  # the front's read declined it: the router, or 503 for a busy pool
            tried = scope[TRIED]
            await self._send(
                None if tried is None else pool_busy(request, tried), scope, receive, send
            )
            return
        pool = getattr(scope["app"].state, "scan_pool", None)
        if pool is not None:
            await self._in_loop(request, rt, pool, scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        if self.limiter is None or self.limiter[0] is not loop:  # one per event loop (tests)
            self.limiter = (loop, CapacityLimiter(rt.settings.resolver_scan_threads))
        try:
            answer = await to_thread.run_sync(api.stored_scan, request, rt, limiter=self.limiter[1])
        except PoolTimeout as exc:
            # the pool stayed busy: 503 at once, as the router's handler would (not a second wait)
            answer = pool_busy(request, exc)
        except Exception:  # noqa: BLE001 - the router answers it, errors and all
            answer = None
        await self._send(answer, scope, receive, send)

    async def _in_loop(
        self, request: Request, rt: Any, pool: Any, scope: Scope, receive: Receive, send: Send
    ) -> None:
        try:
            answer = await api.stored_scan_async(request, rt, pool)
        except AsyncPoolTimeout as exc:
            answer = pool_busy(request, exc)
        except Exception:  # noqa: BLE001 - the router answers it, errors and all
            answer = None
        # the scan pool's connection is back already: the router takes one of its own
        await self._send(answer, scope, receive, send)

    async def _send(
        self, answer: Response | None, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """The stored answer, or the router's when there is none."""
        if answer is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = self.route
        await answer(scope, receive, send)


class ScanFront:
    """Stored QR scans on the event loop's pool, answered ahead of every middleware (see the
    module's docstring); `__call__` says whether it answered."""

    def __init__(self, role: str, security: SecurityHeaders) -> None:
        self.role = role
        self.security = security
        self.route = _item_route()
        # the security headers as header lines, by (html, hsts)
        self._extra_lines: dict[tuple[bool, bool], bytes] = {}

    def _respond(
        self, send: Send, answer: api.StoredResponse, hsts: bool, rid: tuple[bytes, bytes]
    ) -> bool:
        """The whole answer in one write when uvicorn's cycle behind `send` is our
        `WholeHeadCycle` (service.http_protocol): the same bytes as the two messages would make,
        without them (the messages, a check of every header of the head, uvicorn's bookkeeping
        per message): uvicorn's protocol in process on a stand-in transport, 64 linkset scans
        in flight, runs of this and of the messages paired, ~8% less CPU a scan (~10% with the
        database read stubbed out). False when it did not write (then the messages go)."""
        cycle = getattr(send, "__self__", None)
        if type(cycle) is not WholeHeadCycle:
            return False
        key = (answer.html, hsts)
        extra = self._extra_lines.get(key)
        if extra is None:
            extra = header_lines(list(self.security.extra(*key)))
            if extra is None:  # a policy uvicorn would refuse: its own loop says so
                return False
            self._extra_lines[key] = extra
        # its lines' values were checked when it was made (resolver.api._stored)
        return cycle.respond(
            200, b"".join((answer.lines, extra, rid[0], b": ", rid[1], b"\r\n")), answer.body
        )

    async def __call__(self, app: Any, scope: Scope, receive: Receive, send: Send) -> bool:
        if (
            scope["type"] != "http"
            or scope["method"] not in ("GET", "HEAD")
            or not scope["path"].startswith(PREFIX)
        ):
            return False
        pool = getattr(app.state, "scan_pool", None)
        if pool is None or any(name in _BODY_HEADERS for name, _ in scope["headers"]):
            return False  # the body limits and the thread path: the whole stack
        rid = observe.incoming_id(scope)
        token = logs.request_id.set(rid)
        started = time.perf_counter()
        status = 500
        answered = False
        scope[observe.SCOPE_ID] = rid  # kept if the whole stack answers after all
        try:
            try:
                answer = await api.stored_scan_async(
                    Request(scope, receive), app.state.runtime, pool
                )
            except AsyncPoolTimeout as exc:
                scope[TRIED] = exc
                return False
            except Exception:  # noqa: BLE001 - the router answers it, errors and all
                answer = None
            if answer is None:
                scope[TRIED] = None
                return False
            answered = True
            scope["route"] = self.route
            # what SecurityHeaders and then ObserveRequests add, in their order
            hsts = self.security.https_public_url or scope.get("scheme") == "https"
            rid_header = (observe.HEADER, rid.encode("latin-1"))
            status = answer.status_code
            if type(answer) is api.StoredResponse:
                # its names are the resolver's own (CORS, link, vary, cache-control, etag, length,
                # type), none a security header or the request id: `added` would only append
                if status == 200 and self._respond(send, answer, hsts, rid_header):
                    return True
                extra = self.security.extra(answer.html, hsts)
                headers = [*answer.raw_headers, *extra, rid_header]
            else:
                headers = self.security.added(answer.raw_headers, hsts=hsts, last=rid_header)
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": answer.body})
            return True
        finally:
            if answered:
                observe.record(scope, rid, status, time.perf_counter() - started, self.role)
            logs.request_id.reset(token)
