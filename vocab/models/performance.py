"""Performance and durability (Annex XIII 1(g)-(p), 4(a), 4(b), 4(d); Annex IV; Annex VII;
DATAMODEL rows 52-93), in three parts that change at different times:

- `rated`: model-level values fixed when the model is placed on the market;
- `durability`: the Annex IV Part A parameters, fixed per model but restated "when the battery is
  subject to changes in its status" (Annex XIII 4(a));
- `condition`: the individual battery's state of health and usage data, which change all the time
  and mostly arrive after issuance as BatteryEventCredentials.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, Field, model_validator

from vocab.models.common import (
    Capacity,
    CapacityReading,
    Count,
    CountReading,
    Energy,
    EnergyReading,
    MinutesReading,
    Model,
    NonEmptyStr,
    NonNegative,
    Percent,
    PercentReading,
    Power,
    PowerReading,
    PowerToEnergyRatio,
    RateReading,
    Resistance,
    Temperature,
    Voltage,
    Years,
    rule_error,
)


class PackLevel(StrEnum):
    CELL = "cell"
    MODULE = "module"
    PACK = "pack"


class PowerCapability(Model):
    at_state_of_charge: Percent
    """The state of charge the power was measured at (Annex IV Part B: 80 % and 20 %)."""
    power: Power


class InternalResistance(Model):
    component: PackLevel
    resistance: Resistance


class ResistanceIncrease(Model):
    component: PackLevel
    increase: Annotated[float, Field(ge=0)]
    """Increase over the initial internal resistance, in percent (may exceed 100)."""


class TemperatureRange(Model):
    lower: Temperature
    upper: Temperature

    @model_validator(mode="after")
    def _ordered(self) -> TemperatureRange:
        if self.lower.value > self.upper.value:
            raise rule_error("range-order", "the lower temperature is above the upper one")
        return self


class RatedPerformance(Model):
    rated_capacity: Capacity | None = None
    certified_usable_energy: Energy | None = None
    minimum_voltage: Voltage | None = None
    maximum_voltage: Voltage | None = None
    nominal_voltage: Voltage | None = None
    original_power_capability: list[PowerCapability] | None = None
    maximum_permitted_power: Power | None = None
    power_to_energy_ratio: PowerToEnergyRatio | None = None
    initial_round_trip_efficiency: Percent | None = None
    round_trip_efficiency_at_50_percent_cycle_life: Percent | None = None
    initial_self_discharge_rate: NonNegative | None = None
    """Percent of charge lost per month."""
    initial_internal_resistance: list[InternalResistance] | None = None
    expected_lifetime: Years | None = None
    expected_number_of_cycles: Count | None = None
    cycle_life_reference_test: NonEmptyStr | None = None
    """The standard or test the cycle life was determined with."""
    c_rate_of_cycle_life_test: NonNegative | None = None
    """C-rate (A/Ah) of the cycle-life test."""
    capacity_threshold_for_exhaustion: Percent | None = None
    idle_state_temperature_range: TemperatureRange | None = None

    @model_validator(mode="after")
    def _voltages_ordered(self) -> RatedPerformance:
        given = [v for v in (self.minimum_voltage, self.nominal_voltage, self.maximum_voltage) if v]
        if any(a.value > b.value for a, b in zip(given, given[1:], strict=False)):
            raise rule_error("voltage-order", "voltages must satisfy minimum <= nominal <= maximum")
        return self


class Durability(Model):
    """Annex IV Part A parameters, in percent."""

    capacity_fade: Percent | None = None
    power_fade: Percent | None = None
    round_trip_efficiency_fade: Percent | None = None
    internal_resistance_increase: list[ResistanceIncrease] | None = None


class TemperatureInformation(Model):
    """Operating temperatures recorded by the battery management system (Annex XIII 4(d))."""

    last_recorded: Temperature | None = None
    minimum_recorded: Temperature | None = None
    maximum_recorded: Temperature | None = None
    last_update: AwareDatetime


class NegativeEvent(Model):
    """An accident or other negative event (Annex XIII 4(d))."""

    event_type: NonEmptyStr
    description: NonEmptyStr | None = None
    occurred_at: AwareDatetime


class BatteryCondition(Model):
    """State of health and usage of the individual battery (Annex VII; Annex XIII 4(b), 4(d))."""

    remaining_capacity: CapacityReading | None = None
    remaining_energy: EnergyReading | None = None
    state_of_certified_energy: PercentReading | None = None
    state_of_charge: PercentReading | None = None
    remaining_power_capability: PowerReading | None = None
    remaining_round_trip_efficiency: PercentReading | None = None
    current_self_discharge_rate: RateReading | None = None
    evolution_of_self_discharge: RateReading | None = None
    number_of_full_cycles: CountReading | None = None
    energy_throughput: EnergyReading | None = None
    capacity_throughput: CapacityReading | None = None
    temperature_information: TemperatureInformation | None = None
    time_in_extreme_high_temperature: MinutesReading | None = None
    time_in_extreme_low_temperature: MinutesReading | None = None
    time_charging_in_extreme_high_temperature: MinutesReading | None = None
    time_charging_in_extreme_low_temperature: MinutesReading | None = None
    number_of_deep_discharge_events: CountReading | None = None
    number_of_overcharge_events: CountReading | None = None
    negative_events: list[NegativeEvent] | None = None


class Performance(Model):
    rated: RatedPerformance | None = None
    durability: Durability | None = None
    condition: BatteryCondition | None = None
