"""Offline JSON-LD document loader.

Every context comes from files bundled in `vocab/contexts/` (listed in `index.json`); any other URL
raises `ContextNotBundled`. Nothing is fetched from the network.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from vocab.errors import ContextNotBundled

# Prepended to a document's contexts while checking for undefined terms: a term that no context
# defines then expands under this IRI instead of being silently dropped (pyld has no safe mode).
UNDEFINED_TERM_VOCAB = "https://www.w3.org/ns/credentials/undefined-term#"
UNDEFINED_TERMS_CONTEXT_URL = "https://www.w3.org/ns/credentials/undefined-terms/v2"


@cache
def _index() -> dict[str, str]:
    text = resources.files("vocab.contexts").joinpath("index.json").read_text("utf-8")
    return json.loads(text)


def bundled_urls() -> frozenset[str]:
    """Every context URL the loader serves."""
    return frozenset(_index())


@cache
def _raw(url: str) -> bytes:
    try:
        name = _index()[url]
    except KeyError:
        raise ContextNotBundled(url) from None
    return resources.files("vocab.contexts").joinpath(name).read_bytes()


def context_bytes(url: str) -> bytes:
    """The bundled context file for `url`, byte for byte (for serving it over HTTP)."""
    return _raw(url)


def context_document(url: str) -> dict[str, Any]:
    """A fresh parsed copy of the bundled context for `url`."""
    return json.loads(_raw(url))


@cache
def _remote_document(url: str) -> dict[str, Any]:
    return {
        "contextUrl": None,
        "documentUrl": url,
        "document": json.loads(_raw(url)),
        # Bundled contexts never change, so pyld may keep its resolved form in the shared cache.
        "tag": "static",
    }


def document_loader(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """pyld `documentLoader`: serve bundled contexts, refuse everything else."""
    return _remote_document(url)
