"""The one JSON response helper of the routers: a body written with orjson, a status, a media
type and headers."""

from __future__ import annotations

import orjson
from fastapi import Response

JSON = "application/json"


def json_response(
    body: object,
    status: int = 200,
    headers: dict[str, str] | None = None,
    *,
    media_type: str = JSON,
) -> Response:
    """`body` as a JSON response (orjson: datetimes, dataclasses and big dicts fast)."""
    return Response(orjson.dumps(body), status_code=status, media_type=media_type, headers=headers)
