"""Calls to other dbp instances during a hand-over: completing a transfer at the instance that
offered it, and telling it that a new passport succeeds one of its passports.

Only instances the operator of this one allows are called (`DBP_DID_WEB_ALLOWED_HOSTS`: `host`
entries over HTTPS, `http://host:port` entries over plain HTTP for local set-ups), with the same
time limit as DID fetches, through the one outbound-fetch function (infra/fetch.py: public
addresses only unless named explicitly, DNS resolved once, size cap, no redirects), and their
refusals come back as problems of our own."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from infra.fetch import FetchFailed, HostNotAllowed, fetch
from issuer.errors import PeerNotAllowed, PeerRefused, PeerUnreachable
from resolver.didweb import DidWebPolicy
from vocab import json_text
from vocab.problems import PROBLEM_BASE


def origin_of(url: str) -> str:
    """`http://host:port` of a URL (lower-case host), the key of the allow list."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{(parts.netloc or '').lower()}"


def post_json(
    client: httpx.Client, policy: DidWebPolicy, url: str, body: dict[str, Any]
) -> dict[str, Any]:
    """POST `body` to another instance; its JSON answer, or a problem explaining the failure."""
    where = origin_of(url)
    try:
        response = fetch(
            client,
            policy,
            "POST",
            url,
            content=orjson.dumps(body),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
    except HostNotAllowed as exc:
        raise PeerNotAllowed(
            f"{where} is not an allowed dbp instance ({exc}); this instance only calls instances "
            "its operator allows"
        ) from None
    except FetchFailed as exc:
        raise PeerUnreachable(
            f"the dbp instance at {where} did not answer ({exc}); nothing was changed here, try "
            "again later"
        ) from None
    try:
        answer = json_text.loads(response.body) if response.body else {}
    except ValueError:
        answer = None
    if response.status >= 500 or not isinstance(answer, dict):
        raise PeerUnreachable(
            f"the dbp instance at {where} failed (HTTP {response.status}); "
            "nothing was changed here, try again later"
        )
    if response.status >= 300:
        code = str(answer.get("type", "")).removeprefix(PROBLEM_BASE) or "peer-refused"
        detail = answer.get("detail") or f"HTTP {response.status}"
        status = response.status if 400 <= response.status < 500 else 502
        raise PeerRefused(f"{where} refused: {detail}", code=code, status=status)
    return answer
