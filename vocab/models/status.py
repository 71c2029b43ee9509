"""The battery status (Annex XIII 4(c); DATAMODEL row 11, section 5) and passport lifecycle."""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime

from vocab.models.common import Iri, Model


class BatteryStatus(StrEnum):
    """Regulation spelling (Annex XIII 4(c)): `re-used`, not the consortium's `Reused`."""

    ORIGINAL = "original"
    RE_USED = "re-used"
    REPURPOSED = "repurposed"
    REMANUFACTURED = "remanufactured"
    WASTE = "waste"
    RECYCLED = "recycled"
    """Not in the Regulation: the Battery Pass consortium's proposal for the archive state after
    recycling, when the passport "ceases to exist" (Art 77(8)) but is kept, not deleted."""


class Lifecycle(Model):
    battery_status: BatteryStatus
    last_update: AwareDatetime | None = None
    updated_by: Iri | None = None
    """Who changed the status (Battery Pass Content Guidance 6.1.7): a DID or other IRI."""
