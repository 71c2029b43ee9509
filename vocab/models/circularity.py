"""Circularity and resource efficiency (Annex XIII 1(e)-(f), 1(s), 2(b)-(d); DATAMODEL rows 36-51,
plus row 15, the extinguishing agent, which lives with the safety measures).

`safetyMeasures` mixes tiers field by field: `extinguishingAgents` is public (Annex VI Part A(9)),
`safetyInstructions` is for legitimate interest and the Commission (Annex XIII 2(d)).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import field_validator, model_validator

from vocab.models.common import Document, Model, NonEmptyStr, Party, Percent, Url, rule_error


class ComponentPart(Model):
    part_name: NonEmptyStr
    part_number: NonEmptyStr


class ExtinguishingAgent(Model):
    agent: NonEmptyStr
    fire_class: NonEmptyStr | None = None
    """Fire classes per EN 2, e.g. "A, B"."""


class SafetyMeasures(Model):
    safety_instructions: list[Document] | None = None
    extinguishing_agents: list[ExtinguishingAgent] | None = None


class RecycledMaterial(StrEnum):
    """The metals whose recycled share Art 8(1) requires."""

    COBALT = "cobalt"
    LEAD = "lead"
    LITHIUM = "lithium"
    NICKEL = "nickel"


class RecycledContent(Model):
    material: RecycledMaterial
    pre_consumer_share: Percent
    post_consumer_share: Percent

    @model_validator(mode="after")
    def _shares_fit(self) -> RecycledContent:
        if self.pre_consumer_share + self.post_consumer_share > 100:
            raise rule_error("share-sum", "pre- and post-consumer shares together exceed 100 %")
        return self


class EndOfLifeInformation(Model):
    """Information for end users (Art 74(1)(a)-(c))."""

    waste_prevention: Url | None = None
    separate_collection: Url | None = None
    information_on_collection: Url | None = None


class Circularity(Model):
    dismantling_information: list[Document] | None = None
    """Exploded diagrams, disassembly sequences, fastenings, tools, warnings, cell layout (2(c))."""
    component_part_numbers: list[ComponentPart] | None = None
    spare_part_sources: list[Party] | None = None
    safety_measures: SafetyMeasures | None = None
    recycled_content: list[RecycledContent] | None = None
    renewable_content: Percent | None = None
    end_of_life_information: EndOfLifeInformation | None = None

    @field_validator("recycled_content")
    @classmethod
    def _one_entry_per_material(
        cls, entries: list[RecycledContent] | None
    ) -> list[RecycledContent] | None:
        materials = [e.material for e in entries or []]
        repeated = sorted({m.value for m in materials if materials.count(m) > 1})
        if repeated:
            raise rule_error(
                "unique",
                "recycled content is declared twice for {materials}",
                materials=", ".join(repeated),
            )
        return entries
