"""Mapping source records to facts: GS1 keys, units, rules per catalogue type, fragments, and the
configuration's own checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline import assemble, units
from pipeline.config import parse
from pipeline.errors import ConfigInvalid, UnknownUnit
from pipeline.records import Facts, RecordRejected, add_record, flatten_fragment, map_record
from vocab.examples import load_example


def config(fields: dict, **source) -> object:
    data = {
        "name": "t",
        "sources": [{"name": "s", "level": "item", "registers_items": True, "location": "x.csv",
                     "keys": {"gtin": "gtin", "serial": "serial"}, "timestamp": "at",
                     "fields": fields, **source}],
    }  # fmt: skip
    return parse(data, Path("."))


RECORD = {"gtin": "09520123456788", "serial": "SN1", "at": "2026-02-10T06:00:00Z"}


def rejected(cfg, record) -> list[tuple[str, str]]:
    with pytest.raises(RecordRejected) as info:
        map_record(cfg.sources[0], record)
    return [(p.field, p.rule) for p in info.value.problems]


def test_units_convert_to_the_catalogues_and_refuse_other_quantities():
    cfg = config({"mass": {"path": "general.batteryMass", "unit": "g"}})
    _, _, values, _ = map_record(cfg.sources[0], {**RECORD, "mass": "482000"})
    assert values == [("general.batteryMass", {"value": 482.0, "unit": "kg"}, "mass")]
    assert units.convert(20, "degC", "K") == pytest.approx(293.15)
    with pytest.raises(UnknownUnit):
        units.convert(1, "kg", "Ah")
    with pytest.raises(ConfigInvalid, match="does not convert"):
        config({"mass": {"path": "general.batteryMass", "unit": "Ah"}})
    with pytest.raises(ConfigInvalid, match="not a passport attribute path"):
        config({"x": {"path": "general.colour"}})
    with pytest.raises(ConfigInvalid, match="unknown calculation input"):
        config({"x": {"input": "lca.nothing"}})


def test_a_bad_record_names_every_field_and_rule():
    cfg = config({
        "soc": {"path": "performance.condition.stateOfCharge"},
        "month": {"path": "general.manufacturingDate"},
        "category": {"path": "general.batteryCategory"},
        "mass": {"path": "general.batteryMass", "unit": "kg"},
    })  # fmt: skip
    record = {"gtin": "09520123456789", "serial": "S N", "at": "yesterday", "soc": 101,
              "month": "2026-13", "category": "car", "mass": -1}  # fmt: skip
    assert sorted(rejected(cfg, record)) == sorted([
        ("gtin", "gs1-key"), ("serial", "gs1-key"), ("at", "date-time"), ("soc", "maximum"),
        ("month", "year-month"), ("category", "allowed-values"), ("mass", "non-negative"),
    ])  # fmt: skip


def test_readings_carry_the_records_timestamp_and_overrides_skip_the_check():
    cfg = config({"soc": {"path": "performance.condition.stateOfCharge"},
                  "cycles": {"path": "performance.condition.numberOfFullCycles"}})  # fmt: skip
    _, ts, values, _ = map_record(cfg.sources[0], {**RECORD, "soc": "64.5", "cycles": 38})
    assert dict((p, v) for p, v, _ in values) == {
        "performance.condition.stateOfCharge": {"value": 64.5, "lastUpdate": ts},
        "performance.condition.numberOfFullCycles": {"value": 38, "lastUpdate": ts},
    }
    assert rejected(cfg, {**RECORD, "cycles": 3.5}) == [("cycles", "integer")]
    _, _, values, _ = map_record(cfg.sources[0], {**RECORD, "soc": 140}, overrides={"soc"})
    assert values[0][1] == 140


def test_inputs_check_their_qualifiers():
    cfg = config({"kg": {"input": "lca.emissions", "unit": "kgCO2e", "qualifier": "stage"}})
    assert rejected(cfg, {**RECORD, "kg": 5, "stage": "use"}) == [("stage", "allowed-values")]
    _, _, _, numbers = map_record(cfg.sources[0], {**RECORD, "kg": "1,5", "stage": "distribution"})
    assert numbers == [("lca.emissions", "distribution", 1.5, "kg")]


def test_a_fragment_becomes_one_fact_per_catalogue_attribute_and_builds_back():
    passport = load_example("ev")
    for key in ("passportId", "passportVersion", "batteryIdentifier"):
        passport.pop(key)
    facts = flatten_fragment(passport)
    paths = [p for p, _ in facts]
    assert "carbonFootprint.lifecycleStages[stage=distribution]" in paths
    assert "circularity.recycledContent[material=cobalt].preConsumerShare" in paths
    assert "labels.symbols[subject=ce-marking]" in paths  # no attribute path: its own fact
    assert len(paths) == len(set(paths))
    rebuilt = assemble.build(facts)
    # nothing lost, nothing added (list order aside)
    from pipeline.records import canonical_json

    def norm(v):
        if isinstance(v, dict):
            return {k: norm(x) for k, x in v.items()}
        if isinstance(v, list):
            return sorted((norm(x) for x in v), key=canonical_json)
        return v

    assert norm(rebuilt) == norm(passport)


def test_item_sources_register_batteries_with_their_batch():
    cfg = config({}, keys={"gtin": "gtin", "serial": "serial", "batch": "lot"})
    facts = Facts()
    add_record(
        facts, cfg.sources[0], "objects/x", 2, {**RECORD, "lot": "L1", "gtin": "9520123456788"}
    )
    [(_, source, _, ts, gtin, serial, batch)] = facts.registrations
    assert (source, gtin, serial, batch) == ("s", "09520123456788", "SN1", "L1")
    assert facts.origins[0].object_key == "objects/x" and facts.origins[0].row == 2


def test_set_path_places_selected_elements():
    document: dict = {}
    assemble.set_path(document, "circularity.recycledContent[material=lead].postConsumerShare", 5)
    assemble.set_path(document, "circularity.recycledContent[material=lead].preConsumerShare", 1)
    assemble.set_path(
        document, "labels.symbols[subject=lead]", [{"subject": "lead", "symbol": "x"}]
    )
    assert document == {
        "circularity": {"recycledContent": [{"material": "lead", "postConsumerShare": 5,
                                             "preConsumerShare": 1}]},
        "labels": {"symbols": [{"subject": "lead", "symbol": "x"}]},
    }  # fmt: skip
