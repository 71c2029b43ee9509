"""The one JSON response helper of the routers (a body written with orjson, a status, a media
type and headers; `json_bytes` for a router that needs the body before the response, for its
ETag), and RFC 9457 problem responses."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Response

from infra.openapi import PROBLEM_MEDIA_TYPE
from vocab.problems import PROBLEM_BASE

JSON = "application/json"


def json_bytes(body: object) -> bytes:
    """`body` as JSON bytes, as `json_response` writes it: for routers that need the body before
    the response (its ETag, or bytes stored for later scans)."""
    return orjson.dumps(body)


def json_response(
    body: object,
    status: int = 200,
    headers: dict[str, str] | None = None,
    *,
    media_type: str = JSON,
) -> Response:
    """`body` as a JSON response (orjson: datetimes, dataclasses and big dicts fast)."""
    return Response(json_bytes(body), status_code=status, media_type=media_type, headers=headers)


def _title(code: str) -> str:
    words = code.replace("_", "-").split("-")
    text = " ".join(words)
    # camelCase codes (DID Resolution errors) read better split too
    out = "".join(" " + c.lower() if c.isupper() else c for c in text).strip()
    return out[:1].upper() + out[1:]


def problem_response(
    status: int, code: str, detail: str, *, title: str | None = None, **extensions: Any
) -> Response:
    body = {
        "type": PROBLEM_BASE + code,
        "title": title or _title(code),
        "status": status,
        "detail": detail,
        **extensions,
    }
    return Response(orjson.dumps(body), status_code=status, media_type=PROBLEM_MEDIA_TYPE)
