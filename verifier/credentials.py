"""Verifying credentials and presentations: each check runs by name and reports what it found.

A credential goes through the one verification core (`proofs.verification`, shared with the
wallet): `envelope` (VC-JOSE), `dataModel`, `proof`, `issuer` (the proof's key belongs to the
issuer), `validity`; then whatever extra checks the caller adds (the verifier's pipeline,
`verifier.pipeline`: related resources, schema, trust, status list, anchor). A presentation's own
proof, holder, challenge and domain are checked here, and its embedded credentials are each
verified in full.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from proofs import dataintegrity
from proofs import verification as core
from proofs.dataintegrity import VerificationMethodResolver
from proofs.verification import (
    ENVELOPED_VC,
    ENVELOPED_VP,
    CredentialCheck,
    Result,
    check_proofs,
    is_enveloped,
    unwrap,
)
from resolver.errors import ResolverError
from verifier.memo import ProofMemo
from vocab.datetimes import utcnow
from vocab.errors import VocabError
from vocab.vcdm import as_list, check_presentation, issuer_id

__all__ = [
    "ENVELOPED_VC",
    "ENVELOPED_VP",
    "CredentialCheck",
    "verify_credential",
    "verify_presentation",
]

# What the verifier's DID resolution raises when a key cannot be had: a failed proof check.
KEY_ERRORS = (ResolverError,)


def verify_credential(
    credential: object,
    resolve: VerificationMethodResolver,
    *,
    proof_memo: ProofMemo | None = None,
    **options: Any,
) -> Result:
    """Verify one credential (Data Integrity or an EnvelopedVerifiableCredential) with the one
    verification core (`proofs.verification.verify_credential`; `options` are its `now`,
    `extra_checks`, `expected_purpose`, `challenge`, `domain`), the verifier's DID resolution
    errors failing the proof check. `proof_memo` answers the signature check from earlier
    verifications of the same bytes (verifier.memo)."""
    verify = proof_memo.verify_proof if proof_memo is not None else dataintegrity.verify_proof
    return core.verify_credential(
        credential, resolve, verify_proof=verify, key_errors=KEY_ERRORS, **options
    )


def verify_presentation(
    presentation: object,
    resolve: VerificationMethodResolver,
    *,
    challenge: str | None = None,
    domain: str | None = None,
    now: datetime | None = None,
    credential_checks: Sequence[CredentialCheck] = (),
    expected_purpose: str = "authentication",
) -> Result:
    """Verify a presentation's own proof (purpose authentication, challenge, domain, holder) and
    then every credential inside it in full."""
    now = now or utcnow()
    result = Result()
    signed_by_envelope = False
    if is_enveloped(presentation, ENVELOPED_VP):
        unwrapped = unwrap(presentation, "vp+jwt", resolve, result, KEY_ERRORS)
        if unwrapped is None:
            return result
        presentation, signed_by_envelope = unwrapped[0], True
        payload = unwrapped[1]
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
        signers = check_proofs(
            presentation,
            "presentation",
            resolve,
            result,
            now=now,
            challenge=challenge,
            domain=domain,
            purpose=expected_purpose,
            key_errors=KEY_ERRORS,
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
    _check_self_asserted(presentation, holder, signers, result)
    return result


def _check_self_asserted(
    presentation: dict, holder: str | None, signers: list[str], result: Result
) -> None:
    """A presentation carrying a self-asserted credential (issued by whoever signed the
    presentation) without naming its holder: VCDM 2.0 makes `holder` optional and the VC 2.0 suite
    expects such a presentation to verify, so this is a warning, not a failure."""
    if holder or not signers:
        return
    for i, embedded in enumerate(as_list(presentation.get("verifiableCredential", []))):
        if not isinstance(embedded, dict) or is_enveloped(embedded, ENVELOPED_VC):
            continue
        if "proof" in embedded and issuer_id(embedded) in signers:
            result.warn(
                "holder",
                f"verifiableCredential[{i}] is self-asserted by {issuer_id(embedded)}, the "
                "presentation's signer; naming it as holder says so explicitly",
                "holder-recommended",
            )
            return
