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
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import httpx

from infra.fetch import FetchFailed, HostNotAllowed, fetch
from proofs import dataintegrity
from proofs.dataintegrity import VerificationMethodResolver
from proofs.errors import ProofError
from resolver.didweb import DidWebPolicy
from verifier.credentials import CredentialCheck
from verifier.memo import ProofMemo
from verifier.result import Result
from vocab import bitstring, json_text
from vocab.datetimes import InvalidDateTime, parse_datetime, utcnow
from vocab.errors import VocabError
from vocab.vcdm import as_list, issuer_id

CHECK = "status"
_INDEX = re.compile(r"^(0|[1-9][0-9]*)$")
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*([0-9]+)")


class StatusListUnavailable(Exception):
    code = "status-list-unavailable"


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


class _Cache:
    def __init__(self, size: int = 256) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, _Cached] = {}
        self._size = size

    def get(self, url: str) -> _Cached | None:
        with self._lock:
            return self._items.get(url)

    def put(self, url: str, value: _Cached) -> None:
        with self._lock:
            if len(self._items) >= self._size:
                self._items.pop(next(iter(self._items)))
            self._items[url] = value


_cache = _Cache()


def _entries(credential: dict) -> list[dict]:
    return [
        e
        for e in as_list(credential.get("credentialStatus", []))
        if isinstance(e, dict) and e.get("type") == bitstring.ENTRY_TYPE
    ]


def _within_validity(document: dict, now: datetime) -> str | None:
    try:
        start = document.get("validFrom")
        end = document.get("validUntil")
        if start and now < parse_datetime(start, require_timezone=False):
            return f"the status list is not valid before {start}"
        if end and now > parse_datetime(end, require_timezone=False):
            return f"the status list expired at {end}"
    except InvalidDateTime as exc:
        return f"the status list has a malformed validity period: {exc}"
    return None


def check_entry(
    credential: dict,
    entry: dict,
    fetch: Callable[[str], dict],
    resolve: VerificationMethodResolver,
    now: datetime,
    result: Result,
    proof_memo: ProofMemo | None = None,
) -> None:
    purpose = entry.get("statusPurpose")
    index_text = entry.get("statusListIndex")
    url = entry.get("statusListCredential")
    if not isinstance(purpose, str) or not isinstance(url, str):
        result.failed(
            CHECK,
            "a status entry lacks statusPurpose or statusListCredential",
            "malformed-status-entry",
        )
        return
    if not isinstance(index_text, str) or not _INDEX.match(index_text):
        result.failed(
            CHECK, "statusListIndex must be a base-10 integer string", "malformed-status-entry"
        )
        return
    if entry.get("statusSize", 1) != 1:
        result.failed(CHECK, "statusSize other than 1 is not supported", "unsupported-status-size")
        return
    index = int(index_text)
    try:
        status_list = fetch(url)
    except StatusListUnavailable as exc:
        result.failed(CHECK, exc, StatusListUnavailable.code)
        return
    types = as_list(status_list.get("type", []))
    subject = status_list.get("credentialSubject")
    if bitstring.LIST_CREDENTIAL_TYPE not in types or not isinstance(subject, dict):
        result.failed(
            CHECK, f"{url} is not a {bitstring.LIST_CREDENTIAL_TYPE}", "status-list-malformed"
        )
        return
    # The list's bytes change with every status change, so a content-keyed memo stays exact.
    verify = proof_memo.verify_proof if proof_memo is not None else dataintegrity.verify_proof
    try:
        proofs = verify(status_list, resolve, expected_purpose="assertionMethod")
    except (ProofError, VocabError) as exc:
        result.failed(
            CHECK, f"the status list {url} does not verify: {exc}", "status-list-invalid-proof"
        )
        return
    issuer = issuer_id(credential)
    if issuer_id(status_list) != issuer or any(p.controller != issuer for p in proofs):
        result.failed(
            CHECK,
            f"the status list {url} is issued by {issuer_id(status_list)}, not by the credential's "
            f"issuer {issuer}",
            "status-list-issuer-mismatch",
        )
        return
    problem = _within_validity(status_list, now)
    if problem:
        result.failed(CHECK, problem, "status-list-expired")
        return
    if purpose not in as_list(subject.get("statusPurpose", [])):
        result.failed(
            CHECK,
            f"the status list {url} is for {subject.get('statusPurpose')!r}, the entry for "
            f"{purpose!r} (STATUS_VERIFICATION_ERROR)",
            "status-purpose-mismatch",
        )
        return
    try:
        bits = bitstring.decode(subject.get("encodedList"))
        value = bitstring.get_bit(bits, index)
    except bitstring.StatusListError as exc:
        result.failed(CHECK, exc, "status-list-malformed")
        return
    if not value:
        result.passed(CHECK, f"{purpose}: not set (index {index} of {url})")
    elif purpose == bitstring.REVOCATION:
        result.failed(CHECK, f"the credential is revoked (index {index} of {url})", "revoked")
    elif purpose == bitstring.SUSPENSION:
        result.failed(CHECK, f"the credential is suspended (index {index} of {url})", "suspended")
    else:
        result.warn(CHECK, f"status {purpose!r} is set (index {index} of {url})", purpose)


def status_check(
    fetch: Callable[[str], dict],
    resolve: VerificationMethodResolver,
    *,
    now: datetime | None = None,
    proof_memo: ProofMemo | None = None,
) -> CredentialCheck:
    """A `CredentialCheck` running the status list validation for every entry (`proof_memo`:
    the status list credentials' signature checks remembered per exact content)."""

    def check(credential: dict, result: Result) -> None:
        entries = _entries(credential)
        if not entries:
            result.skipped(CHECK, "the credential has no BitstringStatusListEntry")
            return
        moment = now or utcnow()
        for entry in entries:
            check_entry(credential, entry, fetch, resolve, moment, result, proof_memo)

    return check
