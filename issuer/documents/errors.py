"""Errors of the documents: each is a problem response with a precise message."""

from __future__ import annotations

from issuer.errors import FieldError, IssuerError


class InvalidDocument(FieldError):
    code = "invalid-document"
    status = 422


class UnsupportedDocumentType(FieldError):
    code = "unsupported-document-media-type"
    status = 415
    rule = "media-type"


class DocumentTooLarge(FieldError):
    code = "document-too-large"
    status = 413
    rule = "max-size"


class UnknownDocument(IssuerError):
    code = "unknown-document"
    status = 404


class DocumentLinkRefused(IssuerError):
    """A restricted document was asked for without a valid, unexpired signed link."""

    code = "document-link-refused"
    status = 403


class DocumentUnavailable(IssuerError):
    """The object store does not answer or lacks the bytes (not the client's fault)."""

    code = "document-unavailable"
    status = 503
