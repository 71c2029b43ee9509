"""Chemistry and material composition (Annex XIII 1(a)-(b) and 2(a); DATAMODEL rows 31-35).

`batteryMaterials` is one list holding entries of two access tiers: an entry about the battery as
a whole (`component: battery`) declares a critical raw material and is public (Annex XIII 1(b));
an entry about a component (cathode, anode, electrolyte, ...) is detailed composition and is only
for persons with a legitimate interest and the Commission (point 2(a)). A critical raw material
whose electrode location is also given therefore appears twice: once battery-level, once per
component.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import model_validator

from vocab.models.common import CasNumber, Mass, Model, NonEmptyStr, Percent, rule_error


class BatteryChemistry(Model):
    short_name: NonEmptyStr
    """Common abbreviation, e.g. NMC811, LFP."""
    clear_name: NonEmptyStr


class Component(StrEnum):
    BATTERY = "battery"
    CATHODE = "cathode"
    ANODE = "anode"
    ELECTROLYTE = "electrolyte"
    SEPARATOR = "separator"
    CURRENT_COLLECTOR = "current-collector"
    HOUSING = "housing"
    OTHER = "other"


class BatteryMaterial(Model):
    name: NonEmptyStr
    cas_number: CasNumber | None = None
    component: Component
    critical_raw_material: bool
    """Is, or contains, a material on the Union list of critical raw materials (Regulation (EU)
    2024/1252, Annex II): lithium in NMC cathode material makes that entry critical."""
    mass_fraction: Percent | None = None
    """Share of the mass of the battery (battery-level entries) or of the component (others)."""
    mass: Mass | None = None

    @model_validator(mode="after")
    def _battery_level_entries_are_crm(self) -> BatteryMaterial:
        if self.component is Component.BATTERY and not self.critical_raw_material:
            raise rule_error(
                "battery-level-crm",
                "a battery-level material entry declares a critical raw material "
                "(Annex XIII 1(b)); give other materials per component",
            )
        return self


class HazardousSubstance(Model):
    name: NonEmptyStr
    cas_number: CasNumber | None = None
    hazard_class: NonEmptyStr | None = None
    """CLP hazard class, e.g. "Carcinogenicity 1A"."""
    concentration: Percent | None = None
    """Share of the battery mass in percent (w/w)."""
    location: NonEmptyStr | None = None
    """Where in the battery the substance is (cell, electrolyte, housing, ...)."""
    impact: list[NonEmptyStr] | None = None
    """Impact on the environment and on human health (Annex XIII 1(s), Art 74(1)(f))."""


class Materials(Model):
    battery_chemistry: BatteryChemistry | None = None
    battery_materials: list[BatteryMaterial] | None = None
    hazardous_substances: list[HazardousSubstance] | None = None
