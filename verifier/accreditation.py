"""Role credentials a trust anchor issues: LegitimateInterestCredential (purposes such as
recycling or repair) and AuthorityCredential (notified body, market surveillance, Commission).

This module only writes the unsigned credential; the anchor signs it (`dbp trust accredit` signs
with this instance's key).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from verifier.errors import VerifierError
from verifier.trust import AUTHORITY_ROLES, PURPOSE_ROLES
from vocab.context import AUTHORITY_CREDENTIAL, CREDENTIAL_CONTEXTS, LEGITIMATE_INTEREST_CREDENTIAL
from vocab.datetimes import format_datetime, utcnow
from vocab.vcdm import is_url


class InvalidAccreditation(VerifierError):
    code = "invalid-accreditation"
    status = 400


def role_credential(
    *,
    issuer: str,
    subject: str,
    roles: Sequence[str],
    valid_days: int | None = 365,
    name: str | None = None,
    jurisdiction: str | None = None,
    now: datetime | None = None,
    credential_status: dict | None = None,
) -> dict:
    """An unsigned role credential: one or more legitimate-interest purposes, or exactly one
    authority type."""
    if not is_url(subject) or not subject.startswith("did:"):
        raise InvalidAccreditation(f"the subject must be a DID, not {subject!r}")
    roles = list(dict.fromkeys(roles))
    unknown = [r for r in roles if r not in PURPOSE_ROLES | AUTHORITY_ROLES]
    if not roles or unknown:
        raise InvalidAccreditation(
            f"unknown role(s) {', '.join(unknown) or '(none given)'}; known: "
            f"{', '.join(sorted(PURPOSE_ROLES | AUTHORITY_ROLES))}"
        )
    authority = [r for r in roles if r in AUTHORITY_ROLES]
    if authority and len(roles) > 1:
        raise InvalidAccreditation(
            "an authority credential states exactly one authority type and no purposes"
        )
    if jurisdiction and not authority:
        raise InvalidAccreditation("a jurisdiction belongs to an authority credential only")
    now = now or utcnow()
    if authority:
        kind = AUTHORITY_CREDENTIAL
        claims: dict = {"id": subject, "authorityType": authority[0]}
        if jurisdiction:
            claims["jurisdiction"] = jurisdiction
    else:
        kind = LEGITIMATE_INTEREST_CREDENTIAL
        claims = {"id": subject, "purpose": sorted(roles)}
    if name:
        claims["name"] = name
    credential: dict = {
        "@context": list(CREDENTIAL_CONTEXTS),
        "id": f"urn:uuid:{uuid.uuid4()}",
        "type": ["VerifiableCredential", kind],
        "issuer": issuer,
        "validFrom": format_datetime(now),
        "credentialSubject": claims,
    }
    if valid_days is not None:
        if valid_days < 1:
            raise InvalidAccreditation("valid_days must be at least 1")
        credential["validUntil"] = format_datetime(now + timedelta(days=valid_days))
    if credential_status is not None:
        credential["credentialStatus"] = credential_status
    return credential
