"""The operator's side of a hand-over, over HTTP: offer a battery to another operator, accept an
offer. The operators' keys stay in their dbp instances (each instance signs for its operator);
this module only carries the credentials between them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

import httpx

TIMEOUT_S = 30.0
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class HandoverError(Exception):
    """A failure to tell the user in one line."""


@dataclass(frozen=True)
class Service:
    url: str
    token: str

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url.rstrip("/"),
            headers={"Authorization": f"Bearer {self.token}", "Accept": "application/json"},
            timeout=TIMEOUT_S,
        )


def parse_duration(text: str) -> int:
    """`90s`, `15m`, `12h`, `7d`, `2w` (or plain seconds) -> seconds."""
    match = _DURATION.match(text or "")
    if not match or int(match.group(1)) <= 0:
        raise ValueError(f"{text!r} is not a duration like 30m, 12h or 7d")
    return int(match.group(1)) * _UNITS[match.group(2)]


def _message(response: httpx.Response) -> str:
    """The problem's detail (RFC 9457), or the status line."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        return body["detail"]
    return f"the service answered HTTP {response.status_code}"


def _post(client: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    try:
        response = client.post(path, json=body)
    except httpx.HTTPError as exc:
        raise HandoverError(
            f"cannot reach the dbp service at {client.base_url} ({exc.__class__.__name__})"
        ) from None
    if response.status_code >= 400:
        raise HandoverError(_message(response))
    try:
        answer = response.json()
    except ValueError:
        raise HandoverError(f"{client.base_url} did not answer with JSON") from None
    if not isinstance(answer, dict):
        raise HandoverError(f"{client.base_url} answered with something other than an object")
    return answer


def offer(
    client: httpx.Client,
    battery: str,
    to: str,
    *,
    endpoint: str | None = None,
    ttl_seconds: int | None = None,
) -> dict[str, Any]:
    """`POST /batteries/{battery}/transfers`: the signed offer and its transfer id."""
    body: dict[str, Any] = {"to": to}
    if endpoint:
        body["endpoint"] = endpoint
    if ttl_seconds is not None:
        body["ttlSeconds"] = ttl_seconds
    return _post(client, f"/batteries/{quote(battery, safe='')}/transfers", body)


def accept(client: httpx.Client, credential: dict[str, Any]) -> dict[str, Any]:
    """`POST /transfers/accept`: countersigned at the caller's instance and completed at the
    instance that made the offer."""
    return _post(client, "/transfers/accept", {"verifiableCredential": credential})


def _offers_in(value: Any, where: str) -> list[dict[str, Any]]:
    """Offers in a file: one credential, a list of them, or the answers of the offer endpoint."""
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("verifiableCredential"), dict):
            item = item["verifiableCredential"]
        if not isinstance(item, dict) or "BatteryTransferCredential" not in item.get("type", []):
            raise HandoverError(f"{where} does not hold a BatteryTransferCredential")
        out.append(item)
    return out


def read_offers(sources: Iterable[str], stdin: IO[str]) -> list[dict[str, Any]]:
    offers: list[dict[str, Any]] = []
    for source in sources:
        where = "standard input" if source == "-" else source
        try:
            text = stdin.read() if source == "-" else Path(source).read_text("utf-8")
        except OSError as exc:
            raise HandoverError(f"cannot read {where}: {exc.strerror}") from None
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise HandoverError(f"{where} is not JSON ({exc.msg} at line {exc.lineno})") from None
        offers += _offers_in(value, where)
    return offers


def read_batteries(source: str, stdin: IO[str]) -> list[str]:
    """Battery ids, one a line (blank lines and `#` comments skipped)."""
    try:
        text = stdin.read() if source == "-" else Path(source).read_text("utf-8")
    except OSError as exc:
        raise HandoverError(f"cannot read {source}: {exc.strerror}") from None
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line]
