"""did:web: mapping between DIDs and HTTPS URLs, and the fetch rules for foreign hosts."""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

import httpx

from infra.fetch import FetchFailed, FetchPolicy, HostNotAllowed, PrivateAddress, fetch
from resolver.errors import DidNotAllowed, DidNotFound, DidResolutionFailed, InvalidDid
from vocab import json_text

_SEGMENT = re.compile(r"[A-Za-z0-9._~%-]+")
_HOST = re.compile(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?")


# The fetch rules (allowed hosts, public addresses, size and time limits, no redirects, DNS
# resolved once) are infra.fetch's, shared with status lists and calls to other instances.
DidWebPolicy = FetchPolicy


def did_web_parts(did: str) -> tuple[str, list[str]]:
    """`did:web:example.com%3A8443:a:b` -> ("example.com:8443", ["a", "b"])."""
    if not did.startswith("did:web:"):
        raise InvalidDid(f"{did!r} is not a did:web DID")
    segments = did[len("did:web:") :].split(":")
    if not segments[0] or any(not s or not _SEGMENT.fullmatch(s) for s in segments):
        raise InvalidDid(f"{did!r} has an empty or malformed method-specific identifier")
    host = unquote(segments[0])
    if "/" in host or "@" in host or not _HOST.fullmatch(host):
        raise InvalidDid(f"{did!r} does not name a valid host")
    return host.lower(), [unquote(s) for s in segments[1:]]


def did_web_path(did: str) -> str:
    """The URL path a did:web document is served at."""
    _, path = did_web_parts(did)
    if not path:
        return "/.well-known/did.json"
    return "/" + "/".join(quote(p, safe="") for p in path) + "/did.json"


def fetch_did_web(did: str, policy: DidWebPolicy, client: httpx.Client) -> dict:
    """Fetch a foreign did:web document under `policy`; the document's id must equal the DID."""
    host, _ = did_web_parts(did)
    insecure = f"http://{host}" in policy.allowed_hosts
    url = f"{'http' if insecure else 'https'}://{host}{did_web_path(did)}"
    try:
        answer = fetch(
            client,
            policy,
            "GET",
            url,
            headers={"Accept": "application/did+json, application/json"},
        )
    except PrivateAddress:
        raise DidNotAllowed(f"did:web host {host!r} resolves to a private address") from None
    except HostNotAllowed:
        raise DidNotAllowed(
            f"did:web host {host!r} is not in DBP_DID_WEB_ALLOWED_HOSTS; this service does not "
            "fetch DID documents from other hosts"
        ) from None
    except FetchFailed as exc:
        raise DidResolutionFailed(str(exc)) from None
    if answer.status == 404:
        raise DidNotFound(f"{did} was not found at {url}")
    if answer.status != 200:
        raise DidResolutionFailed(f"{url} answered HTTP {answer.status}")
    try:
        document = json_text.loads(answer.body)
    except ValueError:
        raise DidResolutionFailed(f"{url} did not return JSON (or names a member twice)") from None
    if not isinstance(document, dict) or document.get("id") != did:
        raise DidResolutionFailed(f"the document at {url} does not describe {did}")
    return document
