"""Which tiers a role or a grant opens.

Driven by `vocab.catalogue.who_may_see`, never by an order of tiers (there is none): a reader sees
a tier when Art 77(2) names it among that tier's readers. On top of the regulation, one policy
switch: Annex XIII point 4 (individual battery data, tier `legitimate-interest`) is not listed for
authorities in Art 77(2)(b); `DBP_AUTHORITIES_SEE_INDIVIDUAL_DATA` opens it to them as a matter of
this service's policy.

The public tier is part of every release: everyone may see it, so leaving it out would hide
nothing and would make the answer an incomplete view of what the requester may read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from verifier.entitlements import Entitlement, Grant, Role
from vocab.catalogue import (
    COMMISSION,
    EVERYONE,
    MARKET_SURVEILLANCE,
    NOTIFIED_BODY,
    Tier,
    who_may_see,
)
from vocab.gs1 import ItemKey

AUTHORITY_READERS = frozenset({NOTIFIED_BODY, MARKET_SURVEILLANCE, COMMISSION})


@dataclass(frozen=True)
class AccessPolicy:
    authorities_see_individual_data: bool = False

    def tiers_for_reader(self, reader: str) -> frozenset[Tier]:
        tiers = {t for t in Tier if reader in who_may_see(t) or EVERYONE in who_may_see(t)}
        if reader in AUTHORITY_READERS and self.authorities_see_individual_data:
            tiers.add(Tier.LEGITIMATE_INTEREST)
        return frozenset(tiers)

    def tiers_for_grant(self, grant: Grant, key: ItemKey) -> frozenset[Tier]:
        """Exactly the granted tiers (and the public one) for a battery the grant names."""
        if not grant.covers(key):
            return frozenset()
        return grant.tiers | self.public_tiers()

    def public_tiers(self) -> frozenset[Tier]:
        return frozenset(t for t in Tier if EVERYONE in who_may_see(t))

    def tiers_for(self, entitlements: Iterable[Entitlement], key: ItemKey) -> frozenset[Tier]:
        out: set[Tier] = set()
        for entitlement in entitlements:
            if isinstance(entitlement, Role):
                out |= self.tiers_for_reader(entitlement.reader)
            else:
                out |= self.tiers_for_grant(entitlement, key)
        return frozenset(out)

    def table(self) -> dict[str, list[str]]:
        """Reader -> tiers, for documentation and the trust registry answer."""
        readers = ["legitimate-interest", NOTIFIED_BODY, MARKET_SURVEILLANCE, COMMISSION]
        return {r: [t.value for t in Tier if t in self.tiers_for_reader(r)] for r in readers}
