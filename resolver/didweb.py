"""did:web: mapping between DIDs and HTTPS URLs, and the fetch rules for foreign hosts."""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import quote, unquote

import httpx
import orjson

from resolver.errors import DidNotAllowed, DidNotFound, DidResolutionFailed, InvalidDid

_SEGMENT = re.compile(r"^[A-Za-z0-9._~%-]+$")


@dataclass(frozen=True)
class DidWebPolicy:
    """Which foreign hosts may be fetched and within which limits.

    `allowed_hosts` holds lower-case `host` or `host:port` entries (https only, public addresses
    only) and `http://host:port` entries, which allow plain HTTP and a private address for exactly
    that origin (local set-ups and tests).
    """

    allowed_hosts: frozenset[str] = frozenset()
    timeout_s: float = 5.0
    max_bytes: int = 262_144


def did_web_parts(did: str) -> tuple[str, list[str]]:
    """`did:web:example.com%3A8443:a:b` -> ("example.com:8443", ["a", "b"])."""
    if not did.startswith("did:web:"):
        raise InvalidDid(f"{did!r} is not a did:web DID")
    segments = did[len("did:web:") :].split(":")
    if not segments[0] or any(not s or not _SEGMENT.match(s) for s in segments):
        raise InvalidDid(f"{did!r} has an empty or malformed method-specific identifier")
    host = unquote(segments[0])
    if "/" in host or "@" in host or not re.match(r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$", host):
        raise InvalidDid(f"{did!r} does not name a valid host")
    return host.lower(), [unquote(s) for s in segments[1:]]


def did_web_path(did: str) -> str:
    """The URL path a did:web document is served at."""
    _, path = did_web_parts(did)
    if not path:
        return "/.well-known/did.json"
    return "/" + "/".join(quote(p, safe="") for p in path) + "/did.json"


def is_public_host(host: str) -> bool:
    """Whether every address `host` resolves to is public (not loopback, private, link-local...):
    what a fetch from an allowed host must reach unless the entry allows it explicitly."""
    hostname = host.rsplit(":", 1)[0] if re.search(r":[0-9]+$", host) else host
    try:
        infos = socket.getaddrinfo(hostname, None)
    except socket.gaierror as exc:
        raise DidResolutionFailed(f"cannot resolve host {hostname!r}: {exc.strerror}") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            return False
    return True


def fetch_did_web(did: str, policy: DidWebPolicy, client: httpx.Client) -> dict:
    """Fetch a foreign did:web document under `policy`; the document's id must equal the DID."""
    host, _ = did_web_parts(did)
    insecure = f"http://{host}" in policy.allowed_hosts
    if not insecure and host not in policy.allowed_hosts:
        raise DidNotAllowed(
            f"did:web host {host!r} is not in DBP_DID_WEB_ALLOWED_HOSTS; this service does not "
            "fetch DID documents from other hosts"
        )
    if not insecure and not is_public_host(host):
        raise DidNotAllowed(f"did:web host {host!r} resolves to a private address")
    url = f"{'http' if insecure else 'https'}://{host}{did_web_path(did)}"
    try:
        with client.stream(
            "GET",
            url,
            timeout=policy.timeout_s,
            follow_redirects=False,
            headers={"Accept": "application/did+json, application/json"},
        ) as response:
            if response.status_code == 404:
                raise DidNotFound(f"{did} was not found at {url}")
            if response.status_code != 200:
                raise DidResolutionFailed(f"{url} answered HTTP {response.status_code}")
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > policy.max_bytes:
                    raise DidResolutionFailed(f"{url} sent more than {policy.max_bytes} bytes")
    except httpx.HTTPError as exc:
        raise DidResolutionFailed(f"fetching {url} failed: {exc.__class__.__name__}") from None
    try:
        document = orjson.loads(bytes(body))
    except orjson.JSONDecodeError:
        raise DidResolutionFailed(f"{url} did not return JSON") from None
    if not isinstance(document, dict) or document.get("id") != did:
        raise DidResolutionFailed(f"the document at {url} does not describe {did}")
    return document
