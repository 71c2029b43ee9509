"""Checking credentials on the holder's side, with the wallet's own DID resolution and HTTP,
through the one verification core (`proofs.verification`, the verifier's too): data model, proof
(Data Integrity, vc+jwt), that the issuer's key signed it, the validity window, and every
Bitstring Status List entry (the list fetched from where the credential says, its own proof and
issuer checked, then the bit read).

The service that answered a request is not trusted to say its data is authentic: that is the
point of verifying here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from proofs import verification
from wallet.dids import Resolver
from wallet.errors import WalletError
from wallet.net import Http

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"
# status-list fetcher: URL -> the BitstringStatusListCredential
FetchList = Callable[[str], dict[str, Any]]


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str

    def as_json(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status, "detail": self.detail}


@dataclass
class Verdict:
    """What the wallet found out about one credential."""

    credential: dict[str, Any] | None  # the credential itself (a vc+jwt's payload)
    checks: list[Check] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        return bool(self.checks) and not any(c.status == FAILED for c in self.checks)

    @property
    def first_failure(self) -> Check | None:
        return next((c for c in self.checks if c.status == FAILED), None)

    def add(self, name: str, status: str, detail: str) -> None:
        self.checks.append(Check(name, status, detail))

    @classmethod
    def of(cls, result: verification.Result) -> Verdict:
        """The wallet's view of the core's result: its checks up to the first failure."""
        verdict = cls(result.document)
        for check in result.checks:
            status = SKIPPED if check.status == "skipped" else check.status
            verdict.add(check.name, status, check.detail)
            if check.status == FAILED:
                break
        return verdict


def fetch_status_list(http: Http) -> FetchList:
    def fetch(url: str) -> dict[str, Any]:
        _, document = http.json(
            "GET", url, headers={"Accept": "application/vc+ld+json, application/json"}
        )
        if not isinstance(document, dict):
            raise WalletError(f"{url} did not return a JSON object")
        return document

    return fetch


def verify_credential(
    document: object,
    resolver: Resolver,
    fetch_list: FetchList,
    *,
    now: datetime | None = None,
) -> Verdict:
    """The one verification core (`proofs.verification`, the verifier's too) with the wallet's
    DID resolution and status lists: data model, proof, issuer, validity (VC 1.1 dates too),
    status. The verdict stops at the first failed check."""
    result = verification.verify_credential(
        document,
        resolver.verification_method,
        now=now,
        extra_checks=[
            verification.status_check(
                _status_lists(fetch_list), resolver.verification_method, now=now
            )
        ],
        key_errors=(WalletError,),
    )
    return Verdict.of(result)


def _status_lists(fetch_list: FetchList) -> FetchList:
    def fetch(url: str) -> dict[str, Any]:
        try:
            return fetch_list(url)
        except WalletError as exc:
            raise verification.StatusListUnavailable(
                f"the status list {url} cannot be fetched: {exc}"
            ) from None

    return fetch
