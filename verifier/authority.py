"""The `trust` check: may this issuer issue this type of credential? (Rules: `verifier.trust`.)

Passport tier credentials, battery events and access grants speak for a battery, so their issuer
must be the operator responsible for that battery. Responsibility comes from the routing registry
(`holder_did`: the operator responsible now) and, for history, from tenures with known dates:

- issued by the operator responsible now: passes, whatever the date;
- issued by an earlier operator: passes only when a tenure shows that operator was responsible at
  the credential's issuance time (`validFrom`, else `issuanceDate`, else the proof's `created`).
  Without such a record the check fails: an unprovable claim of past responsibility is treated
  like no responsibility, because anyone can back-date `validFrom`. Tenures are recorded at each
  hand-over (`resolver.registry.record_hand_over`, table `battery_tenures`).

Role credentials must come from a trust anchor that accredits every role the credential states.

A passport credential that names its economic operator (`general.operator.identifier`) must be
signed by that operator: the identifier is the issuer's DID or one its DID document lists under
`alsoKnownAs` (vocab.operator_identity, the rule issuance applies too); otherwise the check fails
with code `operator-not-issuer`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from resolver import registry
from resolver.errors import ResolverError
from verifier.credentials import CredentialCheck
from verifier.entitlements import MalformedEntitlement, Role, parse_entitlement
from verifier.result import Result
from verifier.trust import NOTIFIED_BODY, RESPONSIBLE_OPERATOR, TRUST_ANCHOR, TrustRegistry
from vocab.context import (
    ACCESS_GRANT_CREDENTIAL,
    AUTHORITY_CREDENTIAL,
    BATTERY_PASSPORT_CREDENTIAL,
    LEGITIMATE_INTEREST_CREDENTIAL,
    TIER_CREDENTIAL_TYPES,
)
from vocab.datetimes import InvalidDateTime, as_utc, parse_datetime
from vocab.gs1 import InvalidGs1Key, ItemKey, parse_item_uri
from vocab.operator_identity import OPERATOR_FIELD, binds, named_operator
from vocab.vcdm import as_list, issuer_id

CHECK = "trust"
OPERATOR_NOT_ISSUER = "operator-not-issuer"
PASSPORT_TYPES = frozenset({BATTERY_PASSPORT_CREDENTIAL, *TIER_CREDENTIAL_TYPES})

# The alsoKnownAs identifiers of a DID (its DID document resolved); raises ResolverError.
AlsoKnownAs = Callable[[str], Sequence[str]]


@dataclass(frozen=True)
class Tenure:
    """An operator's responsibility for a battery; open ends are unknown (since) or now (until)."""

    operator: str
    since: datetime | None = None
    until: datetime | None = None


# The tenures of a battery, newest last; None when the battery is not registered here.
ResponsibilityLookup = Callable[[ItemKey], Sequence[Tenure] | None]


@dataclass(frozen=True)
class _Verdict:
    ok: bool
    detail: str
    code: str = ""


def issued_at(credential: dict) -> datetime | None:
    for key in ("validFrom", "issuanceDate"):
        if key in credential:
            try:
                return parse_datetime(credential[key], require_timezone=False)
            except InvalidDateTime:
                return None
    proofs = [p for p in as_list(credential.get("proof", [])) if isinstance(p, dict)]
    if proofs and isinstance(proofs[0].get("created"), str):
        try:
            return parse_datetime(proofs[0]["created"], require_timezone=False)
        except InvalidDateTime:
            return None
    return None


def batteries_of(credential: dict) -> list[str]:
    """The battery identifiers (GS1 Digital Link URIs) a credential speaks about."""
    out: list[str] = []
    for subject in as_list(credential.get("credentialSubject", [])):
        if not isinstance(subject, dict):
            continue
        for key in ("batteryIdentifier", "battery"):
            if isinstance(subject.get(key), str):
                out.append(subject[key])
        out += [b for b in as_list(subject.get("batteries", [])) if isinstance(b, str)]
        if not out and isinstance(subject.get("id"), str) and "/01/" in subject["id"]:
            out.append(subject["id"])
    return list(dict.fromkeys(out))


def _failure_code(type_name: str) -> str:
    if type_name in (LEGITIMATE_INTEREST_CREDENTIAL, AUTHORITY_CREDENTIAL):
        return "untrusted-issuer"
    if type_name == ACCESS_GRANT_CREDENTIAL:
        return "grant-issuer-not-responsible"
    return "issuer-not-responsible"


class _Judge:
    def __init__(
        self, registry: TrustRegistry, responsibility: ResponsibilityLookup, credential: dict
    ) -> None:
        self.registry = registry
        self.responsibility = responsibility
        self.credential = credential
        self.issuer = issuer_id(credential)

    def principal(self, principal: str, type_name: str) -> _Verdict:
        if principal == RESPONSIBLE_OPERATOR:
            return self._responsible(type_name)
        if principal == TRUST_ANCHOR:
            return self._anchor()
        if principal == NOTIFIED_BODY:
            if self.registry.is_notified_body(self.issuer):
                return _Verdict(True, f"{self.issuer} is an accredited notified body")
            return _Verdict(False, f"{self.issuer} is not an accredited notified body")
        if self.issuer == principal:
            return _Verdict(True, f"{self.issuer} is named in the trust registry")
        return _Verdict(False, f"{self.issuer} is not {principal}")

    def _anchor(self) -> _Verdict:
        try:
            entitlement = parse_entitlement(self.credential)
        except MalformedEntitlement as exc:
            return _Verdict(False, str(exc), "malformed-credential")
        if isinstance(entitlement, Role):
            roles = entitlement.roles
            if self.registry.accredits(self.issuer, roles):
                return _Verdict(True, f"{self.issuer} is a trust anchor for {', '.join(roles)}")
            return _Verdict(
                False, f"{self.issuer} is not a trust anchor accrediting {', '.join(roles)}"
            )
        if self.registry.anchor(self.issuer) is not None:
            return _Verdict(True, f"{self.issuer} is a trust anchor")
        return _Verdict(False, f"{self.issuer} is not a trust anchor")

    def _responsible(self, type_name: str) -> _Verdict:
        uris = batteries_of(self.credential)
        if not uris:
            return _Verdict(False, "the credential names no battery", "malformed-credential")
        when = issued_at(self.credential)
        when = as_utc(when) if when is not None else None
        details = []
        for uri in uris:
            try:
                key = parse_item_uri(uri)
            except InvalidGs1Key as exc:
                return _Verdict(False, str(exc), "malformed-credential")
            tenures = self.responsibility(key)
            if tenures is None:
                return _Verdict(
                    False,
                    f"battery {uri} is not registered here, so its responsible operator is unknown",
                    "unknown-battery",
                )
            current = [t for t in tenures if t.until is None]
            if any(t.operator == self.issuer for t in current):
                details.append(f"the responsible operator of {uri}")
                continue
            past = [
                t
                for t in tenures
                if t.operator == self.issuer
                and t.until is not None
                and t.since is not None
                and when is not None
                and t.since <= when < t.until
            ]
            if past:
                details.append(f"responsible for {uri} when the credential was issued")
                continue
            return _Verdict(
                False,
                f"{self.issuer} is not the operator responsible for {uri}",
                _failure_code(type_name),
            )
        return _Verdict(True, f"{self.issuer} is " + "; ".join(details))


def operator_binding(credential: dict, known_as: AlsoKnownAs | None) -> _Verdict | None:
    """Whether a passport credential's named operator is its signer; None when the credential
    names no operator (or is no passport credential)."""
    types = set(as_list(credential.get("type", [])))
    if not types & PASSPORT_TYPES:
        return None
    issuer = issuer_id(credential)
    named = [named_operator(s) for s in as_list(credential.get("credentialSubject", []))]
    named = [n for n in named if n is not None]
    if not named:
        return None
    aliases: Sequence[str] = ()
    if known_as is not None and any(n != issuer for n in named):
        try:
            aliases = known_as(issuer)
        except ResolverError as exc:
            return _Verdict(
                False,
                f"the passport names {named[0]!r} as its operator, and the DID document of "
                f"its signer {issuer} could not be read to check alsoKnownAs: {exc}",
                OPERATOR_NOT_ISSUER,
            )
    for identifier in named:
        if not binds(identifier, issuer, aliases):
            return _Verdict(
                False,
                f"{OPERATOR_FIELD} names {identifier!r} as the economic operator, but the "
                f"passport was signed by {issuer}, whose DID document does not list it "
                "(alsoKnownAs)",
                OPERATOR_NOT_ISSUER,
            )
    how = "its signer" if all(n == issuer for n in named) else "an alsoKnownAs of its signer"
    return _Verdict(True, f"the operator it names is {how}")


def authority_check(
    registry: TrustRegistry,
    responsibility: ResponsibilityLookup,
    known_as: AlsoKnownAs | None = None,
) -> CredentialCheck:
    """The `trust` check, bound to a registry, a way to find who is responsible for a battery,
    and a way to read a DID's alsoKnownAs (the operator binding of passport credentials)."""

    def check(credential: dict, result: Result) -> None:
        types = [t for t in as_list(credential.get("type", [])) if isinstance(t, str)]
        rules = registry.rules_for(types)
        if not rules:
            result.skipped(CHECK, "the trust registry has no issuer rule for this credential type")
            return
        judge = _Judge(registry, responsibility, credential)
        passed = []
        for type_name, principals in rules.items():
            verdicts = [judge.principal(p, type_name) for p in principals]
            good = next((v for v in verdicts if v.ok), None)
            if good is None:
                reasons = "; ".join(v.detail for v in verdicts)
                code = verdicts[0].code or _failure_code(type_name)
                result.failed(CHECK, f"may not issue {type_name}: {reasons}", code)
                return
            passed.append(f"{type_name}: {good.detail}")
        binding = operator_binding(credential, known_as)
        if binding is not None and not binding.ok:
            result.failed(CHECK, binding.detail, binding.code)
            return
        if binding is not None:
            passed.append(binding.detail)
        result.passed(CHECK, "; ".join(passed))

    return check


def routing_registry_tenures(session: Session) -> ResponsibilityLookup:
    """Responsibility from the routing registry: the operator responsible now (its holder,
    `resolver.registry.responsible_operator`) and the ended tenures of earlier operators recorded
    at each hand-over."""

    def lookup(key: ItemKey) -> Sequence[Tenure] | None:
        try:
            route = registry.lookup(session, key.gtin, key.serial)
        except registry.UnknownBattery:
            return None
        ended = [
            Tenure(t.operator_did, as_utc(t.since), as_utc(t.until))
            for t in registry.tenures(session, route.id)
            if t.until is not None
        ]
        # The holder in the registry is authoritative for "now" (PUT /route re-points it too).
        return [*ended, Tenure(route.holder_did)]

    return lookup


def responsible_operator(session: Session, key: ItemKey) -> str | None:
    """The operator responsible for the battery now: the routing registry's one query."""
    return registry.responsible_operator(session, key)
