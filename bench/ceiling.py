"""The resolver's ceiling: a bare ASGI app under uvicorn answering with the very bytes the service
returned (the linkset for `Accept: application/linkset+json`, the JSON passport for another JSON
type, else the consumer page), read once from BENCH_CEILING_DIR. Nothing is looked up, parsed
or computed per request."""

from __future__ import annotations

import os
from pathlib import Path

_DIR = Path(os.environ.get("BENCH_CEILING_DIR", "."))
_LINKSET = (_DIR / "linkset.json").read_bytes() if (_DIR / "linkset.json").exists() else b"{}"
_PAGE = (_DIR / "page.html").read_bytes() if (_DIR / "page.html").exists() else b""
_JSON = (_DIR / "passport.json").read_bytes() if (_DIR / "passport.json").exists() else b"{}"


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    accept = dict(scope["headers"]).get(b"accept", b"")
    if b"linkset" in accept:
        body, media = _LINKSET, b"application/linkset+json"
    elif b"json" in accept:
        body, media = _JSON, b"application/ld+json"
    else:
        body, media = _PAGE, b"text/html; charset=utf-8"
    headers = [(b"content-type", media), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
