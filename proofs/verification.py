"""The one verification core: the pure checks of a credential that the verifier (`verifier/`) and
the wallet (`wallet/verify.py`) both run, each by name, reporting what it found.

- envelope unwrapping (VC-JOSE `vc+jwt`), `dataModel` (VC Data Model 1.1 or 2.0, JSON-LD that
  drops nothing), `proof` (Data Integrity, legacy VC 1.1 suites, vc+jwt), `issuer` (the issuer
  made the proof), `validity` (validFrom/validUntil, or issuanceDate/expirationDate for VC 1.1);
- `status_check`: every Bitstring Status List entry (W3C Bitstring Status List v1.0 §3.2): the
  list credential fetched by a function handed in, its proof verified, its issuer the
  credential's, within its validity period, for the entry's purpose; then the bit read;
- `Result` / `Check`: what was found.

Pure: nothing is fetched or resolved here. The caller hands in the verification-method resolver,
the status-list fetcher, how a proof is verified (`verify_proof`, e.g. the verifier's memo) and
which of its own exceptions mean "the key could not be had" (`key_errors`). What else is checked
(schema, trust, related resources, the anchor) and in which order is the verifier's pipeline
(`verifier/pipeline.py`); the wallet runs the core with the status check only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from proofs import canonical, dataintegrity, jose
from proofs.dataintegrity import EDDSA_RDFC_2022, VerificationMethodResolver
from proofs.errors import ProofError
from vocab import bitstring
from vocab.datetimes import InvalidDateTime, has_timezone, parse_datetime, utcnow
from vocab.errors import VocabError
from vocab.problems import PROBLEM_BASE
from vocab.vcdm import as_list, check_credential, issuer_id

__all__ = [
    "ENVELOPED_VC",
    "ENVELOPED_VP",
    "Check",
    "CredentialCheck",
    "KeyErrors",
    "ProofVerifier",
    "Result",
    "StatusListUnavailable",
    "check_entry",
    "check_proofs",
    "is_enveloped",
    "status_check",
    "unwrap",
    "verify_credential",
]

ENVELOPED_VC = "EnvelopedVerifiableCredential"
ENVELOPED_VP = "EnvelopedVerifiablePresentation"
STATUS = "status"
_INDEX = re.compile(r"0|[1-9][0-9]*")

# The exceptions of the caller's resolver that mean a key could not be had (did:web host not
# allowed, fetch failed): they fail the proof check instead of escaping.
KeyErrors = tuple[type[Exception], ...]
# dataintegrity.verify_proof, or something answering like it (verifier.memo.ProofMemo)
ProofVerifier = Callable[..., list[dataintegrity.VerifiedProof]]


class StatusListUnavailable(Exception):
    """A status list credential could not be had; raised by the fetcher handed in."""

    code = "status-list-unavailable"


@dataclass
class Check:
    name: str
    status: str  # "passed", "failed", "skipped" or "warning"
    detail: str = ""
    code: str = ""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"check": self.name, "status": self.status}
        if self.detail:
            out["detail"] = self.detail
        if self.code:
            out["code"] = self.code
        return out


@dataclass
class Result:
    checks: list[Check] = field(default_factory=list)
    document: dict | None = None  # the credential/presentation that was checked (unwrapped)
    # DIDs whose keys made the verified proofs (or signed the JWT): who actually speaks for it.
    signers: list[str] = field(default_factory=list)
    # A presentation's embedded credentials, each with its own full result, in order.
    embedded: list[Result] = field(default_factory=list)
    presented: object = None  # the document as presented, before an envelope was unwrapped

    def passed(self, name: str, detail: str = "") -> None:
        self.checks.append(Check(name, "passed", detail))

    def failed(self, name: str, exc: Exception | str, code: str = "") -> None:
        detail = str(exc)
        code = code or str(getattr(exc, "code", "")) or name
        self.checks.append(Check(name, "failed", detail, code))

    def skipped(self, name: str, detail: str) -> None:
        self.checks.append(Check(name, "skipped", detail))

    def warn(self, name: str, detail: str, code: str = "") -> None:
        self.checks.append(Check(name, "warning", detail, code or name))

    def not_asked(self, names: set[str]) -> None:
        """Failed checks the caller did not ask for (VC-API options.checks) become warnings: they
        are still reported, but they do not decide `verified`."""
        for check in self.checks:
            # an embedded credential's checks are prefixed (verifiableCredential[0].issuer)
            if check.status == "failed" and check.name.rsplit(".", 1)[-1] in names:
                check.status = "warning"
                check.detail = f"{check.detail} (not among options.checks)"

    def extend(self, other: Result, prefix: str) -> None:
        for check in other.checks:
            self.checks.append(
                Check(f"{prefix}.{check.name}", check.status, check.detail, check.code)
            )

    @property
    def verified(self) -> bool:
        return not any(c.status == "failed" for c in self.checks)

    def failed_names(self) -> list[str]:
        return [c.name for c in self.checks if c.status == "failed"]

    def as_dict(self) -> dict[str, Any]:
        def problem(c: Check) -> dict[str, Any]:
            return {
                "type": PROBLEM_BASE + c.code,
                "title": c.name,
                "detail": c.detail,
                "check": c.name,
            }

        errors = [problem(c) for c in self.checks if c.status == "failed"]
        return {
            "verified": self.verified,
            "checks": [c.name for c in self.checks if c.status == "passed"],
            "warnings": [problem(c) for c in self.checks if c.status == "warning"],
            "errors": errors,
            # VC-API VerificationResult names the same RFC 9457 objects problemDetails.
            "problemDetails": errors,
            "results": [c.as_dict() for c in self.checks],
        }


# An extra check looks at a credential that passed the proof check and records its outcome.
CredentialCheck = Callable[[dict, Result], None]


def is_enveloped(document: object, kind: str = ENVELOPED_VC) -> bool:
    return isinstance(document, dict) and kind in as_list(document.get("type", []))


def unwrap(
    document: dict,
    typ: str,
    resolve: VerificationMethodResolver,
    result: Result,
    key_errors: KeyErrors = (),
) -> tuple[dict, dict] | None:
    """(the enveloped credential or presentation, the JWT claims), or None when it failed."""
    try:
        token, parsed = jose.unwrap_envelope_parsed(document)
        legacy = jose.is_legacy_envelope(document)
        claims = jose.verify_jwt(token, resolve, expected_typ=typ, legacy=legacy, parsed=parsed)
        inner = jose.document_of(claims, typ) if legacy else claims
    except (ProofError, VocabError, *key_errors) as exc:
        result.failed("proof", exc)
        return None
    result.passed("proof", f"{'VC-JWT' if legacy else typ} signature verified")
    return inner, claims


def check_proofs(
    document: dict,
    what: str,
    resolve: VerificationMethodResolver,
    result: Result,
    *,
    now: datetime,
    challenge: str | None = None,
    domain: str | None = None,
    purpose: str | None = None,
    verify_proof: ProofVerifier = dataintegrity.verify_proof,
    key_errors: KeyErrors = (),
) -> list[str]:
    """Run the `proof` check; return the DIDs whose keys made the verified proofs."""
    if "proof" not in document:
        result.failed("proof", f"the {what} has no proof", "missing-proof")
        return []
    purpose = purpose or ("authentication" if what == "presentation" else "assertionMethod")
    try:
        proofs = verify_proof(
            document, resolve, expected_purpose=purpose, challenge=challenge, domain=domain, now=now
        )
    except (ProofError, VocabError, *key_errors) as exc:
        # A key that cannot be had (did:web host not allowed, fetch failed) fails the proof
        # check: the answer is a verification result, not a 403/502 about the resolver.
        result.failed("proof", exc)
        return []
    result.passed(
        "proof", ", ".join(f"{p.cryptosuite or p.type} by {p.verification_method}" for p in proofs)
    )
    return [p.controller for p in proofs]


def _check_validity(credential: dict, version: str, now: datetime, result: Result) -> None:
    start_key, end_key = (
        ("validFrom", "validUntil") if version == "2.0" else ("issuanceDate", "expirationDate")
    )
    try:
        start = (
            parse_datetime(credential[start_key], require_timezone=False)
            if start_key in credential
            else None
        )
        end = (
            parse_datetime(credential[end_key], require_timezone=False)
            if end_key in credential
            else None
        )
    except InvalidDateTime as exc:
        result.failed("validity", exc, "malformed-credential")
        return
    if version == "2.0":
        for key in (start_key, end_key):
            if key in credential and not has_timezone(credential[key]):
                # VCDM 2.0: values serialized without an offset MUST be read as UTC.
                result.warn(
                    "validity", f"{key} has no time-zone offset; it was read as UTC", "no-offset"
                )
    if start and now < start:
        result.failed(
            "validity",
            f"the credential is not valid before {credential[start_key]}",
            "not-yet-valid",
        )
    elif end and now > end:
        result.failed("validity", f"the credential expired at {credential[end_key]}", "expired")
    else:
        result.passed("validity", "within its validity period")


def _signed_with_rdfc_only(credential: dict) -> bool:
    proofs = as_list(credential.get("proof", []))
    return bool(proofs) and all(
        isinstance(p, dict) and p.get("cryptosuite") == EDDSA_RDFC_2022 for p in proofs
    )


def _check_jsonld(credential: dict, result: Result) -> bool:
    """The credential must be JSON-LD that drops nothing (undefined terms, unknown contexts).

    An eddsa-rdfc-2022 proof check canonicalizes strictly anyway; eddsa-jcs-2022 and vc+jwt sign
    the JSON as it is, so without this a term no context defines would verify here and then be
    silently dropped by every JSON-LD consumer (VC-DI 2.1 "data loss", VC-JOSE-COSE 3.1.3)."""
    if _signed_with_rdfc_only(credential):
        return True
    try:
        canonical.check_nothing_dropped(credential)
    except (ProofError, VocabError) as exc:
        result.failed("dataModel", exc)
        return False
    return True


def verify_credential(
    credential: object,
    resolve: VerificationMethodResolver,
    *,
    now: datetime | None = None,
    extra_checks: Sequence[CredentialCheck] = (),
    expected_purpose: str = "assertionMethod",
    challenge: str | None = None,
    domain: str | None = None,
    verify_proof: ProofVerifier = dataintegrity.verify_proof,
    key_errors: KeyErrors = (),
) -> Result:
    """Verify one credential (Data Integrity or an EnvelopedVerifiableCredential).

    `expected_purpose`, `challenge` and `domain` are the VC-API verify options of the same names
    (`expectedProofPurpose`); every Data Integrity proof must match them. `verify_proof` verifies
    the Data Integrity proofs (the verifier hands in its memo); `extra_checks` run, in order, on a
    credential whose proof and issuer did not fail."""
    now = now or utcnow()
    result = Result(presented=credential)
    signed_by_envelope = False
    if is_enveloped(credential, ENVELOPED_VC):
        unwrapped = unwrap(credential, "vc+jwt", resolve, result, key_errors)
        if unwrapped is None:
            return result
        credential, signed_by_envelope = unwrapped[0], True
    result.document = credential if isinstance(credential, dict) else None
    try:
        version = check_credential(credential, lenient_time=True)
    except VocabError as exc:
        result.failed("dataModel", exc)
        return result
    assert isinstance(credential, dict)
    if not _check_jsonld(credential, result):
        return result
    result.passed("dataModel", f"VC Data Model {version}")

    signers: list[str] = []
    if not signed_by_envelope:
        signers = check_proofs(
            credential,
            "credential",
            resolve,
            result,
            now=now,
            challenge=challenge,
            domain=domain,
            purpose=expected_purpose,
            verify_proof=verify_proof,
            key_errors=key_errors,
        )
    result.signers = list(signers)
    if signers:
        issuer = issuer_id(credential)
        # The issuer must have signed; further proofs (a proof set or chain: a transferee's
        # acceptance, a notary's endorsement, the Data Integrity suite's previousProof vectors)
        # are other parties vouching for the same document, and do not make it less the issuer's.
        if issuer not in signers:
            result.failed(
                "issuer",
                f"signed by {', '.join(sorted(set(signers)))}, but the issuer is {issuer}",
                "issuer-mismatch",
            )
        elif len(set(signers)) > 1:
            others = ", ".join(sorted(set(signers) - {issuer}))
            result.passed("issuer", f"signed by the issuer {issuer}, countersigned by {others}")
        else:
            result.passed("issuer", f"signed by the issuer {issuer}")
    elif signed_by_envelope:
        # jose.verify_jwt already refused a kid that is not one of the issuer's keys
        result.signers = [issuer_id(credential)]
        result.passed("issuer", "the JWT key belongs to the issuer")
    else:
        result.skipped("issuer", "no verified proof to compare with the issuer")

    _check_validity(credential, version, now, result)
    authentic = not any(
        c.status == "failed" and c.name in ("proof", "issuer") for c in result.checks
    )
    for check in extra_checks:
        if authentic:
            check(credential, result)
    return result


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
    verify_proof: ProofVerifier = dataintegrity.verify_proof,
) -> None:
    purpose = entry.get("statusPurpose")
    index_text = entry.get("statusListIndex")
    url = entry.get("statusListCredential")
    if not isinstance(purpose, str) or not isinstance(url, str):
        result.failed(
            STATUS,
            "a status entry lacks statusPurpose or statusListCredential",
            "malformed-status-entry",
        )
        return
    if not isinstance(index_text, str) or not _INDEX.fullmatch(index_text):
        result.failed(
            STATUS, "statusListIndex must be a base-10 integer string", "malformed-status-entry"
        )
        return
    if entry.get("statusSize", 1) != 1:
        result.failed(STATUS, "statusSize other than 1 is not supported", "unsupported-status-size")
        return
    index = int(index_text)
    try:
        status_list = fetch(url)
    except StatusListUnavailable as exc:
        result.failed(STATUS, exc, StatusListUnavailable.code)
        return
    types = as_list(status_list.get("type", []))
    subject = status_list.get("credentialSubject")
    if bitstring.LIST_CREDENTIAL_TYPE not in types or not isinstance(subject, dict):
        result.failed(
            STATUS, f"{url} is not a {bitstring.LIST_CREDENTIAL_TYPE}", "status-list-malformed"
        )
        return
    # The list's bytes change with every status change, so a content-keyed memo stays exact.
    try:
        proofs = verify_proof(status_list, resolve, expected_purpose="assertionMethod")
    except (ProofError, VocabError) as exc:
        result.failed(
            STATUS, f"the status list {url} does not verify: {exc}", "status-list-invalid-proof"
        )
        return
    issuer = issuer_id(credential)
    if issuer_id(status_list) != issuer or any(p.controller != issuer for p in proofs):
        result.failed(
            STATUS,
            f"the status list {url} is not issued by the credential's issuer {issuer} (its "
            f"issuer: {issuer_id(status_list)})",
            "status-list-issuer-mismatch",
        )
        return
    problem = _within_validity(status_list, now)
    if problem:
        result.failed(STATUS, problem, "status-list-expired")
        return
    if purpose not in as_list(subject.get("statusPurpose", [])):
        result.failed(
            STATUS,
            f"the status list {url} is for {subject.get('statusPurpose')!r}, the entry for "
            f"{purpose!r} (STATUS_VERIFICATION_ERROR)",
            "status-purpose-mismatch",
        )
        return
    try:
        bits = bitstring.decode(subject.get("encodedList"))
        value = bitstring.get_bit(bits, index)
    except bitstring.StatusListError as exc:
        result.failed(STATUS, exc, "status-list-malformed")
        return
    if not value:
        result.passed(STATUS, f"{purpose}: not set (index {index} of {url})")
    elif purpose == bitstring.REVOCATION:
        result.failed(STATUS, f"the credential is revoked (index {index} of {url})", "revoked")
    elif purpose == bitstring.SUSPENSION:
        result.failed(STATUS, f"the credential is suspended (index {index} of {url})", "suspended")
    else:
        result.warn(STATUS, f"status {purpose!r} is set (index {index} of {url})", purpose)


def status_check(
    fetch: Callable[[str], dict],
    resolve: VerificationMethodResolver,
    *,
    now: datetime | None = None,
    verify_proof: ProofVerifier = dataintegrity.verify_proof,
) -> CredentialCheck:
    """A `CredentialCheck` running the status list validation for every entry (`verify_proof`:
    how the status list credentials' proofs are verified, e.g. the verifier's memo)."""

    def check(credential: dict, result: Result) -> None:
        entries = _entries(credential)
        if not entries:
            result.skipped(STATUS, "the credential has no BitstringStatusListEntry")
            return
        moment = now or utcnow()
        for entry in entries:
            check_entry(credential, entry, fetch, resolve, moment, result, verify_proof)

    return check
