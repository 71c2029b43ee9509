"""Errors raised by the anchor package, with the HTTP status and problem code the service uses."""

from __future__ import annotations


class AnchorError(Exception):
    code = "anchor-error"
    status = 400


class UnanchorableDocument(AnchorError):
    """The document has no canonical byte form (not JSON, numbers outside I-JSON, bad envelope)."""

    code = "unanchorable-document"
    status = 400


class AnchorNotFound(AnchorError):
    code = "anchor-not-found"
    status = 404


class AnchorConfigError(AnchorError):
    """The chain settings are incomplete or contradict the node (wrong chain id, no contract)."""

    code = "anchor-config"
    status = 500


class ChainUnavailable(AnchorError):
    """The chain cannot be reached right now (node down, timeout, embedded chain still rebuilding).

    Anchoring keeps its queue and retries; verification reports a warning, never a failure."""

    code = "chain-unavailable"
    status = 503


class NoAnchorAccount(AnchorConfigError):
    code = "no-anchor-account"
