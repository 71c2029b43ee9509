"""Federated passport search: the authority portal's search (and `GET /passports?peers=true`)
asks the peer dbp instances this one is configured to query (DBP_AUTHORITY_PEERS) the same
question over their own `GET /passports`, and merges the answers, each row labelled with the
instance it came from.

Every call goes through the one outbound fetch (infra/fetch.py): only hosts allowed by
DBP_DID_WEB_ALLOWED_HOSTS, a time limit per peer (DBP_AUTHORITY_PEER_TIMEOUT_S), a size cap, no
redirects. Peers are asked in parallel; a peer that is not allowed, does not answer in time,
refuses (no or a wrong token, or it does not trust this instance's presentation: lasting peer
trust, portal/peer_trust.py) or answers something unusable is reported as such with the reason,
next to the answers of the others: never a 500, never silently left out. A peer is asked without
`peers=true`, so a query never travels further than one hop (no loops between instances)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx

from infra.fetch import FetchFailed, FetchPolicy, HostNotAllowed, fetch
from portal.peer_trust import PeerRefusedChallenge
from vocab import json_text

OK, NOT_ALLOWED, UNREACHABLE, REFUSED, FAILED = (
    "ok",
    "not-allowed",
    "unreachable",
    "refused",
    "failed",
)
# the members of a listed passport a peer's answer may carry (anything else is dropped)
FIELDS = (
    "id",
    "gtin",
    "serial",
    "batch",
    "itemUri",
    "category",
    "status",
    "model",
    "chemistry",
    "passportId",
    "operator",
    "registeredAt",
)
MAX_PEER_BYTES = 4 * 1024 * 1024


@dataclass
class PeerAnswer:
    """What one instance answered: its rows (each labelled `instance`) or why there are none."""

    instance: str
    state: str = OK
    error: str | None = None
    items: list[dict[str, Any]] = field(default_factory=list)
    more: bool = False  # the peer has further pages (its `next`), continue there

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"instance": self.instance, "state": self.state}
        out["count"] = len(self.items)
        out["more"] = self.more
        if self.error:
            out["error"] = self.error
        return out


def _detail(body: bytes) -> str | None:
    try:
        problem = json_text.loads(body)
    except ValueError:
        return None
    if isinstance(problem, dict) and isinstance(problem.get("detail"), str):
        return problem["detail"][:300]
    return None


def _rows(body: bytes, instance: str, limit: int) -> tuple[list[dict[str, Any]], bool]:
    """The rows of a peer's `GET /passports` answer; ValueError when it is not one."""
    data = json_text.loads(body)
    items = data.get("items") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ValueError("the answer has no items list")
    rows = []
    for item in items[:limit]:
        if not isinstance(item, dict):
            raise ValueError("an item of the answer is not an object")
        row: dict[str, Any] = {
            k: item[k] for k in FIELDS if isinstance(item.get(k), str | int) and k in item
        }
        if not isinstance(row.get("gtin"), str) or not isinstance(row.get("serial"), str):
            raise ValueError("an item of the answer has no GTIN or serial number")
        rows.append({**row, "instance": instance})
    more = len(items) > limit or bool(isinstance(data, dict) and data.get("next"))
    return rows, more


# peer URL -> the headers that vouch for the authority at that peer (portal.peer_trust)
Present = Callable[[str], dict[str, str]]


def ask(
    client: httpx.Client,
    policy: FetchPolicy,
    base_url: str,
    query: Mapping[str, str],
    token: str | None,
    limit: int,
    present: Present | None = None,
) -> PeerAnswer:
    """One peer's answer to `query` (the filters of GET /passports), never an exception. With
    `present`, the query carries this instance's presentation of the authority's credential
    (lasting peer trust); a peer that refuses it (it does not list this instance yet) is asked
    again with `token` when there is one, so configured tokens keep working meanwhile."""
    if present is None:
        return _ask(client, policy, base_url, query, token, limit, None)
    answer = _ask(client, policy, base_url, query, None, limit, present)
    if answer.state != REFUSED or not token:
        return answer
    fallback = _ask(client, policy, base_url, query, token, limit, None)
    if fallback.state != OK:
        fallback.error = f"{answer.error}; asked with its token instead: {fallback.error}"
    return fallback


def _ask(
    client: httpx.Client,
    policy: FetchPolicy,
    base_url: str,
    query: Mapping[str, str],
    token: str | None,
    limit: int,
    present: Present | None,
) -> PeerAnswer:
    answer = PeerAnswer(base_url)
    url = f"{base_url}/passports?{urlencode({**query, 'limit': str(limit)})}"
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        if present is not None:
            headers.update(present(base_url))
        fetched = fetch(client, policy, "GET", url, headers=headers, max_bytes=MAX_PEER_BYTES)
    except HostNotAllowed as exc:
        answer.state, answer.error = NOT_ALLOWED, str(exc)
        return answer
    except FetchFailed as exc:
        answer.state, answer.error = UNREACHABLE, str(exc)
        return answer
    except PeerRefusedChallenge as exc:
        answer.state, answer.error = REFUSED, str(exc)
        return answer
    if fetched.status in (401, 403):
        answer.state = REFUSED
        reason = _detail(fetched.body) or f"HTTP {fetched.status}"
        answer.error = f"the instance refused the query (HTTP {fetched.status}): {reason}"
        if present is not None:
            answer.error += (
                "; it must list this instance's DID in DBP_AUTHORITY_PEER_INSTANCES and trust "
                "the issuer of your AuthorityCredential"
            )
        elif fetched.status == 401:
            answer.error += (
                "; this instance has no valid token for it (DBP_AUTHORITY_PEER_TOKENS, a token "
                "from its POST /authority/tokens)"
            )
        return answer
    if fetched.status != 200:
        answer.state = FAILED
        reason = _detail(fetched.body)
        answer.error = f"the instance answered HTTP {fetched.status}" + (
            f": {reason}" if reason else ""
        )
        return answer
    try:
        answer.items, answer.more = _rows(fetched.body, base_url, limit)
    except ValueError as exc:
        answer.state, answer.error = FAILED, f"the instance's answer is not a passport list: {exc}"
    return answer


def ask_all(
    client: httpx.Client,
    policy: FetchPolicy,
    peers: Sequence[str],
    query: Mapping[str, str],
    tokens: Mapping[str, str],
    limit: int,
    present: Present | None = None,
) -> list[PeerAnswer]:
    """Every peer's answer, asked in parallel, in the order of `peers`."""
    if not peers:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(peers))) as pool:
        return list(
            pool.map(lambda p: ask(client, policy, p, query, tokens.get(p), limit, present), peers)
        )


def merged(local: list[dict[str, Any]], answers: Sequence[PeerAnswer]) -> list[dict[str, Any]]:
    """This instance's rows and the peers' rows, newest registration first (stable: ties keep
    this instance's rows first)."""
    rows = list(local)
    for answer in answers:
        rows += answer.items
    return sorted(rows, key=lambda r: str(r.get("registeredAt") or ""), reverse=True)
