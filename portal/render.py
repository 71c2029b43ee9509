"""Rendering the portal pages: one Jinja environment, one stylesheet inlined and allowed by its
hash, no script (the Content-Security-Policy has no script-src at all)."""

from __future__ import annotations

import base64
import hashlib
from functools import cache
from importlib import resources
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

STYLESHEET = resources.files("portal").joinpath("static/portal.css").read_text("utf-8")
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLESHEET.encode()).digest()).decode()
# Forms post to this origin only; images are inline SVG (charts, QR code) or data: URIs.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; "
    f"style-src 'sha256-{_STYLE_HASH}'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# Pages hold personal and restricted data: never kept in a shared cache or the back-forward cache
NO_STORE = {"Cache-Control": "no-store"}


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("portal", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["stylesheet"] = Markup(STYLESHEET)
    return env


def page(template: str, status: int = 200, headers: dict[str, str] | None = None, **values: Any):
    html = environment().get_template(template).render(**values)
    return HTMLResponse(
        html,
        status_code=status,
        headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY, **NO_STORE, **(headers or {})},
    )
