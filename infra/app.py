"""The running service as the routers see it: `app_runtime`, a FastAPI dependency answering the
runtime the composition root keeps in `app.state.runtime` (each package types it with a
`Protocol` of its own, what its routers use of it, so that no router imports `service`), and
the request's `bearer_token`."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

__all__ = ["app_runtime", "bearer_token"]


def app_runtime(request: Request) -> Any:
    """The runtime of the app serving `request` (`service.runtime.Runtime` in dbp)."""
    return request.app.state.runtime


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer ...` header, or None."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
