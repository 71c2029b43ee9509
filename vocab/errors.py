"""Errors raised by the vocabulary package."""

from __future__ import annotations


class VocabError(Exception):
    """Base class for everything `vocab` raises."""


class ContextNotBundled(VocabError):
    """A JSON-LD context URL that is not bundled with dbp was requested.

    dbp never fetches contexts from the network at run time; a document that names any other
    context cannot be processed.
    """

    def __init__(self, url: str) -> None:
        super().__init__(
            f"JSON-LD context {url!r} is not bundled with this service; remote contexts are refused"
        )
        self.url = url
