"""Request bodies: a size limit for every request and strict JSON parsing with precise errors.

The routers of every package use these; they live in `infra` so that no router imports `service`."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request

from infra.responses import problem_response
from vocab import json_text


class BodyError(Exception):
    code = "malformed-body"
    status = 400


class UnsupportedMediaType(BodyError):
    code = "unsupported-media-type"
    status = 415


class BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    """ASGI middleware: refuse bodies over `max_bytes` with 413, by header or by counting."""

    def __init__(
        self,
        app,
        max_bytes: int,
        path_limits: dict[str, int] | None = None,
        suffix_limits: dict[str, int] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # Larger limits for the few routes made for large bodies (bulk ingestion, documents):
        # by exact path, or by the path's last segment (routes with an id before it).
        self.path_limits = path_limits or {}
        self.suffix_limits = suffix_limits or {}

    def _limit(self, path: str) -> int:
        if path in self.path_limits:
            return self.path_limits[path]
        for suffix, limit in self.suffix_limits.items():
            if path.endswith(suffix):
                return limit
        return self.max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self._limit(scope.get("path", ""))
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > limit or declared < 0:
                    return await self._refuse(scope, receive, send, limit)
        seen = 0
        started = False

        async def counting_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge
            return message

        async def tracking_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._refuse(scope, receive, send, limit)

    async def _refuse(self, scope, receive, send, limit: int):
        response = problem_response(
            413, "body-too-large", f"request bodies are limited to {limit} bytes"
        )
        await response(scope, receive, send)


async def optional_json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, or {} when there is none."""
    if not (await request.body()).strip():
        return {}
    return await json_object(request)


async def json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, or a 400/415 problem naming what is wrong."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type and media_type != "application/json" and not media_type.endswith("+json"):
        raise UnsupportedMediaType(f"expected a JSON body, got Content-Type {media_type!r}")
    raw = await request.body()
    if not raw.strip():
        raise BodyError("the request body is empty; a JSON object is required")
    try:
        # duplicate member names are refused (DuplicateKey, 400): vocab/json_text.py says why
        body = json_text.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BodyError(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BodyError(f"the request body must be a JSON object, not {type(body).__name__}")
    return body
