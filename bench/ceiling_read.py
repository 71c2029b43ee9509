"""The resolver's read floor: a bare ASGI app under uvicorn that does per request only what a scan
of a stored answer cannot skip, the one indexed read of that answer (resolver.stored_reads, the
service's own batched statement, on a pool of the service's size) and the bytes out.

Nothing else: no negotiation beyond bench/ceiling.py's Accept check, no headers beyond content
type and length, no request id, metrics, log line or generation check. Against bench/ceiling.py
(the same bytes with no read) it prices the read; against the service, what dbp does around it.
It is an anchor only: it would serve a revoked battery's old answer for as long as the row kept
it, which the service never does (resolver.views)."""

from __future__ import annotations

from infra.async_db import open_pool
from resolver import stored_reads
from service.settings import Settings

_WANTED = {name: frozenset({name}) for name in ("linkset", "passport", "page")}
_MEDIA = {
    "linkset": b"application/linkset+json",
    "passport": b"application/ld+json",
    "page": b"text/html; charset=utf-8",
}
_pool = None


async def _lifespan(receive, send) -> None:
    global _pool
    settings = Settings()
    from sqlalchemy.engine import make_url

    url = make_url(settings.database_url)
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            _pool = await open_pool(url, settings.resolver_scan_connections)
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await _pool.close()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    parts = scope["path"].split("/")  # /01/{gtin}/21/{serial}
    accept = dict(scope["headers"]).get(b"accept", b"")
    kind = "linkset" if b"linkset" in accept else "passport" if b"json" in accept else "page"
    found = None
    if len(parts) == 5 and parts[1] == "01" and parts[3] == "21":
        found = await stored_reads.lookup_stored(_pool, parts[2], parts[4], _WANTED[kind])
    body = getattr(found[1], kind, None) if found else None
    if not isinstance(body, bytes):  # /health, an unknown battery, an answer not built yet
        status, body, media = (200 if scope["path"] == "/health" else 404), b"", b"text/plain"
    else:
        status, media = 200, _MEDIA[kind]
    headers = [(b"content-type", media), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
