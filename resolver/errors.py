"""Errors raised while resolving identifiers; codes follow the DID Resolution error names."""

from __future__ import annotations


class ResolverError(Exception):
    code = "resolver-error"
    status = 400


class InvalidDid(ResolverError):
    code = "invalidDid"
    status = 400


class MethodNotSupported(ResolverError):
    code = "methodNotSupported"
    status = 400


class DidNotFound(ResolverError):
    code = "notFound"
    status = 404


class DidNotAllowed(ResolverError):
    """A did:web host that this service is not configured to fetch from."""

    code = "didWebHostNotAllowed"
    status = 403


class DidResolutionFailed(ResolverError):
    """The remote did:web host answered badly or not at all."""

    code = "internalError"
    status = 502
