"""Errors of the portal pages. Pages show them as HTML with the same status a problem response
would carry; the JSON API routes of this package answer them as RFC 9457 problems."""

from __future__ import annotations


class PortalError(Exception):
    code = "portal-error"
    status = 400


class NotSignedIn(PortalError):
    code = "not-signed-in"
    status = 401


class CsrfRefused(PortalError):
    """A form came without this session's CSRF token: refused before anything is read."""

    code = "csrf-token-invalid"
    status = 403


class NotYours(PortalError):
    code = "not-authorized"
    status = 403


class BadForm(PortalError):
    code = "invalid-form"
    status = 422
