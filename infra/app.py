"""The running service as the routers see it: `app_runtime`, a FastAPI dependency answering the
runtime the composition root keeps in `app.state.runtime`. Each package types it with a
`Protocol` of its own (what its routers use of it), so that no router imports `service`."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

__all__ = ["app_runtime"]


def app_runtime(request: Request) -> Any:
    """The runtime of the app serving `request` (`service.runtime.Runtime` in dbp)."""
    return request.app.state.runtime
