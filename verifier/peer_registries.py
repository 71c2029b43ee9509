"""Trust anchors from peer registries: other dbp instances' `GET /trust-registry` that this
instance's registry names under `peerRegistries` (verifier.trust).

Each peer's answer is kept with its ETag. It is re-validated with `If-None-Match` once
`refresh_s` has passed since the last attempt, by the first request that finds it due, while
other requests go on with what is kept (only a peer never fetched yet makes them wait for it).
A failed fetch or an unusable answer keeps the last good anchors and is reported by
`dbp trust show`; it never stops the service.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from infra.fetch import FetchError, FetchPolicy, fetch
from verifier.trust import ROLES, PeerRegistry, TrustAnchor
from vocab import json_text
from vocab.datetimes import format_datetime, utcnow

log = logging.getLogger("dbp.verifier")

MAX_ANCHORS = 1000


@dataclass(frozen=True)
class PeerAnswer:
    status: int
    body: bytes
    etag: str | None


# fetch(url, etag) -> the peer's answer; raises FetchError (refused, unreachable, too large).
PeerFetch = Callable[[str, str | None], PeerAnswer]


class PeerAnswerInvalid(ValueError):
    pass


def http_fetcher(client: httpx.Client, policy: FetchPolicy) -> PeerFetch:
    """Peer registries through the one outbound fetch (allowed hosts, limits, no redirects)."""

    def get(url: str, etag: str | None) -> PeerAnswer:
        headers = {"Accept": "application/json"}
        if etag:
            headers["If-None-Match"] = etag
        answer = fetch(client, policy, "GET", url, headers=headers)
        return PeerAnswer(answer.status, answer.body, answer.headers.get("etag"))

    return get


def parse_peer_anchors(body: bytes, peer: PeerRegistry) -> tuple[TrustAnchor, ...]:
    """The anchors a peer's registry lists as its own (not those it took from its peers), each
    limited to the roles this instance lets that peer vouch for."""
    try:
        data = json_text.loads(body)
    except ValueError as exc:
        raise PeerAnswerInvalid(f"not JSON: {exc}") from None
    entries = data.get("trustAnchors") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise PeerAnswerInvalid("no trustAnchors list")
    if len(entries) > MAX_ANCHORS:
        raise PeerAnswerInvalid(f"more than {MAX_ANCHORS} trust anchors")
    out = []
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("via") is not None:
            continue  # not transitive: only the peer's own anchors
        did, roles, name = entry.get("id"), entry.get("accredits"), entry.get("name")
        if not isinstance(did, str) or not did.startswith("did:") or not isinstance(roles, list):
            continue
        granted = {r for r in roles if isinstance(r, str)} & ROLES
        if peer.accredits is not None:
            granted &= peer.accredits
        if granted:
            out.append(
                TrustAnchor(
                    did, frozenset(granted), name if isinstance(name, str) else None, peer.url
                )
            )
    return tuple(out)


@dataclass
class _Kept:
    anchors: tuple[TrustAnchor, ...] = ()
    etag: str | None = None
    body: bytes | None = None
    attempted: float | None = None  # monotonic time of the last attempt
    fetched_at: datetime | None = None  # last good answer (200 or 304)
    error: str | None = None


class PeerAnchors:
    """The anchors of the peer registries, kept and refreshed (see the module docstring)."""

    def __init__(
        self,
        fetcher: PeerFetch | None,
        refresh_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetcher
        self._refresh_s = refresh_s
        self._clock = clock
        self._kept: dict[str, _Kept] = {}
        self._lock = threading.Lock()

    def anchors(self, peers: Sequence[PeerRegistry]) -> list[TrustAnchor]:
        out: list[TrustAnchor] = []
        for peer in peers:
            out.extend(self._anchors_of(peer))
        return out

    def _due(self, kept: _Kept | None) -> bool:
        return (
            kept is None
            or kept.attempted is None
            or (self._clock() - kept.attempted >= self._refresh_s)
        )

    def _anchors_of(self, peer: PeerRegistry) -> tuple[TrustAnchor, ...]:
        kept = self._kept.get(peer.url)
        if self._fetch is None or not self._due(kept):
            return kept.anchors if kept else ()
        # one refresh at a time; only while nothing is kept do the others wait for it
        if not self._lock.acquire(blocking=kept is None or kept.fetched_at is None):
            return kept.anchors if kept else ()
        try:
            kept = self._kept.get(peer.url)
            if self._due(kept):
                kept = self._refresh(peer, kept or _Kept())
                self._kept[peer.url] = kept
            return kept.anchors if kept else ()
        finally:
            self._lock.release()

    def _refresh(self, peer: PeerRegistry, kept: _Kept) -> _Kept:
        assert self._fetch is not None
        attempted = self._clock()
        try:
            answer = self._fetch(peer.url, kept.etag if kept.body is not None else None)
            if answer.status == 304 and kept.body is not None:
                body, etag = kept.body, kept.etag
            elif answer.status == 200:
                body, etag = answer.body, answer.etag
            else:
                raise PeerAnswerInvalid(f"HTTP {answer.status}")
            anchors = parse_peer_anchors(body, peer)
        except (FetchError, PeerAnswerInvalid) as exc:
            message = f"peer registry {peer.url}: {exc}; its last good anchors stay in force"
            log.warning("trust: %s", message)
            return _Kept(kept.anchors, kept.etag, kept.body, attempted, kept.fetched_at, str(exc))
        return _Kept(anchors, etag, body, attempted, utcnow(), None)

    def report(self, peers: Iterable[PeerRegistry]) -> list[dict[str, Any]]:
        """Per peer: when its registry was last read, its ETag, the last error."""
        out = []
        for peer in peers:
            kept = self._kept.get(peer.url) or _Kept()
            item: dict[str, Any] = {**peer.as_json(), "anchors": len(kept.anchors)}
            if kept.fetched_at is not None:
                item["fetched"] = format_datetime(kept.fetched_at)
            if kept.etag:
                item["etag"] = kept.etag
            if kept.error:
                item["error"] = kept.error
            out.append(item)
        return out
