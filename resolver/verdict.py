"""The verification panel in plain words: one line per check that ran on each credential, and a
verdict for the whole passport that never reads as authentic when any check failed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from resolver.page_values import humanise
from resolver.sources import Verification

# Checks whose failure means the content cannot be trusted at all: it is not shown.
AUTHENTICITY_CHECKS: Final = frozenset({"envelope", "dataModel", "proof", "issuer"})
STATUS_CHECKS: Final = frozenset({"status", "statusList", "credentialStatus", "revocation"})
ANCHOR_CHECKS: Final = frozenset({"anchor", "integrityAnchor", "chainAnchor"})

# check name -> (label, sentence when passed, sentence when failed)
WORDS: Final[dict[str, tuple[str, str, str]]] = {
    "envelope": (
        "Signature envelope",
        "The signed envelope (JOSE) is intact.",
        "The signed envelope (JOSE) is broken or was not signed by the issuer.",
    ),
    "dataModel": (
        "Format",
        "It follows the W3C Verifiable Credentials data model.",
        "It does not follow the W3C Verifiable Credentials data model.",
    ),
    "proof": (
        "Signature",
        "The digital signature is valid: nothing was changed after it was signed.",
        "The digital signature does not match: the data was changed after it was signed, "
        "or someone else signed it.",
    ),
    "issuer": (
        "Issuer identity",
        "It was signed with a key of the operator named as its issuer.",
        "It was not signed by the operator named as its issuer.",
    ),
    "validity": (
        "Validity period",
        "It is within its validity period.",
        "It is outside its validity period (expired or not yet valid).",
    ),
    "schema": (
        "Data rules",
        "Its data follows the battery passport schema.",
        "Its data does not follow the battery passport schema.",
    ),
    "trust": (
        "Trusted issuer",
        "Its issuer is allowed to issue this kind of credential.",
        "Its issuer is not known to be allowed to issue this kind of credential.",
    ),
}
# Why the trust check failed, by code (verifier/authority.py): "not known to be allowed" alone
# left a reader (and a failing test) guessing whether the issuer, the battery or the records
# were at fault.
TRUST_FAILURE_WORDS: Final = {
    "issuer-not-responsible": "Its issuer was not the operator responsible for this battery "
    "when it was issued, according to this service's records of who held the battery when.",
    "grant-issuer-not-responsible": "The access grant was not issued by the operator "
    "responsible for this battery.",
    "unknown-battery": "This service does not know the battery it is about, so it cannot tell "
    "which operator may issue it.",
    "untrusted-issuer": "Its issuer is not accredited for this role by a trust anchor this "
    "service trusts.",
    "malformed-credential": "It does not say clearly which battery or role it is about, so its "
    "issuer's right to issue it cannot be checked.",
}
WORDS["relatedResource"] = (
    "Linked documents",
    "The documents it links to are unchanged: their digests match.",
    "A document it links to was changed after signing: its digest does not match.",
)
# Warnings worth plain words, by code (anchor/verify.py warns, never fails, for these).
WARNING_WORDS: Final = {
    "anchor-unknown": "This service has not recorded its fingerprint on a blockchain.",
    "anchor-pending": "Its fingerprint is on its way to the blockchain.",
    "anchor-unconfirmed": "Its fingerprint is on the blockchain, not yet confirmed.",
    "anchor-unavailable": "The blockchain could not be reached just now; the anchor was not "
    "checked.",
    "anchor-other-chain": "It is anchored on another blockchain than the one this service reads.",
}

# Bitstring Status List: one check per status entry, told apart by purpose.
STATUS_WORDS_BY_PURPOSE: Final = {
    "revocation": (
        "Revocation status",
        "Not revoked: the issuer's status list was checked.",
        "The issuer has revoked it.",
    ),
    "suspension": (
        "Suspension status",
        "Not suspended: the issuer's status list was checked.",
        "The issuer has suspended it for now.",
    ),
}
STATUS_UNKNOWN: Final = (
    "Revocation status",
    "The issuer's status list was checked.",
    "The status list could not be checked, so whether it was withdrawn is unknown.",
)
for _name in ANCHOR_CHECKS:
    WORDS[_name] = (
        "Integrity anchor",
        "Its fingerprint is recorded on the blockchain, so it cannot be rewritten unnoticed.",
        "Its fingerprint does not match the one recorded on the blockchain.",
    )

SYMBOLS: Final = {"passed": "✓", "failed": "✗", "warning": "!", "skipped": "–"}
STATUS_WORDS: Final = {
    "passed": "passed",
    "failed": "failed",
    "warning": "warning",
    "skipped": "not checked",
}


@dataclass(frozen=True)
class CheckLine:
    name: str
    code: str
    label: str
    status: str
    symbol: str
    status_word: str
    sentence: str
    detail: str


@dataclass
class CredentialPanel:
    title: str
    issuer: str
    verified: bool
    authentic: bool  # proof, issuer and data model passed: its content may be shown
    checks: list[CheckLine]
    document: dict[str, Any] | None = field(repr=False, default=None)


@dataclass(frozen=True)
class Verdict:
    tone: str  # "ok", "bad", "warn" or "none"
    headline: str
    explanation: str


def _status_words(check: Any) -> tuple[str, str, str]:
    purpose = {"revoked": "revocation", "suspended": "suspension"}.get(check.code)
    if purpose is None:
        purpose = str(check.detail).split(":", 1)[0]
    return STATUS_WORDS_BY_PURPOSE.get(purpose, STATUS_UNKNOWN)


def _line(check: Any) -> CheckLine:
    if check.name in STATUS_CHECKS:
        label, passed, failed = _status_words(check)
    else:
        label, passed, failed = WORDS.get(check.name, (humanise(check.name), "", ""))
    if check.status == "passed":
        sentence = passed or check.detail
    elif check.status == "failed":
        why = TRUST_FAILURE_WORDS.get(getattr(check, "code", "")) if check.name == "trust" else None
        sentence = why or failed or check.detail or "This check failed."
    else:
        sentence = (
            WARNING_WORDS.get(getattr(check, "code", ""))
            or check.detail
            or STATUS_WORDS.get(check.status, check.status)
        )
    return CheckLine(
        check.name,
        getattr(check, "code", "") or "",
        label,
        check.status,
        SYMBOLS.get(check.status, "?"),
        STATUS_WORDS.get(check.status, check.status),
        sentence,
        check.detail if check.detail != sentence else "",
    )


def _title(document: dict[str, Any] | None) -> str:
    types = document.get("type") if isinstance(document, dict) else None
    names = [t for t in (types if isinstance(types, list) else [types]) if isinstance(t, str)]
    specific = [t for t in names if t not in ("VerifiableCredential", "BatteryPassportCredential")]
    name = specific[0] if specific else (names[-1] if names else "Credential")
    return humanise(name.removesuffix("Credential")) + " credential"


def _issuer(document: dict[str, Any] | None) -> str:
    issuer = document.get("issuer") if isinstance(document, dict) else None
    if isinstance(issuer, dict):
        issuer = issuer.get("id")
    return issuer if isinstance(issuer, str) else "unknown"


def panel(credential: dict[str, Any], verification: Verification) -> CredentialPanel:
    document = getattr(verification, "document", None) or credential
    failed = {c.name for c in verification.checks if c.status == "failed"}
    return CredentialPanel(
        title=_title(document),
        issuer=_issuer(document),
        verified=verification.verified,
        authentic=not (failed & AUTHENTICITY_CHECKS),
        checks=[_line(c) for c in verification.checks],
        document=document,
    )


# What the verdict says about a check that neither passed nor failed, by code.
OPEN_NOTES: Final = {
    "anchor-pending": "Anchor pending: its fingerprint is on its way to the blockchain.",
    "anchor-unconfirmed": "Anchor pending: its fingerprint is on the blockchain, not yet "
    "confirmed.",
    "anchor-unknown": "No anchor: this service has not recorded its fingerprint on a blockchain.",
    "anchor-unavailable": "Anchor not checked: the blockchain could not be reached just now.",
    "anchor-other-chain": "Anchor not checked: it is anchored on another blockchain.",
}


def _open_note(check: CheckLine) -> str:
    note = OPEN_NOTES.get(check.code)
    if note:
        return note
    return f"{check.label}: {check.status_word} (see each check)."


def verdict(panels: Sequence[CredentialPanel]) -> Verdict:
    if not panels:
        return Verdict(
            "none",
            "No public passport yet",
            "This battery is registered, but its operator has not published passport data yet.",
        )
    failed = [(p, c) for p in panels for c in p.checks if c.status == "failed"]
    if not failed:
        open_checks = [c for p in panels for c in p.checks if c.status != "passed"]
        if not open_checks:
            return Verdict(
                "ok",
                "Authentic",
                "Every check passed: this passport data was signed by the operator named below "
                "and has not been changed or withdrawn.",
            )
        # Not "every check passed" while a check is still open (a fingerprint on its way to the
        # blockchain, a check that could not run): say which.
        notes = dict.fromkeys(_open_note(c) for c in open_checks)
        return Verdict(
            "ok",
            "Authentic",
            "The signature, issuer and status checks passed: this passport data was signed by "
            "the operator named below and has not been changed or withdrawn. " + " ".join(notes),
        )
    names = {c.name for _, c in failed}
    labels = ", ".join(dict.fromkeys(c.label for _, c in failed))
    if names & AUTHENTICITY_CHECKS:
        return Verdict(
            "bad",
            "Not authentic",
            f"Do not rely on this passport. Failed: {labels}. Data that failed these checks is "
            "not shown.",
        )
    codes = {c.code for _, c in failed if c.name in STATUS_CHECKS}
    if "revoked" in codes:
        return Verdict(
            "bad",
            "Revoked",
            "The operator has withdrawn this passport data for good; it is shown for reference "
            "only.",
        )
    if "suspended" in codes:
        return Verdict(
            "bad",
            "Suspended",
            "The operator has suspended this passport data for now; it is shown for reference "
            "only.",
        )
    # Say why, not only what: each failed check's sentence (the technical detail stays in the
    # check's own line).
    reasons = " ".join(dict.fromkeys(c.sentence for _, c in failed))
    return Verdict(
        "bad", "Verification failed", f"Do not rely on this passport. Failed: {labels}. {reasons}"
    )
