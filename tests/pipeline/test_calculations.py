"""The regulatory calculations against values computed by hand (the arithmetic is in each
comment)."""

from __future__ import annotations

import pytest

from pipeline import calculations as calc
from vocab.models.passport import Passport


def test_total_energy_under_linear_fade_and_without_fade():
    # 72.5 kWh x 1500 cycles x (1 + 0.8) / 2 = 97,875 kWh
    assert calc.total_energy_kwh(72.5, 1500, 80.0, calc.CF_LINEAR_FADE) == pytest.approx(97_875)
    # no threshold given: 80 % is the default
    assert calc.total_energy_kwh(72.5, 1500, None, calc.CF_LINEAR_FADE) == pytest.approx(97_875)
    # 72.5 x 1500 = 108,750 kWh
    assert calc.total_energy_kwh(72.5, 1500, 80.0, calc.CF_CONSTANT) == pytest.approx(108_750)
    with pytest.raises(calc.CalculationError):
        calc.total_energy_kwh(72.5, 1500, 80, "made-up/1")
    with pytest.raises(calc.CalculationError):
        calc.total_energy_kwh(0, 1500, 80)


def test_usable_energy_falls_back_to_capacity_times_voltage():
    assert calc.usable_energy_kwh(72.5, 192, 394.2) == 72.5
    # 280 Ah x 768 V = 215,040 Wh = 215.04 kWh
    assert calc.usable_energy_kwh(None, 280, 768) == pytest.approx(215.04)
    with pytest.raises(calc.CalculationError):
        calc.usable_energy_kwh(None, None, 768)


def test_carbon_footprint_per_stage_and_total():
    stages = {
        "rawMaterialAcquisitionAndPreProcessing": 4011.5,  # / 97,875 = 0.040986 -> 0.041
        "mainProductProduction": 1184.0,  # 0.012097 -> 0.0121
        "distribution": 78.3,  # 0.0008
        "endOfLifeAndRecycling": 303.4,  # 0.0031
    }
    cf = calc.carbon_footprint(stages, 97_875)
    assert [s["value"] for s in cf["lifecycleStages"]] == [0.041, 0.0121, 0.0008, 0.0031]
    # 5,577.2 kg / 97,875 kWh = 0.056983 -> 0.057; absolute 5.577 t
    assert cf["declaredValue"] == {"value": 0.057, "unit": "kgCO2e/kWh"}
    assert cf["absoluteFootprint"] == {"value": 5.577, "unit": "tCO2e"}
    with pytest.raises(calc.CalculationError, match="distribution"):
        calc.carbon_footprint({k: v for k, v in stages.items() if k != "distribution"}, 97_875)


def test_performance_class_from_a_table():
    table = (("A", 0.05), ("B", 0.065), ("C", 0.08))
    assert calc.performance_class(0.05, table) == "A"  # bounds are inclusive
    assert calc.performance_class(0.0501, table) == "B"
    assert calc.performance_class(0.057, table) == "B"
    assert calc.performance_class(0.3, table) == "C"  # beyond the last bound: the last class
    with pytest.raises(calc.CalculationError):
        calc.performance_class(0.1, ())


def test_recycled_content_from_a_material_balance():
    mass = {"nickel": 52.0, "cobalt": 6.5, "lithium": 7.8, "copper": 38.0}
    pre = {"nickel": 1.04, "cobalt": 0.26, "lithium": 0.078}
    post = {"nickel": 1.56, "cobalt": 0.52, "lithium": 0.195}
    shares = {e["material"]: e for e in calc.recycled_content(mass, pre, post)}
    # nickel 1.04 / 52 = 2 %, 1.56 / 52 = 3 %; cobalt 4 % and 8 %; lithium 1 % and 2.5 %
    assert shares["nickel"] == {"material": "nickel", "preConsumerShare": 2.0,
                                "postConsumerShare": 3.0}  # fmt: skip
    assert (shares["cobalt"]["preConsumerShare"], shares["cobalt"]["postConsumerShare"]) == (4, 8)
    assert (shares["lithium"]["preConsumerShare"], shares["lithium"]["postConsumerShare"]) == (
        1.0, 2.5)  # fmt: skip
    assert "lead" not in shares and "copper" not in shares  # only Art 8's four materials
    # a material listed with no mass (nickel in LFP) declares 0 %
    assert calc.recycled_content({"nickel": 0.0}, {}, {}) == [
        {"material": "nickel", "preConsumerShare": 0.0, "postConsumerShare": 0.0}
    ]
    with pytest.raises(calc.CalculationError, match="exceeds"):
        calc.recycled_content({"cobalt": 1.0}, {"cobalt": 0.6}, {"cobalt": 0.6})


def test_annex_iv_parameters_from_test_data():
    inputs = {
        ("test.capacity_initial", ""): 192.0, ("test.capacity_end", ""): 153.6,
        ("test.power_initial", ""): 240_000.0, ("test.power_end", ""): 180_000.0,
        ("test.energy_in", ""): 75.5, ("test.energy_out", ""): 72.48,
        ("test.energy_in_50", ""): 75.5, ("test.energy_out_50", ""): 67.2,
        ("test.resistance_initial", "cell"): 0.00065, ("test.resistance_end", "cell"): 0.000975,
        ("test.power_at_soc", "80"): 240_000.0, ("test.power_at_soc", "20"): 175_000.0,
    }  # fmt: skip
    got = {r.path: r.value for r in calc.annex_iv(inputs)}
    assert got["performance.durability.capacityFade"] == 20.0  # 1 - 153.6/192 = 20 %
    assert got["performance.durability.powerFade"] == 25.0  # 1 - 180/240
    assert got["performance.rated.initialRoundTripEfficiency"] == 96.0  # 72.48 / 75.5
    # 67.2 / 75.5 = 89.006 %; fade (96 - 89.006) / 96 = 7.2854 % -> 7.29 relative
    assert got["performance.rated.roundTripEfficiencyAt50PercentCycleLife"] == 89.01
    assert got["performance.durability.roundTripEfficiencyFade"] == 7.28
    # 0.975 / 0.65 - 1 = 50 %
    assert got["performance.durability.internalResistanceIncrease"] == [
        {"component": "cell", "increase": 50.0}
    ]
    # 240,000 W / 72,480 Wh = 3.311 W/Wh
    assert got["performance.rated.powerToEnergyRatio"] == {"value": 3.311, "unit": "W/Wh"}
    assert got["performance.rated.originalPowerCapability"][1] == {
        "atStateOfCharge": 20.0, "power": {"value": 175000.0, "unit": "W"}}  # fmt: skip
    assert all(r.methodology == calc.ANNEX_IV for r in calc.annex_iv(inputs))
    assert calc.annex_iv({}) == []


def test_every_result_is_marked_with_its_methodology_and_fits_the_vocabulary():
    values = {
        "performance.rated.certifiedUsableEnergy": {"value": 72.5, "unit": "kWh"},
        "performance.rated.expectedNumberOfCycles": 1500,
        "performance.rated.capacityThresholdForExhaustion": 80.0,
    }
    inputs = {("lca.emissions", s): v for s, v in zip(calc.STAGES, (4011.5, 1184.0, 78.3, 303.4),
                                                       strict=True)}  # fmt: skip
    inputs[("material.mass", "cobalt")] = 6.5
    inputs[("material.pre_consumer_recycled", "cobalt")] = 0.26
    results = calc.calculate_entity(values, inputs, cf_methodology=calc.CF_CONSTANT)
    by_path = {r.path: r for r in results}
    assert by_path["carbonFootprint.declaredValue"].methodology == calc.CF_CONSTANT
    # 5,577.2 / 108,750 = 0.051285 -> 0.0513, class B of the illustrative table
    assert by_path["carbonFootprint.declaredValue"].value["value"] == 0.0513
    assert by_path["carbonFootprint.performanceClass"].value == "B"
    assert by_path["carbonFootprint.performanceClass"].methodology == calc.CF_CLASS_ILLUSTRATIVE
    assert by_path["circularity.recycledContent[material=cobalt].preConsumerShare"].value == 4.0
    # the carbon footprint part is a valid carbonFootprint of the vocabulary
    from pipeline.assemble import build

    document = build([(r.path, [r.value] if r.path.endswith("]") else r.value) for r in results])
    Passport.model_validate({**_minimal_passport(), "carbonFootprint": document["carbonFootprint"]})


def _minimal_passport() -> dict:
    return {
        "passportId": "urn:uuid:550e8400-e29b-41d4-a716-446655440000",
        "passportVersion": 1,
        "batteryIdentifier": "https://dpp.example.com/01/09520123456788/21/SN1",
        "general": {"batteryCategory": "ev"},
    }
