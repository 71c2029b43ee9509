"""Portal errors at the edge: an HTML page with the error's status for the pages, an RFC 9457
problem for the JSON routes (`/passports`, `/authority/tokens`, the wallet's login endpoint)."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from infra.responses import problem_response
from portal.errors import NotSignedIn, PortalError
from portal.render import page

JSON_PATHS = ("/passports", "/authority/tokens", "/authority/presentations", "/authority/login/")


def _area(path: str) -> tuple[str, str]:
    if path.startswith("/authority"):
        return "Authority portal", "/authority/login"
    if path.startswith("/dashboards"):
        return "Dashboards", "/portal/login"
    return "Company portal", "/portal/login"


def handle(request: Request, exc: Exception) -> Response:
    status = int(getattr(exc, "status", 400))
    code = str(getattr(exc, "code", "portal-error"))
    path = request.url.path
    if path.startswith(JSON_PATHS):
        return problem_response(status, code, str(exc))
    area, login = _area(path)
    signed_out = isinstance(exc, NotSignedIn)
    return page(
        "error.html",
        status=status,
        title="Sign in first" if signed_out else "Not done",
        area_name=area,
        message=str(exc),
        back=login if signed_out else None,
        back_label="Sign in",
    )


EXCEPTIONS = (PortalError,)
