"""Signed links to restricted documents: HMAC-SHA256 over the path, the expiry and the reader,
with a key derived from the master key (every process of a deployment derives the same one).

A link is `{path}?expires={unix}&reader={did}&sig={base64url}`; changing any of the three, or
using it after `expires`, makes it fail."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from urllib.parse import urlencode

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

DEFAULT_TTL_S = 900  # 15 minutes


def link_key(master_key: bytes) -> bytes:
    # A key of its own: a leaked link key must not open sealed private keys, nor the reverse.
    return HKDF(hashes.SHA256(), 32, salt=None, info=b"dbp document links v1").derive(master_key)


def _mac(key: bytes, path: str, expires: int, reader: str) -> str:
    message = f"{path}\n{expires}\n{reader}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign(key: bytes, path: str, reader: str, ttl_s: int, now: float | None = None) -> str:
    """The query string of a link to `path` for `reader`, valid `ttl_s` seconds."""
    expires = int((time.time() if now is None else now) + ttl_s)
    return urlencode(
        {"expires": expires, "reader": reader, "sig": _mac(key, path, expires, reader)}
    )


class LinkInvalid(Exception):
    pass


def check(
    key: bytes,
    path: str,
    expires: str | None,
    reader: str | None,
    sig: str | None,
    now: float | None = None,
) -> str:
    """The reader the link was made for; LinkInvalid naming what is wrong."""
    if not (expires and reader and sig):
        raise LinkInvalid("a signed link (expires, reader, sig) is required for this document")
    try:
        when = int(expires)
    except ValueError:
        raise LinkInvalid("expires must be a Unix time") from None
    if not hmac.compare_digest(_mac(key, path, when, reader), sig):
        raise LinkInvalid("the link's signature does not match (altered, or not made here)")
    if (time.time() if now is None else now) >= when:
        raise LinkInvalid("the link has expired; ask for a new one through /access")
    return reader
