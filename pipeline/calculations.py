"""Regulatory calculations: pure functions, each with the methodology version it implements and
hand-computed tests (tests/pipeline/test_calculations.py).

Where the delegated act a calculation depends on has not entered into force, the methodology is a
named, configurable choice and every result carries the name of the methodology that produced it
(`Result.methodology`); lineage events and the processed Parquet record it with the value.

- Carbon footprint per functional unit (Art 7(1)(d), Annex II): kg CO2e per kWh of the total
  energy the battery delivers over its expected service life, per life-cycle stage and in total.
  Annex II leaves the functional unit's energy to the delegated act; until it applies:
  `dbp-cf-linear-fade/1`: E_total = E_usable x N_cycles x (1 + T) / 2, the capacity fading
  linearly from 100 % to the end-of-life threshold T (capacityThresholdForExhaustion, default 80 %)
  so the average cycle delivers (1 + T) / 2 of the usable energy; `dbp-cf-constant/1`:
  E_total = E_usable x N_cycles (no fade; an upper bound of the energy, a lower bound of the
  footprint). E_usable is the certified usable energy, or rated capacity x nominal voltage.
- Carbon footprint performance class (Art 7(2)): the first class of a configured table whose upper
  bound the total does not exceed. The class thresholds are for a delegated act; the default
  table (`dbp-cf-class-illustrative/1`) is illustrative, never a legal classification.
- Recycled content (Art 8, Annex XIII 1(h)): per material (cobalt, lead, lithium, nickel), the
  pre- and post-consumer recycled mass as a share of that material's mass in the battery, from the
  bill of materials (`dbp-rc-mass-balance/1`; the calculation method is for an implementing act).
- Annex IV Part A/B performance and durability parameters from test data (`dbp-annex-iv/1`):
  capacity fade, power fade, round-trip efficiency and its fade (relative), internal resistance
  and its increase, power capability at 80 % and 20 % state of charge, power/energy ratio. Test
  samples of a model are averaged before the formulas apply.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vocab.models.carbon_footprint import LifecycleStage

CF_LINEAR_FADE = "dbp-cf-linear-fade/1"
CF_CONSTANT = "dbp-cf-constant/1"
CF_METHODOLOGIES = (CF_LINEAR_FADE, CF_CONSTANT)
CF_CLASS_ILLUSTRATIVE = "dbp-cf-class-illustrative/1"
RC_MASS_BALANCE = "dbp-rc-mass-balance/1"
ANNEX_IV = "dbp-annex-iv/1"
DEFAULT_EXHAUSTION_THRESHOLD = 80.0

# Upper bounds in kg CO2e per kWh, best class first. Illustrative only (see the module docstring).
ILLUSTRATIVE_CLASSES: tuple[tuple[str, float], ...] = (
    ("A", 0.050),
    ("B", 0.065),
    ("C", 0.080),
    ("D", 0.100),
    ("E", 0.130),
)
RECYCLED_MATERIALS = ("cobalt", "lead", "lithium", "nickel")
STAGES = tuple(s.value for s in LifecycleStage)


@dataclass(frozen=True)
class InputSpec:
    unit: str
    aggregate: str  # "sum" over the records of an entity, or "mean" over test samples
    qualified: bool = False
    qualifiers: tuple[str, ...] | None = None
    description: str = ""


INPUTS: dict[str, InputSpec] = {
    "lca.emissions": InputSpec(
        "kgCO2e", "sum", True, STAGES,
        "emissions of one battery attributed to a life-cycle stage (LCA result rows)",
    ),
    "material.mass": InputSpec("kg", "sum", True, None, "mass of a material in one battery"),
    "material.pre_consumer_recycled": InputSpec(
        "kg", "sum", True, None, "of it, recovered from pre-consumer (manufacturing) waste"
    ),
    "material.post_consumer_recycled": InputSpec(
        "kg", "sum", True, None, "of it, recovered from post-consumer waste"
    ),
    "test.capacity_initial": InputSpec("Ah", "mean", description="capacity at begin of test"),
    "test.capacity_end": InputSpec("Ah", "mean", description="capacity after the cycle-life test"),
    "test.power_initial": InputSpec("W", "mean", description="power at begin of test"),
    "test.power_end": InputSpec("W", "mean", description="power after the cycle-life test"),
    "test.power_at_soc": InputSpec(
        "W", "mean", True, ("80", "20"), "power capability at a state of charge (Annex IV B)"
    ),
    "test.energy_in": InputSpec("kWh", "mean", description="charge energy, first cycle"),
    "test.energy_out": InputSpec("kWh", "mean", description="discharge energy, first cycle"),
    "test.energy_in_50": InputSpec("kWh", "mean", description="charge energy at 50 % cycle life"),
    "test.energy_out_50": InputSpec(
        "kWh", "mean", description="discharge energy at 50 % cycle life"
    ),
    "test.resistance_initial": InputSpec(
        "ohm", "mean", True, ("cell", "module", "pack"), "internal resistance, begin of test"
    ),
    "test.resistance_end": InputSpec(
        "ohm", "mean", True, ("cell", "module", "pack"), "internal resistance, end of test"
    ),
}  # fmt: skip


class CalculationError(ValueError):
    """The inputs do not allow the calculation (zero energy, missing stage)."""


@dataclass(frozen=True)
class Result:
    """One calculated passport value: where it goes, what it is, how it was made."""

    path: str
    value: Any
    calculation: str
    methodology: str
    inputs: tuple[str, ...] = field(default=())
    """Names of the inputs (calculation inputs or passport paths) the value was computed from."""


def _r(value: float, digits: int = 4) -> float:
    return float(round(value, digits))


# --- carbon footprint ---------------------------------------------------------------------------


def usable_energy_kwh(
    certified_usable_energy_kwh: float | None,
    rated_capacity_ah: float | None,
    nominal_voltage_v: float | None,
) -> float:
    """The battery's usable energy: the certified value, else rated capacity x nominal voltage."""
    if certified_usable_energy_kwh:
        return certified_usable_energy_kwh
    if rated_capacity_ah and nominal_voltage_v:
        return rated_capacity_ah * nominal_voltage_v / 1000.0
    raise CalculationError(
        "needs performance.rated.certifiedUsableEnergy, or ratedCapacity and nominalVoltage"
    )


def total_energy_kwh(
    usable_kwh: float,
    cycles: float,
    threshold_percent: float | None,
    methodology: str = CF_LINEAR_FADE,
) -> float:
    """Energy delivered over the expected service life (the functional unit's denominator)."""
    if usable_kwh <= 0 or cycles <= 0:
        raise CalculationError("usable energy and expected number of cycles must be positive")
    if methodology == CF_CONSTANT:
        return usable_kwh * cycles
    if methodology == CF_LINEAR_FADE:
        threshold = (
            DEFAULT_EXHAUSTION_THRESHOLD if threshold_percent is None else threshold_percent
        ) / 100.0
        return usable_kwh * cycles * (1.0 + threshold) / 2.0
    raise CalculationError(f"unknown carbon footprint methodology {methodology!r}")


def carbon_footprint(
    stage_emissions_kg: Mapping[str, float], total_energy: float
) -> dict[str, Any]:
    """The carbonFootprint figures: per-stage and total kg CO2e/kWh, absolute t CO2e.

    The total is the sum of the unrounded stages, rounded once, so the declared value and the
    stages agree within vocab's stage-sum tolerance."""
    missing = [s for s in STAGES if s not in stage_emissions_kg]
    if missing:
        raise CalculationError(f"LCA data lacks the stage(s) {', '.join(missing)}")
    if total_energy <= 0:
        raise CalculationError("total energy must be positive")
    per_kwh = {s: stage_emissions_kg[s] / total_energy for s in STAGES}
    absolute_kg = sum(stage_emissions_kg[s] for s in STAGES)
    return {
        "declaredValue": {"value": _r(sum(per_kwh.values())), "unit": "kgCO2e/kWh"},
        "lifecycleStages": [
            {"stage": s, "value": _r(per_kwh[s]), "unit": "kgCO2e/kWh"} for s in STAGES
        ],
        "absoluteFootprint": {"value": _r(absolute_kg / 1000.0, 3), "unit": "tCO2e"},
    }


def performance_class(value_per_kwh: float, table: tuple[tuple[str, float], ...]) -> str:
    """The first class whose upper bound `value_per_kwh` does not exceed (best class first); the
    last class takes everything above."""
    if not table:
        raise CalculationError("the performance class table is empty")
    for name, bound in table:
        if value_per_kwh <= bound:
            return name
    return table[-1][0]


# --- recycled content ---------------------------------------------------------------------------


def recycled_content(
    mass: Mapping[str, float],
    pre_consumer: Mapping[str, float],
    post_consumer: Mapping[str, float],
) -> list[dict[str, Any]]:
    """recycledContent elements for cobalt, lead, lithium, nickel present in the battery: each
    share = recycled mass / material mass x 100 (percent, two decimals)."""
    out = []
    for material in RECYCLED_MATERIALS:
        if material not in mass:
            continue  # not in the bill of materials: no share to declare (lead in Li-ion)
        total = mass[material]
        if total <= 0:  # listed with no mass (nickel in LFP): nothing recycled either
            out.append({"material": material, "preConsumerShare": 0.0, "postConsumerShare": 0.0})
            continue
        pre, post = pre_consumer.get(material, 0.0), post_consumer.get(material, 0.0)
        if pre < 0 or post < 0 or pre + post > total * (1 + 1e-9):
            raise CalculationError(
                f"{material}: recycled mass ({pre} + {post} kg) exceeds the material's {total} kg"
            )
        out.append(
            {
                "material": material,
                "preConsumerShare": _r(pre / total * 100, 2),
                "postConsumerShare": _r(post / total * 100, 2),
            }
        )
    return out


# --- Annex IV ------------------------------------------------------------------------------------


def fade_percent(initial: float, end: float) -> float:
    """Relative loss from `initial` to `end` in percent (capacity fade, power fade)."""
    if initial <= 0:
        raise CalculationError("the initial value must be positive")
    return _r(max(0.0, (1.0 - end / initial) * 100.0), 2)


def round_trip_efficiency(energy_in: float, energy_out: float) -> float:
    if energy_in <= 0:
        raise CalculationError("charge energy must be positive")
    return _r(energy_out / energy_in * 100.0, 2)


def increase_percent(initial: float, end: float) -> float:
    if initial <= 0:
        raise CalculationError("the initial resistance must be positive")
    return _r(max(0.0, (end / initial - 1.0) * 100.0), 2)


def annex_iv(inputs: Mapping[tuple[str, str], float]) -> list[Result]:
    """Annex IV parameters from averaged test data; `inputs` maps (input name, qualifier) to the
    value ('' when unqualified). Parameters whose inputs are absent are left out."""
    get = inputs.get
    out: list[Result] = []

    def add(path: str, value: Any, calculation: str, *names: str) -> None:
        out.append(Result(path, value, calculation, ANNEX_IV, tuple(names)))

    c0, c1 = get(("test.capacity_initial", "")), get(("test.capacity_end", ""))
    if c0 is not None and c1 is not None:
        add("performance.durability.capacityFade", fade_percent(c0, c1), "capacity_fade",
            "test.capacity_initial", "test.capacity_end")  # fmt: skip
    p0, p1 = get(("test.power_initial", "")), get(("test.power_end", ""))
    if p0 is not None and p1 is not None:
        add("performance.durability.powerFade", fade_percent(p0, p1), "power_fade",
            "test.power_initial", "test.power_end")  # fmt: skip
    e_in, e_out = get(("test.energy_in", "")), get(("test.energy_out", ""))
    rte0 = None
    if e_in is not None and e_out is not None:
        rte0 = round_trip_efficiency(e_in, e_out)
        add("performance.rated.initialRoundTripEfficiency", rte0, "round_trip_efficiency",
            "test.energy_in", "test.energy_out")  # fmt: skip
        if p0 is not None:
            ratio = _r(p0 / (e_out * 1000.0), 3)
            add("performance.rated.powerToEnergyRatio", {"value": ratio, "unit": "W/Wh"},
                "power_to_energy_ratio", "test.power_initial", "test.energy_out")  # fmt: skip
    e_in50, e_out50 = get(("test.energy_in_50", "")), get(("test.energy_out_50", ""))
    if e_in50 is not None and e_out50 is not None:
        rte50 = round_trip_efficiency(e_in50, e_out50)
        add("performance.rated.roundTripEfficiencyAt50PercentCycleLife", rte50,
            "round_trip_efficiency", "test.energy_in_50", "test.energy_out_50")  # fmt: skip
        if rte0 is not None:
            add("performance.durability.roundTripEfficiencyFade", fade_percent(rte0, rte50),
                "round_trip_efficiency_fade", "test.energy_in", "test.energy_out",
                "test.energy_in_50", "test.energy_out_50")  # fmt: skip
    powers = [
        {"atStateOfCharge": float(soc), "power": {"value": _r(get(("test.power_at_soc", soc)), 1),
                                                  "unit": "W"}}
        for soc in ("80", "20")
        if get(("test.power_at_soc", soc)) is not None
    ]  # fmt: skip
    if powers:
        add("performance.rated.originalPowerCapability", powers, "power_capability",
            "test.power_at_soc")  # fmt: skip
    initial, increase = [], []
    for component in ("cell", "module", "pack"):
        r0 = get(("test.resistance_initial", component))
        r1 = get(("test.resistance_end", component))
        if r0 is not None:
            initial.append(
                {"component": component, "resistance": {"value": _r(r0, 6), "unit": "ohm"}}
            )
            if r1 is not None:
                increase.append({"component": component, "increase": increase_percent(r0, r1)})
    if initial:
        add("performance.rated.initialInternalResistance", initial, "internal_resistance",
            "test.resistance_initial")  # fmt: skip
    if increase:
        add("performance.durability.internalResistanceIncrease", increase,
            "internal_resistance_increase", "test.resistance_initial",
            "test.resistance_end")  # fmt: skip
    return out


# --- one entity -----------------------------------------------------------------------------------

FUNCTIONAL_UNIT = "1 kWh of the total energy provided by the battery over its expected service life"


def _number(value: Any) -> float | None:
    if isinstance(value, dict):
        value = value.get("value")
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def calculate_entity(
    values: Mapping[str, Any],
    inputs: Mapping[tuple[str, str], float],
    *,
    cf_methodology: str = CF_LINEAR_FADE,
    class_table: tuple[tuple[str, float], ...] = ILLUSTRATIVE_CLASSES,
    class_methodology: str = CF_CLASS_ILLUSTRATIVE,
    rc_methodology: str = RC_MASS_BALANCE,
) -> list[Result]:
    """Every calculation whose inputs an entity (usually a battery model) has: `values` are its
    resolved passport values by path, `inputs` its aggregated calculation inputs by
    (name, qualifier). Raises CalculationError when inputs are there but unusable."""
    out: list[Result] = []
    stages = {q: v for (name, q), v in inputs.items() if name == "lca.emissions"}
    if stages:
        usable = usable_energy_kwh(
            _number(values.get("performance.rated.certifiedUsableEnergy")),
            _number(values.get("performance.rated.ratedCapacity")),
            _number(values.get("performance.rated.nominalVoltage")),
        )
        cycles = _number(values.get("performance.rated.expectedNumberOfCycles"))
        if cycles is None:
            raise CalculationError("needs performance.rated.expectedNumberOfCycles")
        threshold = _number(values.get("performance.rated.capacityThresholdForExhaustion"))
        energy = total_energy_kwh(usable, cycles, threshold, cf_methodology)
        cf = carbon_footprint(stages, energy)
        used = (
            "lca.emissions",
            "performance.rated.certifiedUsableEnergy",
            "performance.rated.ratedCapacity",
            "performance.rated.nominalVoltage",
            "performance.rated.expectedNumberOfCycles",
            "performance.rated.capacityThresholdForExhaustion",
        )
        name = "carbon_footprint_per_functional_unit"
        out.append(Result("carbonFootprint.type", "BatteryCarbonFootprintDeclaration", name,
                          cf_methodology, ()))  # fmt: skip
        out.append(Result("carbonFootprint.functionalUnit", FUNCTIONAL_UNIT, name,
                          cf_methodology, ()))  # fmt: skip
        out.append(
            Result("carbonFootprint.declaredValue", cf["declaredValue"], name, cf_methodology, used)
        )
        for stage in cf["lifecycleStages"]:
            out.append(
                Result(
                    f"carbonFootprint.lifecycleStages[stage={stage['stage']}]",
                    stage,
                    name,
                    cf_methodology,
                    used,
                )  # fmt: skip
            )
        out.append(
            Result(
                "carbonFootprint.absoluteFootprint",
                cf["absoluteFootprint"],
                "absolute_carbon_footprint",
                cf_methodology,
                ("lca.emissions",),
            )  # fmt: skip
        )
        out.append(
            Result(
                "carbonFootprint.performanceClass",
                performance_class(cf["declaredValue"]["value"], class_table),
                "carbon_footprint_performance_class",
                class_methodology,
                ("carbonFootprint.declaredValue",),
            )  # fmt: skip
        )
    mass = {q: v for (n, q), v in inputs.items() if n == "material.mass"}
    if mass:
        pre = {q: v for (n, q), v in inputs.items() if n == "material.pre_consumer_recycled"}
        post = {q: v for (n, q), v in inputs.items() if n == "material.post_consumer_recycled"}
        for element in recycled_content(mass, pre, post):
            material = element["material"]
            for share in ("preConsumerShare", "postConsumerShare"):
                out.append(
                    Result(
                        f"circularity.recycledContent[material={material}].{share}",
                        element[share],
                        "recycled_content_share",
                        rc_methodology,
                        (
                            "material.mass",
                            "material.pre_consumer_recycled"
                            if share == "preConsumerShare"
                            else "material.post_consumer_recycled",
                        ),
                    )  # fmt: skip
                )
    out.extend(annex_iv(inputs))
    return out
