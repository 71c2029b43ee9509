"""Talking to the EU DPP registry: one interface, one implementation for the CIRPASS-2 mock
registry's API (`POST /metadata/v1/registerDPP`, bearer token of an economic operator)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from typing import Protocol

import httpx
from jsonschema import Draft202012Validator, FormatChecker

from vocab.datetimes import InvalidDateTime, as_utc, parse_datetime, utcnow

# Implementing Regulation (EU) 2026/1778: a proof of registration is valid for 90 days.
PROOF_VALIDITY = timedelta(days=90)


@dataclass(frozen=True)
class Registered:
    registry_id: str
    registered_at: datetime
    valid_until: datetime
    answer: dict


class RegistryRefused(Exception):
    """The registry refused the entry (bad or incomplete metadata, a UPI it will not take): sending
    the same entry again will not help. `answer` is what it said."""

    def __init__(self, message: str, answer: dict) -> None:
        super().__init__(message)
        self.answer = answer


class RegistryUnavailable(Exception):
    """The entry did not get through (unreachable, timed out, busy, token refused): try later."""


class RegistryClient(Protocol):
    def register(self, metadata: dict) -> Registered: ...


@cache
def metadata_validator() -> Draft202012Validator:
    schema = json.loads(
        resources.files("issuer.dppregistry").joinpath("metadata.schema.json").read_text()
    )
    return Draft202012Validator(schema, format_checker=FormatChecker())


def metadata_errors(metadata: dict) -> list[dict]:
    """What the registry's JSON Schema finds wrong with an entry (empty: nothing)."""
    return [
        {"path": "/" + "/".join(str(p) for p in error.absolute_path), "message": error.message}
        for error in sorted(metadata_validator().iter_errors(metadata), key=str)
    ]


def _answer_of(response: httpx.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        body = response.text[:2000]
    return {"status": response.status_code, "body": body}


def _valid_until(body: dict, registered_at: datetime) -> datetime:
    # The mock registry gives no proof of registration; a registry that does (the Commission's)
    # says until when it is valid. Otherwise the 90 days count from the answer.
    proof = body.get("proofOfRegistration")
    if isinstance(proof, dict) and isinstance(proof.get("validUntil"), str):
        try:
            return as_utc(parse_datetime(proof["validUntil"]))
        except InvalidDateTime:
            pass
    return registered_at + PROOF_VALIDITY


class CirpassRegistryClient:
    """The CIRPASS-2 mock EU registry's REST API."""

    def __init__(
        self, base_url: str, token: str | None, *, timeout_s: float, http: httpx.Client
    ) -> None:
        self.url = base_url.rstrip("/") + "/metadata/v1/registerDPP"
        self.headers = {"Accept": "application/json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.timeout_s = timeout_s
        self.http = http

    def register(self, metadata: dict) -> Registered:
        try:
            response = self.http.post(
                self.url, json=metadata, headers=self.headers, timeout=self.timeout_s
            )
        except httpx.HTTPError as exc:
            raise RegistryUnavailable(
                f"registry not reached ({exc.__class__.__name__}: {exc})"
            ) from None
        status = response.status_code
        if status in (200, 201):
            try:
                body = response.json()
                registry_id = str(body["registryId"])
            except (ValueError, KeyError, TypeError):
                raise RegistryUnavailable(
                    f"registry answered {status} without a registryId"
                ) from None
            now = utcnow()
            return Registered(registry_id, now, _valid_until(body, now), _answer_of(response))
        answer = _answer_of(response)
        if status in (400, 409, 422):
            raise RegistryRefused(f"registry refused the entry ({status})", answer)
        # 401/403: our token, not the entry; 408/429/5xx: the registry's state. Both pass.
        raise RegistryUnavailable(f"registry answered {status}: {str(answer['body'])[:300]}")
