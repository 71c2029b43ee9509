"""Verifying credentials and presentations: each check runs by name and reports what it found.

Checks: `envelope` (VC-JOSE), `dataModel`, `proof`, `issuer` (the proof's key belongs to the
issuer), `validity` (validFrom/validUntil), and whatever extra checks the caller adds (status list,
schema, trust, anchor). A presentation's embedded credentials are each verified in full.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from proofs import dataintegrity, jose
from proofs.dataintegrity import VerificationMethodResolver
from proofs.errors import ProofError
from verifier.result import Result
from vocab.datetimes import InvalidDateTime, parse_datetime, utcnow
from vocab.errors import VocabError
from vocab.vcdm import as_list, check_credential, check_presentation, issuer_id

ENVELOPED_VC = "EnvelopedVerifiableCredential"
ENVELOPED_VP = "EnvelopedVerifiablePresentation"

# An extra check looks at a credential that passed the proof check and records its outcome.
CredentialCheck = Callable[[dict, Result], None]


def _is_enveloped(document: object, kind: str) -> bool:
    return isinstance(document, dict) and kind in as_list(document.get("type", []))


def _unwrap(
    document: dict, typ: str, resolve: VerificationMethodResolver, result: Result
) -> dict | None:
    try:
        token = jose.unwrap_envelope(document)
        payload = jose.verify_jwt(token, resolve, expected_typ=typ)
    except (ProofError, VocabError) as exc:
        result.failed("proof", exc)
        return None
    result.passed("proof", f"{typ} signature verified")
    return payload


def _check_proofs(
    document: dict,
    what: str,
    resolve: VerificationMethodResolver,
    result: Result,
    *,
    now: datetime,
    challenge: str | None = None,
    domain: str | None = None,
) -> list[str]:
    """Run the `proof` check; return the DIDs whose keys made the verified proofs."""
    if "proof" not in document:
        result.failed("proof", f"the {what} has no proof", "missing-proof")
        return []
    purpose = "authentication" if what == "presentation" else "assertionMethod"
    try:
        proofs = dataintegrity.verify_proof(
            document, resolve, expected_purpose=purpose, challenge=challenge, domain=domain, now=now
        )
    except (ProofError, VocabError) as exc:
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


def verify_credential(
    credential: object,
    resolve: VerificationMethodResolver,
    *,
    now: datetime | None = None,
    extra_checks: Sequence[CredentialCheck] = (),
) -> Result:
    now = now or utcnow()
    result = Result()
    signed_by_envelope = False
    if _is_enveloped(credential, ENVELOPED_VC):
        payload = _unwrap(credential, "vc+jwt", resolve, result)
        if payload is None:
            return result
        credential, signed_by_envelope = payload, True
    result.document = credential if isinstance(credential, dict) else None
    try:
        version = check_credential(credential)
    except VocabError as exc:
        result.failed("dataModel", exc)
        return result
    result.passed("dataModel", f"VC Data Model {version}")
    assert isinstance(credential, dict)

    signers: list[str] = []
    if not signed_by_envelope:
        signers = _check_proofs(credential, "credential", resolve, result, now=now)
    result.signers = list(signers)
    if signers:
        issuer = issuer_id(credential)
        wrong = sorted({s for s in signers if s != issuer})
        if wrong:
            result.failed(
                "issuer",
                f"signed by {', '.join(wrong)}, but the issuer is {issuer}",
                "issuer-mismatch",
            )
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


def verify_presentation(
    presentation: object,
    resolve: VerificationMethodResolver,
    *,
    challenge: str | None = None,
    domain: str | None = None,
    now: datetime | None = None,
    credential_checks: Sequence[CredentialCheck] = (),
) -> Result:
    """Verify a presentation's own proof (purpose authentication, challenge, domain, holder) and
    then every credential inside it in full."""
    now = now or utcnow()
    result = Result()
    signed_by_envelope = False
    if _is_enveloped(presentation, ENVELOPED_VP):
        payload = _unwrap(presentation, "vp+jwt", resolve, result)
        if payload is None:
            return result
        presentation, signed_by_envelope = payload, True
        if challenge is not None and payload.get("nonce") != challenge:
            result.failed(
                "challenge",
                "the presentation's nonce does not match the challenge",
                "challenge-mismatch",
            )
        if domain is not None and domain not in as_list(payload.get("aud", [])):
            result.failed(
                "domain", "the presentation's aud does not match the domain", "domain-mismatch"
            )
    result.document = presentation if isinstance(presentation, dict) else None
    try:
        check_presentation(presentation)
    except VocabError as exc:
        result.failed("dataModel", exc)
        return result
    result.passed("dataModel", "VC Data Model presentation")
    assert isinstance(presentation, dict)

    signers: list[str] = []
    if not signed_by_envelope:
        signers = _check_proofs(
            presentation,
            "presentation",
            resolve,
            result,
            now=now,
            challenge=challenge,
            domain=domain,
        )
    holder = presentation.get("holder")
    holder = holder.get("id") if isinstance(holder, dict) else holder
    # jose.verify_jwt only accepts a vp+jwt whose kid is one of the holder's keys
    result.signers = [holder] if signed_by_envelope else list(signers)
    if holder and signers:
        wrong = sorted({s for s in signers if s != holder})
        if wrong:
            result.failed(
                "holder",
                f"signed by {', '.join(wrong)}, but the holder is {holder}",
                "holder-mismatch",
            )
        else:
            result.passed("holder", f"signed by the holder {holder}")

    for i, embedded in enumerate(as_list(presentation.get("verifiableCredential", []))):
        sub = verify_credential(embedded, resolve, now=now, extra_checks=credential_checks)
        result.extend(sub, f"verifiableCredential[{i}]")
        result.embedded.append(sub)
    return result
