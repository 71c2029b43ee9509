"""Checking credentials on the holder's side, with the wallet's own DID resolution and HTTP:
data model, proof (Data Integrity via `proofs.dataintegrity`, vc+jwt via `proofs.jose`), that the
issuer's key signed it, the validity window, and every Bitstring Status List entry (the list
fetched from where the credential says, its own proof and issuer checked, then the bit read).

The service that answered a request is not trusted to say its data is authentic: that is the
point of verifying here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from proofs import dataintegrity, jose
from proofs.errors import ProofError
from vocab import bitstring
from vocab.datetimes import InvalidDateTime, parse_datetime, utcnow
from vocab.errors import VocabError
from vocab.vcdm import as_list, check_credential, issuer_id
from wallet.credentials import is_enveloped
from wallet.dids import Resolver
from wallet.errors import WalletError
from wallet.net import Http

_INDEX = re.compile(r"0|[1-9][0-9]*")
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
    now = now or utcnow()
    if not isinstance(document, dict):
        verdict = Verdict(None)
        verdict.add("dataModel", FAILED, "not a JSON object")
        return verdict
    credential: Any = document
    verdict = Verdict(None)
    if is_enveloped(document):
        try:
            credential = jose.verify_jwt(
                jose.unwrap_envelope(document),
                resolver.verification_method,
                expected_typ=jose.VC_JWT,
                now=now,
            )
        except (ProofError, VocabError) as exc:
            verdict.add("proof", FAILED, str(exc))
            return verdict
        verdict.credential = credential
        verdict.add("proof", PASSED, "vc+jwt signature verified")
        verdict.add("issuer", PASSED, f"signed with a key of the issuer {issuer_id(credential)}")
    else:
        verdict.credential = credential
    try:
        check_credential(credential, lenient_time=True)
    except VocabError as exc:
        verdict.add("dataModel", FAILED, str(exc))
        return verdict
    verdict.add("dataModel", PASSED, "VC Data Model")
    issuer = issuer_id(credential)
    if not is_enveloped(document):
        try:
            proofs = dataintegrity.verify_proof(
                credential,
                resolver.verification_method,
                expected_purpose="assertionMethod",
                now=now,
            )
        except (ProofError, VocabError) as exc:
            verdict.add("proof", FAILED, str(exc))
            return verdict
        verdict.add(
            "proof",
            PASSED,
            ", ".join(f"{p.cryptosuite or p.type} by {p.verification_method}" for p in proofs),
        )
        strangers = sorted({p.controller for p in proofs if p.controller != issuer})
        if strangers:
            signers = ", ".join(strangers)
            verdict.add("issuer", FAILED, f"signed by {signers}, not the issuer {issuer}")
            return verdict
        verdict.add("issuer", PASSED, f"signed by the issuer {issuer}")
    _check_validity(credential, now, verdict)
    _check_status(credential, resolver, fetch_list, now, verdict)
    return verdict


def _window(document: dict[str, Any], now: datetime) -> str | None:
    """Why `now` is outside the document's validFrom/validUntil, or None."""
    try:
        start, end = document.get("validFrom"), document.get("validUntil")
        if start and now < parse_datetime(start, require_timezone=False):
            return f"not valid before {start}"
        if end and now > parse_datetime(end, require_timezone=False):
            return f"expired at {end}"
    except InvalidDateTime as exc:
        return f"malformed validity period: {exc}"
    return None


def _check_validity(credential: dict[str, Any], now: datetime, verdict: Verdict) -> None:
    problem = _window(credential, now)
    if problem:
        verdict.add("validity", FAILED, f"the credential is {problem}")
    else:
        verdict.add("validity", PASSED, "within its validity period")


def _check_status(
    credential: dict[str, Any],
    resolver: Resolver,
    fetch_list: FetchList,
    now: datetime,
    verdict: Verdict,
) -> None:
    entries = [
        e
        for e in as_list(credential.get("credentialStatus", []))
        if isinstance(e, dict) and e.get("type") == bitstring.ENTRY_TYPE
    ]
    if not entries:
        verdict.add("status", SKIPPED, "no BitstringStatusListEntry")
        return
    found = []
    for entry in entries:
        problem = _entry_problem(credential, entry, resolver, fetch_list, now)
        if problem:
            verdict.add("status", FAILED, problem)
            return
        found.append(str(entry.get("statusPurpose")))
    verdict.add("status", PASSED, f"not set: {', '.join(found)}")


def _entry_problem(
    credential: dict[str, Any],
    entry: dict[str, Any],
    resolver: Resolver,
    fetch_list: FetchList,
    now: datetime,
) -> str | None:
    purpose, url, index = (
        entry.get("statusPurpose"),
        entry.get("statusListCredential"),
        entry.get("statusListIndex"),
    )
    if not isinstance(purpose, str) or not isinstance(url, str):
        return "a status entry lacks statusPurpose or statusListCredential"
    if not isinstance(index, str) or not _INDEX.fullmatch(index):
        return "statusListIndex must be a base-10 integer string"
    if entry.get("statusSize", 1) != 1:
        return "statusSize other than 1 is not supported"
    try:
        status_list = fetch_list(url)
    except WalletError as exc:
        return f"the status list {url} cannot be fetched: {exc}"
    subject = status_list.get("credentialSubject")
    if bitstring.LIST_CREDENTIAL_TYPE not in as_list(status_list.get("type", [])) or not (
        isinstance(subject, dict)
    ):
        return f"{url} is not a {bitstring.LIST_CREDENTIAL_TYPE}"
    try:
        proofs = dataintegrity.verify_proof(
            status_list, resolver.verification_method, expected_purpose="assertionMethod", now=now
        )
    except (ProofError, VocabError) as exc:
        return f"the status list {url} does not verify: {exc}"
    issuer = issuer_id(credential)
    if issuer_id(status_list) != issuer or any(p.controller != issuer for p in proofs):
        return f"the status list {url} is not issued by the credential's issuer {issuer}"
    problem = _window(status_list, now)
    if problem:
        return f"the status list {url} is {problem}"
    if purpose not in as_list(subject.get("statusPurpose", [])):
        return f"the status list {url} is not for {purpose!r}"
    try:
        value = bitstring.get_bit(bitstring.decode(subject.get("encodedList")), int(index))
    except bitstring.StatusListError as exc:
        return str(exc)
    if value:
        word = {"revocation": "revoked", "suspension": "suspended"}.get(purpose, f"{purpose} set")
        return f"the credential is {word} (index {index} of {url})"
    return None
