"""Supply-chain due diligence (Annex XIII 1(d), Art 52(3); DATAMODEL rows 28-30)."""

from __future__ import annotations

from vocab.models.common import Model, NonEmptyStr, Url


class SupplyChainIndex(Model):
    """A voluntary supply-chain index (no standard list exists yet): its name and score."""

    name: NonEmptyStr
    value: float
    url: Url | None = None


class DueDiligence(Model):
    due_diligence_report: Url | None = None
    third_party_assurances: list[Url] | None = None
    supply_chain_indices: list[SupplyChainIndex] | None = None
