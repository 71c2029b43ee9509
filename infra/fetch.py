"""The one way this service calls another host: did:web documents, status lists of other
issuers, and other dbp instances during a hand-over all go through `fetch`.

Rules, all enforced here:
- only hosts the operator allows (`FetchPolicy.allowed_hosts`, DBP_DID_WEB_ALLOWED_HOSTS):
  `host` / `host:port` entries over HTTPS to public addresses only; `http://host:port` (plain
  HTTP) and `https://host:port` entries name one origin explicitly, for which private and
  loopback addresses are allowed too (local set-ups, tests);
- the host name is resolved ONCE per fetch, every address checked, and the connection made to
  the checked address (an IP-literal URL, with the original Host header and, for HTTPS, the
  original name as TLS SNI and for certificate verification): a DNS answer that changes between
  the check and the connection (DNS rebinding) cannot redirect the call;
- no redirects; proxies from the environment are not used (the client is the caller's, made
  with trust_env=False by the service);
- a size cap on the answer, read in chunks and abandoned at the cap;
- a total time limit: each network step gets the time left, and reading stops when the time is
  up (a server dripping bytes cannot hold the call; one blocked read may overrun by at most its
  own timeout, which is the time that was left when the request started).
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from vocab.urls import InvalidUrl, split_url

Resolve = Callable[[str, int], list[str]]


@dataclass(frozen=True)
class FetchPolicy:
    """Which hosts may be called and within which limits (see the module docstring)."""

    allowed_hosts: frozenset[str] = frozenset()
    timeout_s: float = 5.0
    max_bytes: int = 262_144


class FetchError(Exception):
    """A call to another host was refused or failed; `detail` says why, for a problem."""


class HostNotAllowed(FetchError):
    pass


class PrivateAddress(HostNotAllowed):
    pass


class FetchFailed(FetchError):
    """The host could not be reached, answered too much, or too slowly."""


class TooLarge(FetchFailed):
    pass


@dataclass(frozen=True)
class Fetched:
    url: str
    status: int
    headers: httpx.Headers
    body: bytes


def system_resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise FetchFailed(f"cannot resolve host {host!r}: {reason}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def origin_allowed(url: str, policy: FetchPolicy) -> tuple[httpx.URL, bool]:
    """The URL and whether its origin is named explicitly (private addresses allowed);
    HostNotAllowed when the policy does not allow it."""
    try:
        parts = split_url(url)
    except InvalidUrl as exc:
        raise HostNotAllowed(str(exc)) from None
    netloc = (parts.netloc or "").lower()
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in netloc:
        raise HostNotAllowed(f"{url!r} is not an http(s) URL of a host")
    explicit = f"{parts.scheme}://{netloc}" in policy.allowed_hosts
    if not explicit and not (parts.scheme == "https" and netloc in policy.allowed_hosts):
        raise HostNotAllowed(
            f"{parts.scheme}://{netloc} is not in DBP_DID_WEB_ALLOWED_HOSTS; this service only "
            "calls the hosts its operator allows (`host` for HTTPS, `http://host:port` for "
            "plain HTTP)"
        )
    return httpx.URL(url), explicit


def fetch(
    client: httpx.Client,
    policy: FetchPolicy,
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    content: bytes | None = None,
    max_bytes: int | None = None,
    resolve: Resolve = system_resolve,
) -> Fetched:
    """Call `url` under `policy` (see the module docstring); any status is returned, with at most
    `max_bytes` (default the policy's) of body. Raises HostNotAllowed / PrivateAddress /
    FetchFailed / TooLarge."""
    deadline = time.monotonic() + policy.timeout_s
    limit = policy.max_bytes if max_bytes is None else max_bytes
    target, explicit = origin_allowed(url, policy)
    host = target.host
    port = target.port or (443 if target.scheme == "https" else 80)
    addresses = resolve(host, port)
    if not addresses:
        raise FetchFailed(f"host {host!r} has no address")
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if not explicit and not ip.is_global:
            raise PrivateAddress(f"host {host!r} resolves to a private address ({ip})")
    address = addresses[0]
    connect_to = target.copy_with(host=address)  # httpx brackets an IPv6 address
    request_headers = {**(headers or {}), "Host": target.netloc.decode("ascii")}
    extensions = {"sni_hostname": host} if target.scheme == "https" else {}
    body = bytearray()
    try:
        request = client.build_request(
            method,
            connect_to,
            headers=request_headers,
            content=content,
            timeout=httpx.Timeout(max(deadline - time.monotonic(), 0.001)),
            extensions=extensions,
        )
        response = client.send(request, stream=True, follow_redirects=False)
        try:
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > limit:
                    raise TooLarge(f"{url} sent more than {limit} bytes")
                if time.monotonic() > deadline:
                    raise FetchFailed(
                        f"fetching {url} failed: it took longer than {policy.timeout_s:g} s"
                    )
        finally:
            response.close()
    except httpx.TimeoutException:
        raise FetchFailed(
            f"fetching {url} failed: it took longer than {policy.timeout_s:g} s"
        ) from None
    except httpx.HTTPError as exc:
        raise FetchFailed(f"fetching {url} failed: {exc.__class__.__name__}") from None
    return Fetched(url, response.status_code, response.headers, bytes(body))
