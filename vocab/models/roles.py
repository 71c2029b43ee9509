"""Subjects of the credentials that let a reader into restricted tiers: role credentials issued
by an accreditation body, and access grants issued by a passport holder.

Which tiers a role may read is the verifier's policy (see `vocab.catalogue.who_may_see` for what
Art 77(2) says); these models only fix what the credentials state.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, Field

from vocab.catalogue import Tier
from vocab.models.common import Iri, Model, NonEmptyStr
from vocab.models.identity import BatteryIdentifier


class Purpose(StrEnum):
    """Why a person has a legitimate interest (Art 77(2) third subparagraph)."""

    RECYCLING = "recycling"
    REPAIR = "repair"
    REPURPOSING = "repurposing"
    REMANUFACTURING = "remanufacturing"
    SECOND_LIFE = "second-life"
    AGGREGATION = "aggregation"
    """Making an individual battery available to independent aggregators or energy-market
    participants on the buyer's behalf (Art 77(2), third subparagraph, point (b))."""


class AuthorityType(StrEnum):
    NOTIFIED_BODY = "notified-body"
    MARKET_SURVEILLANCE = "market-surveillance"
    COMMISSION = "commission"


class LegitimateInterest(Model):
    """credentialSubject of a LegitimateInterestCredential."""

    id: Iri
    """The holder's DID."""
    name: NonEmptyStr | None = None
    purpose: Annotated[list[Purpose], Field(min_length=1)]


class Authority(Model):
    """credentialSubject of an AuthorityCredential."""

    id: Iri
    name: NonEmptyStr | None = None
    authority_type: AuthorityType
    jurisdiction: Annotated[str, Field(pattern=r"^([A-Z]{2}|EU)$")] | None = None
    """ISO 3166-1 alpha-2 country code of a national authority, or EU."""


class AccessGrant(Model):
    """credentialSubject of an AccessGrantCredential: the passport holder lets `grantee` read the
    listed tiers of the listed batteries until `expiry`."""

    grantee: Iri
    batteries: Annotated[list[BatteryIdentifier], Field(min_length=1)]
    tiers: Annotated[list[Tier], Field(min_length=1)]
    expiry: AwareDatetime
