"""The `status` check: W3C Bitstring Status List v1.0 validation (spec §3.2) for every
`BitstringStatusListEntry` of a credential.

For each entry: load the status list credential (from this service's own database when the URL is
under DBP_PUBLIC_URL, otherwise over HTTP from an allowed host only, with size and time limits and
caching by Cache-Control / `ttl`), verify its proof, require that its issuer is the credential's
issuer, that it is a BitstringStatusListCredential within its validity period whose purpose
matches the entry, then read the bit. A set bit fails the check with code `revoked` or
`suspended`.

Requiring the same issuer is this service's policy: the spec allows a different status issuer,
but nothing here could tell which other party is entitled to revoke an operator's credentials.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import httpx

from infra.fetch import FetchFailed, HostNotAllowed, fetch
from proofs import dataintegrity, verification
from proofs.dataintegrity import VerificationMethodResolver
from proofs.verification import CredentialCheck, StatusListUnavailable
from resolver.didweb import DidWebPolicy
from verifier.memo import ProofMemo
from vocab import json_text
from vocab.lru import Lru

CHECK = "status"
_INDEX = re.compile(r"^(0|[1-9][0-9]*)$")
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*([0-9]+)")


LocalLists = Callable[[str], "dict | None"]


@dataclass
class _Cached:
    document: dict
    etag: str | None
    fresh_until: float


class StatusListFetcher:
    """Loads status list credentials: local ones directly, foreign ones over HTTP under the same
    host allow-list as did:web, cached as long as Cache-Control max-age / `ttl` allow."""

    def __init__(
        self,
        *,
        own_prefix: str,
        local: LocalLists,
        policy: DidWebPolicy,
        client: httpx.Client | None = None,
        max_bytes: int = 4 * 1024 * 1024,
    ) -> None:
        self.own_prefix = own_prefix
        self.local = local
        self.policy = policy
        self.client = client
        self.max_bytes = max_bytes

    def __call__(self, url: str) -> dict:
        if url.startswith(self.own_prefix):
            document = self.local(url)
            if document is None:
                raise StatusListUnavailable(f"no status list {url} is published here")
            return document
        return self._fetch(url)

    def _fetch(self, url: str) -> dict:
        cached = _cache.get(url)
        if cached is not None and cached.fresh_until > time.monotonic():
            return cached.document
        headers = {"Accept": "application/vc+ld+json, application/json"}
        if cached is not None and cached.etag:
            headers["If-None-Match"] = cached.etag
        client = self.client or httpx.Client(trust_env=False)
        try:
            answer = fetch(
                client, self.policy, "GET", url, headers=headers, max_bytes=self.max_bytes
            )
        except HostNotAllowed as exc:
            raise StatusListUnavailable(f"status list {url}: {exc}") from None
        except FetchFailed as exc:
            raise StatusListUnavailable(str(exc)) from None
        finally:
            if self.client is None:
                client.close()
        if answer.status == 304 and cached is not None:
            cached.fresh_until = _fresh_until(answer.headers, cached.document)
            return cached.document
        if answer.status != 200:
            raise StatusListUnavailable(f"{url} answered HTTP {answer.status}")
        try:
            # a signed document: one JSON, one meaning (vocab/json_text.py)
            document = json_text.loads(answer.body)
        except ValueError:
            raise StatusListUnavailable(
                f"{url} did not return JSON (or names a member twice)"
            ) from None
        if not isinstance(document, dict):
            raise StatusListUnavailable(f"{url} did not return a JSON object")
        _cache.put(
            url,
            _Cached(document, answer.headers.get("etag"), _fresh_until(answer.headers, document)),
        )
        return document


def _fresh_until(headers: httpx.Headers, document: dict) -> float:
    """How long a fetched list may be used without asking again: the smaller of the HTTP
    max-age and the list's `ttl` (milliseconds); no-cache/no-store, or neither given: not at all."""
    control = headers.get("cache-control", "").lower()
    limits: list[float] = []
    if "no-cache" in control or "no-store" in control:
        limits.append(0)
    match = _MAX_AGE.search(control)
    if match:
        limits.append(float(match.group(1)))
    subject = document.get("credentialSubject")
    ttl = subject.get("ttl") if isinstance(subject, dict) else None
    if isinstance(ttl, int) and ttl > 0:
        limits.append(ttl / 1000)
    return time.monotonic() + (min(limits) if limits else 0)


class _Cache(Lru[_Cached]):
    """Fetched status lists by URL, at most `size` of them (the one bounded cache, vocab.lru)."""

    def __init__(self, size: int = 256) -> None:
        super().__init__(size)


_cache = _Cache()


def status_check(
    fetch: Callable[[str], dict],
    resolve: VerificationMethodResolver,
    *,
    now: datetime | None = None,
    proof_memo: ProofMemo | None = None,
) -> CredentialCheck:
    """The core's status check (`proofs.verification.status_check`) with `fetch` (usually a
    `StatusListFetcher`) and `proof_memo`: the status list credentials' signature checks
    remembered per exact content."""
    verify = proof_memo.verify_proof if proof_memo is not None else dataintegrity.verify_proof
    return verification.status_check(fetch, resolve, now=now, verify_proof=verify)
