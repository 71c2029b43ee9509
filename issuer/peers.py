"""Calls to other dbp instances during a hand-over: completing a transfer at the instance that
offered it, and telling it that a new passport succeeds one of its passports.

Only instances the operator of this one allows are called (`DBP_DID_WEB_ALLOWED_HOSTS`: `host`
entries over HTTPS, `http://host:port` entries over plain HTTP for local set-ups), with the same
time limit as DID fetches, and their refusals come back as problems of our own."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from issuer.errors import PeerNotAllowed, PeerRefused, PeerUnreachable
from resolver.didweb import DidWebPolicy
from vocab.problems import PROBLEM_BASE


def origin_of(url: str) -> str:
    """`http://host:port` of a URL (lower-case host), the key of the allow list."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{(parts.netloc or '').lower()}"


def check_allowed(base_url: str, policy: DidWebPolicy) -> None:
    parts = urlsplit(base_url)
    host = (parts.netloc or "").lower()
    if parts.scheme == "http" and f"http://{host}" in policy.allowed_hosts:
        return
    if parts.scheme == "https" and host in policy.allowed_hosts:
        return
    raise PeerNotAllowed(
        f"{origin_of(base_url)} is not an allowed dbp instance (DBP_DID_WEB_ALLOWED_HOSTS); "
        "this instance only calls instances its operator allows"
    )


def post_json(
    client: httpx.Client, policy: DidWebPolicy, url: str, body: dict[str, Any]
) -> dict[str, Any]:
    """POST `body` to another instance; its JSON answer, or a problem explaining the failure."""
    check_allowed(url, policy)
    where = origin_of(url)
    try:
        response = client.post(
            url,
            content=orjson.dumps(body),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            timeout=policy.timeout_s,
            follow_redirects=False,
        )
    except httpx.HTTPError as exc:
        raise PeerUnreachable(
            f"the dbp instance at {where} did not answer ({exc.__class__.__name__}); "
            "nothing was changed here, try again later"
        ) from None
    try:
        answer = orjson.loads(response.content) if response.content else {}
    except orjson.JSONDecodeError:
        answer = None
    if response.status_code >= 500 or not isinstance(answer, dict):
        raise PeerUnreachable(
            f"the dbp instance at {where} failed (HTTP {response.status_code}); "
            "nothing was changed here, try again later"
        )
    if response.status_code >= 300:
        code = str(answer.get("type", "")).removeprefix(PROBLEM_BASE) or "peer-refused"
        detail = answer.get("detail") or f"HTTP {response.status_code}"
        status = response.status_code if 400 <= response.status_code < 500 else 502
        raise PeerRefused(f"{where} refused: {detail}", code=code, status=status)
    return answer
