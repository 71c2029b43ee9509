"""HTTP as the wallet speaks it: HTTPS, except to this machine (loopback) or when the user says
`--insecure-http`; redirects followed by hand so every hop meets the same rule; RFC 9457 problems
turned into `ServiceRefused`; size limits on what is read."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from vocab import json_text
from wallet.errors import ServiceError, ServiceRefused

MAX_REDIRECTS = 5
MAX_BYTES = 8 * 1024 * 1024
REDIRECTS = (301, 302, 303, 307, 308)
USER_AGENT = "dbp-wallet/0.1"


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Answer:
    """A response, read in full (within MAX_BYTES)."""

    status: int
    headers: httpx.Headers
    content: bytes


class Http:
    def __init__(
        self, *, insecure_http: bool = False, timeout_s: float = 10.0, client=None
    ) -> None:
        self.insecure_http = insecure_http
        self.timeout_s = timeout_s
        self._client = client or httpx.Client(timeout=timeout_s, headers={"User-Agent": USER_AGENT})

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Http:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def check_url(self, url: str) -> None:
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError for a malformed port
        except ValueError as exc:
            raise ServiceError(f"{url!r} is not a usable URL: {exc}") from None
        if parts.scheme == "https" and parts.hostname:
            return
        if parts.scheme == "http" and parts.hostname:
            if is_loopback(parts.hostname) or self.insecure_http:
                return
            raise ServiceError(
                f"refusing plain HTTP to {parts.hostname} ({url}); use https, or "
                "--insecure-http if you trust the network"
            )
        raise ServiceError(f"{url!r} is not an http(s) URL")

    def _send(self, method: str, url: str, **kwargs: Any) -> Answer:
        self.check_url(url)
        try:
            request = self._client.build_request(method, url, **kwargs)
            response = self._client.send(request, stream=True, follow_redirects=False)
            try:
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_BYTES:
                        raise ServiceError(f"{url} sent more than {MAX_BYTES} bytes")
            finally:
                response.close()
        except httpx.TimeoutException:
            raise ServiceError(f"{url} did not answer within {self.timeout_s:g} s") from None
        except httpx.HTTPError as exc:
            host = urlsplit(url).netloc
            raise ServiceError(f"cannot reach {host} ({exc.__class__.__name__})") from None
        except httpx.InvalidURL as exc:
            raise ServiceError(f"{url!r} is not a usable URL: {exc}") from None
        return Answer(response.status_code, response.headers, bytes(body))

    def request(self, method: str, url: str, **kwargs: Any) -> tuple[str, Answer]:
        """Send, following redirects (each hop checked); returns (final URL, response). A 303
        turns into a GET; 307 and 308 repeat the method and body, as RFC 9110 says."""
        for _ in range(MAX_REDIRECTS + 1):
            response = self._send(method, url, **kwargs)
            if response.status not in REDIRECTS:
                return url, response
            location = response.headers.get("location")
            if not location:
                raise ServiceError(f"{url} answered {response.status} without a Location")
            url = urljoin(url, location)
            if response.status == 303:
                method = "GET"
                kwargs.pop("content", None)
                kwargs.pop("json", None)
        raise ServiceError(f"more than {MAX_REDIRECTS} redirects, last to {url}")

    def json(self, method: str, url: str, **kwargs: Any) -> tuple[str, Any]:
        """A JSON answer, or ServiceRefused for a problem / ServiceError for anything else."""
        final, response = self.request(method, url, **kwargs)
        if response.status >= 400:
            raise refusal(final, response)
        try:
            # credentials and presentations come back here: one JSON, one meaning
            return final, json_text.loads_lenient(response.content)
        except json_text.DuplicateKey as exc:
            raise ServiceError(f"{final} answered ambiguous JSON: {exc}") from None
        except ValueError:
            raise ServiceError(
                f"{final} answered HTTP {response.status} with something other than JSON"
            ) from None


def refusal(url: str, response: Answer) -> ServiceError:
    """An error response as an exception: an RFC 9457 problem names its type and detail."""
    try:
        problem = json.loads(response.content)
    except ValueError:
        problem = None
    if isinstance(problem, dict) and isinstance(problem.get("type"), str):
        kind = problem["type"].rstrip("/").rsplit("/", 1)[-1] or problem["type"]
        detail = problem.get("detail") or problem.get("title") or "(no detail)"
        return ServiceRefused(response.status, kind, str(detail))
    return ServiceError(f"{url} answered HTTP {response.status}")
