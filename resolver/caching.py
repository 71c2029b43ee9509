"""Cache validators for resolution responses: strong ETags and `If-None-Match` (RFC 9110 13.1.2)."""

from __future__ import annotations

import base64
import hashlib


def etag(body: bytes) -> str:
    """A strong ETag from the representation's bytes: equal bytes, equal tag."""
    digest = hashlib.sha256(body).digest()[:18]
    return '"' + base64.urlsafe_b64encode(digest).decode() + '"'


def _opaque(tag: str) -> str:
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


def not_modified(if_none_match: str | None, current: str) -> bool:
    """Whether `If-None-Match` already names `current` (weak comparison, as the RFC requires)."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    wanted = _opaque(current)
    return any(_opaque(tag) == wanted for tag in if_none_match.split(","))
