"""`relatedResource` integrity (VC Data Model 2.0 §5.3), one rule for the issuer and the verifier:
the digests a credential pins for the resources it depends on must match those resources.

Resources dbp holds offline are checked (bundled JSON-LD contexts, our JSON Schemas), and those
the caller's `fetch` can give (this instance's battery documents, read from its store): nothing is
fetched from the internet.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable

from vocab import schemas
from vocab.errors import VocabError
from vocab.loader import context_bytes
from vocab.vcdm import as_list

# Bytes of a related resource by URL, or None when it cannot be had (the composition root hands
# one in: this instance's documents).
Fetch = Callable[[str], bytes | None]

_SRI_ALGORITHMS = {"sha256": hashlib.sha256, "sha384": hashlib.sha384, "sha512": hashlib.sha512}
# Multihash codes (multicodec table) for the digests digestMultibase may carry.
_MULTIHASH = {0x12: ("sha256", 32), 0x20: ("sha384", 48), 0x13: ("sha512", 64)}


def _local_bytes(url: str) -> bytes | None:
    for lookup in (context_bytes, schemas.schema_bytes):
        try:
            return lookup(url)
        except VocabError:
            continue
    return None


def _sri_matches(expression: str, data: bytes) -> bool:
    # An SRI value may list several hashes; one matching strong hash is enough (SRI §3.3.5).
    for token in expression.split():
        algorithm, _, digest = token.partition("-")
        hasher = _SRI_ALGORITHMS.get(algorithm)
        if hasher and base64.b64encode(hasher(data).digest()).decode() == digest.split("?")[0]:
            return True
    return False


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _multibase_matches(value: str, data: bytes) -> bool:
    if not value.startswith("u"):
        return False
    try:
        raw = _b64url_decode(value[1:])
    except ValueError:
        return False
    if len(raw) >= 2 and raw[0] in _MULTIHASH and raw[1] == _MULTIHASH[raw[0]][1]:
        name, size = _MULTIHASH[raw[0]]
        return len(raw) == 2 + size and _SRI_ALGORITHMS[name](data).digest() == raw[2:]
    # Some publishers put the bare SHA-256 digest behind the multibase prefix.
    return raw == hashlib.sha256(data).digest()


def check_digests(credential: dict, fetch: Fetch | None = None) -> tuple[str | None, list[str]]:
    """(the first mismatch, described, or None; the URLs of resources that could not be had)."""
    unchecked: list[str] = []
    for resource in as_list(credential.get("relatedResource", [])):
        if not isinstance(resource, dict):
            continue
        url = resource.get("id")
        data = _local_bytes(url) if isinstance(url, str) else None
        if data is None and fetch is not None and isinstance(url, str):
            data = fetch(url)
        if data is None:
            unchecked.append(str(url))
            continue
        if "digestSRI" in resource and not _sri_matches(resource["digestSRI"], data):
            return f"digestSRI of {url} does not match", unchecked
        if "digestMultibase" in resource and not _multibase_matches(
            resource["digestMultibase"], data
        ):
            return f"digestMultibase of {url} does not match", unchecked
    return None, unchecked


def resource_matches(resource: dict, fetch: Fetch | None = None) -> bool | None:
    """Whether one related resource's bytes match its digests; None when they cannot be had or it
    pins no digest (for the consumer page, which shows each document's own verdict)."""
    url = resource.get("id")
    data = _local_bytes(url) if isinstance(url, str) else None
    if data is None and fetch is not None and isinstance(url, str):
        data = fetch(url)
    if data is None:
        return None
    if "digestSRI" in resource and not _sri_matches(resource["digestSRI"], data):
        return False
    if "digestMultibase" in resource and not _multibase_matches(resource["digestMultibase"], data):
        return False
    return "digestSRI" in resource or "digestMultibase" in resource
