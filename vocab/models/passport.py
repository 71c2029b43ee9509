"""The whole Annex XIII passport: identifiers and passport metadata plus one part per group."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from vocab.models.carbon_footprint import CarbonFootprint
from vocab.models.circularity import Circularity
from vocab.models.common import Model, Url
from vocab.models.due_diligence import DueDiligence
from vocab.models.identity import BatteryIdentifier, GeneralInformation, PassportId
from vocab.models.labels import Labels
from vocab.models.materials import Materials
from vocab.models.performance import Performance
from vocab.models.status import Lifecycle


class Passport(Model):
    """A battery passport. Each part is optional in the model; which parts a battery category must
    have is a catalogue rule that `vocab.validation.validate_passport` applies."""

    passport_id: PassportId
    passport_version: Annotated[int, Field(ge=1)]
    """1 for the first issuance, incremented with every re-issue of the passport's credentials."""
    battery_identifier: BatteryIdentifier
    predecessor: list[PassportId] | None = None
    """Passports of the original battery or batteries this one was made from (Art 77(7))."""
    backup_reference: Url | None = None
    """Where the back-up copy kept by an independent passport service provider is."""
    general: GeneralInformation
    lifecycle: Lifecycle | None = None
    labels: Labels | None = None
    carbon_footprint: CarbonFootprint | None = None
    due_diligence: DueDiligence | None = None
    materials: Materials | None = None
    circularity: Circularity | None = None
    performance: Performance | None = None

    def to_json(self) -> dict:
        """The passport as JSON data: camelCase names, absent fields omitted."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)
