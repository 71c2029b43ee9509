"""The catalogue's path notation."""

from __future__ import annotations

import pytest

from vocab.errors import CatalogueError
from vocab.paths import Each, Key, Where, leaves, parse_path, render_location, resolve

DOC = {
    "carbonFootprint": {
        "lifecycleStages": [
            {"stage": "mainProductProduction", "value": 1.0},
            {"stage": "distribution", "value": 0.5},
        ]
    },
    "materials": {
        "batteryMaterials": [
            {"name": "Cobalt", "component": "battery", "criticalRawMaterial": True},
            {"name": "PVDF", "component": "cathode", "criticalRawMaterial": False},
        ]
    },
    "empty": [],
}


def test_parse_steps():
    path = parse_path("materials.batteryMaterials[component!=battery].name")
    assert path.steps == (
        Key("materials"),
        Key("batteryMaterials"),
        Where("component", "battery", negate=True),
        Key("name"),
    )
    assert parse_path("labels.testReports[]").steps[-1] == Each()
    assert parse_path("x[flag=true]").steps[-1] == Where("flag", True)
    assert parse_path("materials.batteryMaterials[component=battery]").selector_free.text == (
        "materials.batteryMaterials[]"
    )


@pytest.mark.parametrize(
    "bad", ["", "a..b", "a[b", "a[=x]", "a.b]", "1abc", "a.b\n", "a\n.b", "a[k=v]\n"]
)
def test_bad_paths_are_refused(bad):
    with pytest.raises(CatalogueError):
        parse_path(bad)


def test_resolve_with_selectors():
    found = resolve(DOC, parse_path("carbonFootprint.lifecycleStages[stage=distribution].value"))
    assert found == [(("carbonFootprint", "lifecycleStages", 1, "value"), 0.5)]
    names = [
        v
        for _, v in resolve(DOC, parse_path("materials.batteryMaterials[component!=battery].name"))
    ]
    assert names == ["PVDF"]
    crm = resolve(DOC, parse_path("materials.batteryMaterials[criticalRawMaterial=true]"))
    assert [v["name"] for _, v in crm] == ["Cobalt"]
    # a selector compares booleans as booleans, not as the string "true"
    assert resolve({"a": [{"k": "true"}]}, parse_path("a[k=true]")) == []
    assert resolve(DOC, parse_path("materials.missing")) == []
    assert len(resolve(DOC, parse_path("carbonFootprint.lifecycleStages[]"))) == 2


def test_covers_is_prefix_with_selectors():
    path = parse_path("materials.batteryMaterials[component=battery]")
    assert path.covers(DOC, ("materials", "batteryMaterials", 0, "name"))
    assert not path.covers(DOC, ("materials", "batteryMaterials", 1, "name"))
    assert not path.covers(DOC, ("materials", "batteryMaterials"))
    assert path.reaches_below(DOC, ("materials", "batteryMaterials"))
    assert parse_path("materials").covers(DOC, ("materials", "batteryMaterials", 1, "name"))


def test_locations_render_with_indices():
    assert render_location(("carbonFootprint", "lifecycleStages", 1, "value")) == (
        "carbonFootprint.lifecycleStages[1].value"
    )
    assert render_location(()) == ""


def test_leaves_include_empty_containers():
    found = dict(leaves(DOC))
    assert found[("empty",)] == []
    assert found[("materials", "batteryMaterials", 0, "criticalRawMaterial")] is True
    assert len(found) == 11
