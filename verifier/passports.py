"""What the verifier needs from whoever keeps passports: a battery by its GS1 key, and the signed
tier credentials of its current passport.

The issuer package keeps them (`issuer.views`), but the verifier must not import a sibling
package, so it states what it needs here and the service wires an implementation in
(`service.runtime`). Tests use that real one, filled through the issuer's API.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from sqlmodel import Session

from vocab.catalogue import Tier


class BatteryRecord(Protocol):
    """The fields of `issuer.views.BatteryView` the verifier reads."""

    id: str
    gtin: str
    serial: str
    item_uri: str
    did: str
    operator_did: str  # the operator responsible now


class PassportStore(Protocol):
    def battery_by_key(self, session: Session, gtin: str, serial: str) -> BatteryRecord | None:
        """The battery, or None when no passport for it is kept here."""
        ...

    def credentials_for_tiers(
        self, session: Session, battery_id: str, tiers: Iterable[Tier]
    ) -> list[dict]:
        """The signed credentials whose data belongs to `tiers`, nothing else: the current
        passport's tier credentials, then the battery's event credentials (Annex XIII point 4
        data and status changes, oldest first), each released with the tiers of its data."""
        ...
