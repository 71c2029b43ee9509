"""What a presented credential entitles its subject to: a role (LegitimateInterestCredential,
AuthorityCredential) or an access grant (AccessGrantCredential).

Parsing only reads what the credential states; whether its issuer may state it is the `trust`
check's business, and which tiers it opens is `verifier.policy`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from verifier.errors import VerifierError
from vocab.catalogue import (
    COMMISSION,
    LEGITIMATE_INTEREST,
    MARKET_SURVEILLANCE,
    NOTIFIED_BODY,
    Tier,
)
from vocab.context import (
    ACCESS_GRANT_CREDENTIAL,
    AUTHORITY_CREDENTIAL,
    LEGITIMATE_INTEREST_CREDENTIAL,
)
from vocab.datetimes import as_utc
from vocab.gs1 import InvalidGs1Key, ItemKey, parse_item_uri
from vocab.models.roles import AccessGrant, Authority, AuthorityType, LegitimateInterest
from vocab.vcdm import as_list, issuer_id

ENTITLEMENT_TYPES = (LEGITIMATE_INTEREST_CREDENTIAL, AUTHORITY_CREDENTIAL, ACCESS_GRANT_CREDENTIAL)

# The reader of Art 77(2) (vocab.catalogue) each authority type is.
_AUTHORITY_READERS = {
    AuthorityType.NOTIFIED_BODY: NOTIFIED_BODY,
    AuthorityType.MARKET_SURVEILLANCE: MARKET_SURVEILLANCE,
    AuthorityType.COMMISSION: COMMISSION,
}


class MalformedEntitlement(VerifierError):
    code = "malformed-credential"
    status = 400


@dataclass(frozen=True)
class Role:
    """A role credential: its subject is a reader of Art 77(2) for the stated roles."""

    credential_type: str
    credential_id: str | None
    issuer: str
    subject: str
    reader: str  # LEGITIMATE_INTEREST, NOTIFIED_BODY, MARKET_SURVEILLANCE or COMMISSION
    roles: tuple[str, ...]  # purposes, or the authority type: what a trust anchor accredits

    @property
    def label(self) -> str:
        """How the access log names the role: `legitimate-interest:recycling,repair`."""
        kind = "legitimate-interest" if self.reader == LEGITIMATE_INTEREST else "authority"
        return f"{kind}:{','.join(self.roles)}"


@dataclass(frozen=True)
class Grant:
    """An access grant: `grantee` may read `tiers` of `batteries` until `expiry`."""

    credential_id: str | None
    issuer: str
    grantee: str
    batteries: tuple[ItemKey, ...]
    tiers: frozenset[Tier]
    expiry: datetime

    label = "grant"

    @property
    def subject(self) -> str:
        return self.grantee

    def covers(self, key: ItemKey) -> bool:
        # Serial numbers are unique within a GTIN, so the pair names the battery whatever host
        # or variant/batch qualifiers the grant's URI carries.
        return any(b.gtin == key.gtin and b.serial == key.serial for b in self.batteries)


Entitlement = Role | Grant


def entitlement_type(credential: dict) -> str | None:
    types = as_list(credential.get("type", []))
    for name in ENTITLEMENT_TYPES:
        if name in types:
            return name
    return None


def _subject(credential: dict) -> dict:
    subjects = as_list(credential.get("credentialSubject"))
    if len(subjects) != 1 or not isinstance(subjects[0], dict):
        raise MalformedEntitlement("a role credential or grant must have exactly one subject")
    return subjects[0]


def _validated(model, subject: dict):
    try:
        return model.model_validate(subject)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise MalformedEntitlement(
            f"credentialSubject{'.' + where if where else ''}: {first.get('msg')}"
        ) from None


def parse_entitlement(credential: dict) -> Entitlement | None:
    """The role or grant a credential states; None for any other credential type."""
    kind = entitlement_type(credential)
    if kind is None:
        return None
    subject = _subject(credential)
    cid = credential.get("id") if isinstance(credential.get("id"), str) else None
    issuer = issuer_id(credential)
    if kind == LEGITIMATE_INTEREST_CREDENTIAL:
        li = _validated(LegitimateInterest, subject)
        purposes = tuple(sorted({p.value for p in li.purpose}))
        return Role(kind, cid, issuer, li.id, LEGITIMATE_INTEREST, purposes)
    if kind == AUTHORITY_CREDENTIAL:
        auth = _validated(Authority, subject)
        reader = _AUTHORITY_READERS[auth.authority_type]
        return Role(kind, cid, issuer, auth.id, reader, (auth.authority_type.value,))
    grant = _validated(AccessGrant, subject)
    try:
        batteries = tuple(parse_item_uri(b) for b in grant.batteries)
    except InvalidGs1Key as exc:  # the model already checked the form; belt and braces
        raise MalformedEntitlement(f"credentialSubject.batteries: {exc}") from None
    return Grant(
        cid,
        issuer,
        grant.grantee,
        batteries,
        frozenset(Tier(t) for t in grant.tiers),
        as_utc(grant.expiry),
    )
