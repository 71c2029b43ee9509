"""DID Resolution results for `GET /1.0/identifiers/{did}` (W3C DID Resolution, HTTP(S) binding).

The client's `Accept` picks the representation: the full resolution result (`didDocument`,
`didResolutionMetadata`, `didDocumentMetadata`) or the bare DID document. Errors are resolution
results too, with `didResolutionMetadata.error` and the HTTP status the binding gives that error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import unquote

from resolver.dids import DidResolver
from resolver.errors import ResolverError
from resolver.negotiation import NotAcceptable, choose

RESOLUTION_CONTEXT: Final = "https://w3id.org/did-resolution/v1"
RESULT_MEDIA_TYPE: Final = "application/did-resolution"
# The profile form DID resolvers (Universal Resolver) used before application/did-resolution.
LEGACY_RESULT_MEDIA_TYPE: Final = 'application/ld+json;profile="https://w3id.org/did-resolution"'
DOCUMENT_MEDIA_TYPE: Final = "application/did+ld+json"

# Server preference: a result unless the client asks for a bare document.
OFFERS: Final = (
    RESULT_MEDIA_TYPE,
    LEGACY_RESULT_MEDIA_TYPE,
    "application/json",
    DOCUMENT_MEDIA_TYPE,
    "application/did+json",
    "application/did",
    "application/ld+json",
)
RESULT_TYPES: Final = frozenset({RESULT_MEDIA_TYPE, LEGACY_RESULT_MEDIA_TYPE, "application/json"})

# DID Resolution HTTP(S) binding: error -> status. didWebHostNotAllowed is ours (a host this
# service is not configured to fetch from) and a refusal, not a missing DID.
STATUS: Final = {
    "invalidDid": 400,
    "notFound": 404,
    "representationNotSupported": 406,
    "didWebHostNotAllowed": 403,
    "methodNotSupported": 501,
    "internalError": 502,
}


@dataclass(frozen=True)
class Answer:
    status: int
    media_type: str
    body: dict[str, Any]


def did_from_path(raw_segment: str) -> str:
    """The DID in the request path. A DID keeps its own percent-encoding (`did:web:host%3A8443`);
    a client that percent-encoded the whole DID (`did%3Aweb%3A...`) gets it decoded once."""
    if raw_segment[:6].lower() == "did%3a":
        return unquote(raw_segment)
    return raw_segment


def _result(document: dict | None, resolution: dict, document_meta: dict) -> dict:
    return {
        "@context": RESOLUTION_CONTEXT,
        "didDocument": document,
        "didResolutionMetadata": resolution,
        "didDocumentMetadata": document_meta,
    }


def _error(code: str, message: str, media_type: str) -> Answer:
    body = _result(None, {"error": code, "errorMessage": message}, {})
    return Answer(STATUS.get(code, 400), media_type, body)


def resolve(resolver: DidResolver, did: str, accept: str | None) -> Answer:
    try:
        media_type = choose(accept, OFFERS)
    except NotAcceptable as exc:
        return _error("representationNotSupported", str(exc), RESULT_MEDIA_TYPE)
    error_type = media_type if media_type in RESULT_TYPES else RESULT_MEDIA_TYPE
    try:
        resolution = resolver.resolve(did)
    except ResolverError as exc:
        return _error(exc.code, str(exc), error_type)
    if media_type in RESULT_TYPES:
        body = _result(
            resolution.document, dict(resolution.resolution_metadata), resolution.document_metadata
        )
        return Answer(200, media_type, body)
    return Answer(200, media_type, resolution.document)
