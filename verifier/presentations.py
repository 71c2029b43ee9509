"""Who is asking: a requester proves its identity and its roles with a presentation over one of our
challenges. Used by the restricted-data endpoint and by the authorities' access-log query.

The presentation is verified in full (its own proof with purpose `authentication`, the challenge
and domain, the holder) and so is every credential inside it, with all checks of the pipeline. The
requester is the DID whose key signed the presentation; each role credential's subject and each
grant's grantee must be that DID. Any embedded credential that fails refuses the whole request:
a presentation is taken or refused as a whole, so what was released is always exactly what the
presented proof allowed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session

from proofs import jose
from proofs.errors import ProofError
from verifier import challenges
from verifier.audit import Decision
from verifier.entitlements import (
    Entitlement,
    Grant,
    MalformedEntitlement,
    Role,
    entitlement_type,
    parse_entitlement,
)
from verifier.errors import (
    ChallengeMissing,
    CredentialExpired,
    CredentialRevoked,
    CredentialSuspended,
    HolderMismatch,
    InvalidCredential,
    InvalidPresentation,
    NoPresentation,
    Refusal,
    UntrustedInstance,
    UntrustedIssuer,
)
from verifier.result import Check, Result
from vocab import json_text
from vocab.errors import VocabError
from vocab.vcdm import as_list

ENVELOPED_VP = "EnvelopedVerifiablePresentation"
# Checks whose failure means the credential is not what its issuer signed (or not a credential).
INTEGRITY_CHECKS = frozenset({"envelope", "dataModel", "proof", "issuer"})
STATUS_CHECK = "status"

# (session, presentation, challenge, domain) -> the full verification result
VerifyPresentation = Callable[[Session, dict, str, str], Result]


@dataclass
class Presented:
    """An authenticated requester and what its presentation entitles it to (not yet checked
    against a battery: grants are judged by the caller, who knows the battery)."""

    requester: str
    roles: list[Role] = field(default_factory=list)
    grants: list[tuple[Grant, Result]] = field(default_factory=list)
    # the role credentials as verified, so a session can present them again (to a peer)
    role_documents: list[dict] = field(default_factory=list)
    # the instance that forwarded the requester's credentials (authenticate_forwarded)
    forwarded_by: str | None = None


def binding(presentation: dict) -> tuple[str | None, list[str]]:
    """The challenge and domain(s) a presentation claims to be bound to, read before any
    verification (so the challenge can be looked up); verification then checks them."""
    if ENVELOPED_VP in as_list(presentation.get("type", [])):
        try:
            _, payload, _ = jose.parse_compact(jose.unwrap_envelope(presentation))
            claims = json_text.loads_lenient(payload)
        except (ProofError, VocabError, ValueError):
            return None, []
        if not isinstance(claims, dict):
            return None, []
        nonce = claims.get("nonce")
        audience = [a for a in as_list(claims.get("aud", [])) if isinstance(a, str)]
        return (nonce if isinstance(nonce, str) else None), audience
    for proof in as_list(presentation.get("proof", [])):
        if isinstance(proof, dict) and isinstance(proof.get("challenge"), str):
            domains = [d for d in as_list(proof.get("domain", [])) if isinstance(d, str)]
            return proof["challenge"], domains
    return None, []


def _failed(result: Result) -> list[Check]:
    return [c for c in result.checks if c.status == "failed"]


def _did_not_verify(where: str, failures: list[Check]) -> InvalidCredential:
    return InvalidCredential(f"{where} did not verify ({failures[0].name}: {failures[0].detail})")


def _top_level_failures(result: Result) -> list[Check]:
    # Embedded credentials' checks are copied into the presentation's result with a prefix.
    return [c for c in _failed(result) if not c.name.startswith("verifiableCredential[")]


def _requester(result: Result) -> str:
    failures = _top_level_failures(result)
    for check in failures:
        if check.code == "holder-mismatch":
            raise HolderMismatch(f"the presentation is {check.detail}")
    if failures:
        first = failures[0]
        raise InvalidPresentation(f"the presentation did not verify ({first.name}: {first.detail})")
    signers = set(result.signers)
    if len(signers) != 1:
        raise InvalidPresentation("the presentation must be signed by exactly one party")
    return signers.pop()


def _status_refusal(check: Check) -> Refusal:
    if "suspend" in check.code:
        return CredentialSuspended("a presented credential is suspended")
    if "revoke" in check.code:
        return CredentialRevoked("a presented credential is revoked")
    return InvalidCredential(
        f"the status of a presented credential cannot be established ({check.detail})"
    )


def _record(decision: Decision, entitlements: list[Entitlement], ids: list[str]) -> None:
    labels = list(dict.fromkeys(e.label for e in entitlements))
    decision.role = ";".join(labels) or None
    decision.credentials = ids


def authenticate(
    session: Session,
    presentation: object,
    verify: VerifyPresentation,
    decision: Decision,
    *,
    now: datetime,
    spent: list[str],
) -> Presented:
    """Check a presentation over one of our challenges; fill in `decision` as facts are learnt.

    The challenge found in the presentation is appended to `spent` as soon as it is known to be
    ours and unused, so that the caller spends it whatever the outcome."""
    return _authenticate(session, presentation, verify, decision, now=now, spent=spent)


def authenticate_forwarded(
    session: Session,
    presentation: object,
    verify: VerifyPresentation,
    decision: Decision,
    *,
    now: datetime,
    spent: list[str],
    instances: frozenset[str],
) -> Presented:
    """Check a presentation a peer instance signed to forward its signed-in authority's query:
    over one of our challenges and our domain like any (no replay, no other audience), signed by
    one of `instances` (UntrustedInstance otherwise), holding role credentials only, all about
    one subject, each verified against our own trust rules exactly as a sign-in here verifies
    them (issuer trusted for the role, not expired, not revoked or suspended). The requester is
    that subject; `forwarded_by` the instance."""
    return _authenticate(
        session, presentation, verify, decision, now=now, spent=spent, instances=instances
    )


def _authenticate(
    session: Session,
    presentation: object,
    verify: VerifyPresentation,
    decision: Decision,
    *,
    now: datetime,
    spent: list[str],
    instances: frozenset[str] | None = None,
) -> Presented:
    if presentation is None:
        raise NoPresentation(
            "a verifiablePresentation over a challenge from POST /challenges is required"
        )
    if not isinstance(presentation, dict):
        raise InvalidPresentation("verifiablePresentation must be a JSON object")
    nonce, domains = binding(presentation)
    if nonce is None:
        raise ChallengeMissing(
            "the presentation is not bound to a challenge (proof.challenge, or the nonce claim "
            "of a vp+jwt); get one from POST /challenges"
        )
    row = challenges.check(session, nonce, domains, now)
    spent.append(nonce)

    result = verify(session, presentation, nonce, row.domain)
    documents = [sub.document for sub in result.embedded]
    parsed: list[Entitlement] = []
    ids = []
    for doc in documents:
        if isinstance(doc, dict) and entitlement_type(doc):
            if isinstance(doc.get("id"), str):
                ids.append(doc["id"])
            try:
                entitlement = parse_entitlement(doc)
            except MalformedEntitlement:
                continue
            if entitlement is not None:
                parsed.append(entitlement)
    # The log says what was presented even when it is refused (labelled as presented, not proven).
    _record(decision, parsed, ids)

    requester = _requester(result)
    forwarded_by = None
    if instances is not None:
        forwarded_by = requester
        if forwarded_by not in instances:
            raise UntrustedInstance(
                f"the presentation is signed by {forwarded_by}, which is not an instance this one "
                "trusts to forward authorities' queries (DBP_AUTHORITY_PEER_INSTANCES)"
            )
        requester = _forwarded_subject(parsed, len(documents))
    decision.requester = requester
    presented = Presented(requester, forwarded_by=forwarded_by)
    for index, sub in enumerate(result.embedded):
        where = f"verifiableCredential[{index}]"
        failures = _failed(sub)
        broken = [c for c in failures if c.name in INTEGRITY_CHECKS]
        if broken:
            raise _did_not_verify(where, broken)
        assert sub.document is not None
        try:
            entitlement = parse_entitlement(sub.document)
        except MalformedEntitlement as exc:
            raise InvalidCredential(f"{where}: {exc}") from None
        if entitlement is not None and entitlement.subject != requester:
            raise HolderMismatch(
                f"{where} is about {entitlement.subject}, but the presentation is signed by "
                f"{requester}"
            )
        status = [c for c in failures if c.name == STATUS_CHECK]
        if status:
            raise _status_refusal(status[0])
        if isinstance(entitlement, Grant):
            presented.grants.append((entitlement, sub))  # judged against the battery later
            continue
        if isinstance(entitlement, Role):
            _judge_role(where, failures)
            presented.roles.append(entitlement)
            presented.role_documents.append(sub.document)
            continue
        if failures:  # any other credential in the presentation must verify as well
            raise _did_not_verify(where, failures)
    return presented


def _forwarded_subject(parsed: list[Entitlement], embedded: int) -> str:
    """The one authority a forwarded presentation speaks for: the subject of its role
    credentials (the forwarding instance signs, the credentials are about someone else)."""
    if not parsed or len(parsed) != embedded:
        raise InvalidCredential(
            "a forwarded presentation holds role credentials (an AuthorityCredential) and nothing "
            "else"
        )
    if any(isinstance(e, Grant) for e in parsed):
        raise InvalidCredential("a forwarded presentation cannot carry access grants")
    subjects = {e.subject for e in parsed}
    if len(subjects) != 1:
        raise HolderMismatch("the forwarded role credentials are about more than one subject")
    return subjects.pop()


def _judge_role(where: str, failures: list[Check]) -> None:
    for check in failures:
        if check.name == "validity":
            if check.code == "expired":
                raise CredentialExpired(f"{where}: the role credential has expired")
            raise InvalidCredential(f"{where}: {check.detail}")
        if check.name == "trust":
            if check.code == "untrusted-issuer":
                raise UntrustedIssuer(
                    f"{where}: the role credential's issuer is not a trust anchor for that role"
                )
            raise InvalidCredential(f"{where}: {check.detail}")
    if failures:
        raise _did_not_verify(where, failures)
