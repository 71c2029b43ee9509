"""Verifying credentials and presentations: each check runs by name and reports what it found.

Checks: `envelope` (VC-JOSE), `dataModel`, `proof`, `issuer` (the proof's key belongs to the
issuer), `validity` (validFrom/validUntil), and whatever extra checks the caller adds (status list,
schema, trust, anchor). A presentation's embedded credentials are each verified in full.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from proofs import canonical, dataintegrity, jose
from proofs.dataintegrity import EDDSA_RDFC_2022, VerificationMethodResolver
from proofs.errors import ProofError
from resolver.errors import ResolverError
from verifier.memo import ProofMemo
from verifier.result import Result
from vocab.datetimes import InvalidDateTime, has_timezone, parse_datetime, utcnow
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
) -> tuple[dict, dict] | None:
    """(the enveloped credential or presentation, the JWT claims), or None when it failed."""
    try:
        token = jose.unwrap_envelope(document)
        legacy = jose.is_legacy_envelope(document)
        claims = jose.verify_jwt(token, resolve, expected_typ=typ, legacy=legacy)
        inner = jose.document_of(claims, typ) if legacy else claims
    except (ProofError, VocabError, ResolverError) as exc:
        result.failed("proof", exc)
        return None
    result.passed("proof", f"{'VC-JWT' if legacy else typ} signature verified")
    return inner, claims


def _check_proofs(
    document: dict,
    what: str,
    resolve: VerificationMethodResolver,
    result: Result,
    *,
    now: datetime,
    challenge: str | None = None,
    domain: str | None = None,
    purpose: str | None = None,
    memo: ProofMemo | None = None,
) -> list[str]:
    """Run the `proof` check; return the DIDs whose keys made the verified proofs."""
    if "proof" not in document:
        result.failed("proof", f"the {what} has no proof", "missing-proof")
        return []
    purpose = purpose or ("authentication" if what == "presentation" else "assertionMethod")
    verify = memo.verify_proof if memo is not None else dataintegrity.verify_proof
    try:
        proofs = verify(
            document, resolve, expected_purpose=purpose, challenge=challenge, domain=domain, now=now
        )
    except (ProofError, VocabError, ResolverError) as exc:
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
    proof_memo: ProofMemo | None = None,
) -> Result:
    """Verify one credential (Data Integrity or an EnvelopedVerifiableCredential).

    `expected_purpose`, `challenge` and `domain` are the VC-API verify options of the same names
    (`expectedProofPurpose`); every Data Integrity proof must match them. `proof_memo` answers
    the signature check from earlier verifications of the same bytes (verifier.memo)."""
    now = now or utcnow()
    result = Result(presented=credential)
    signed_by_envelope = False
    if _is_enveloped(credential, ENVELOPED_VC):
        unwrapped = _unwrap(credential, "vc+jwt", resolve, result)
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
        signers = _check_proofs(
            credential,
            "credential",
            resolve,
            result,
            now=now,
            challenge=challenge,
            domain=domain,
            purpose=expected_purpose,
            memo=proof_memo,
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
    if _is_enveloped(presentation, ENVELOPED_VP):
        unwrapped = _unwrap(presentation, "vp+jwt", resolve, result)
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
        signers = _check_proofs(
            presentation,
            "presentation",
            resolve,
            result,
            now=now,
            challenge=challenge,
            domain=domain,
            purpose=expected_purpose,
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
        if not isinstance(embedded, dict) or _is_enveloped(embedded, ENVELOPED_VC):
            continue
        if "proof" in embedded and issuer_id(embedded) in signers:
            result.warn(
                "holder",
                f"verifiableCredential[{i}] is self-asserted by {issuer_id(embedded)}, the "
                "presentation's signer; naming it as holder says so explicitly",
                "holder-recommended",
            )
            return
