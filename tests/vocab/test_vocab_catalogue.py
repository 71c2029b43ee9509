"""The attribute catalogue: the counts DATAMODEL.md gives, Art 77(2) readers, unordered tiers,
agreement with the DATAMODEL table, and coverage of every model field."""

from __future__ import annotations

import json
import re
import typing
from collections import Counter
from importlib import resources
from pathlib import Path

import pytest
from pydantic import BaseModel

from vocab.catalogue import (
    COMMISSION,
    EVERYONE,
    LEGITIMATE_INTEREST,
    MARKET_SURVEILLANCE,
    NOTIFIED_BODY,
    Applicability,
    Level,
    Staticity,
    Tier,
    load_catalogue,
    parse_catalogue,
    who_may_see,
)
from vocab.errors import CatalogueError
from vocab.models.identity import BatteryCategory
from vocab.models.passport import Passport

# A copy of the design notes carried in the repository (provenance: data/UPSTREAM.json).
DATAMODEL = Path(__file__).parent / "data" / "DATAMODEL.md"


def _raw() -> dict:
    return json.loads(resources.files("vocab").joinpath("catalogue.json").read_text("utf-8"))


def test_catalogue_has_93_numbered_attributes():
    numbers = [a.number for a in load_catalogue().attributes]
    assert numbers == list(range(1, 94))


def test_counts_match_datamodel():
    attributes = load_catalogue().attributes
    tiers = Counter(a.tier for a in attributes)
    assert tiers == {
        Tier.PUBLIC: 60,
        Tier.LEGITIMATE_INTEREST: 27,
        Tier.LEGITIMATE_INTEREST_AND_COMMISSION: 5,
        Tier.AUTHORITIES: 1,
    }
    staticity = Counter(a.staticity for a in attributes)
    # The longlist counts S* (updated on status change) as static: 73 static, 20 dynamic.
    assert staticity[Staticity.STATIC] + staticity[Staticity.STATIC_UPDATED_ON_STATUS_CHANGE] == 73
    assert staticity[Staticity.STATIC_UPDATED_ON_STATUS_CHANGE] == 4
    assert staticity[Staticity.DYNAMIC] == 20
    assert Counter(a.level for a in attributes) == {Level.MODEL: 67, Level.ITEM: 26}


def test_tier_members_match_datamodel_notes():
    catalogue = load_catalogue()
    numbers = {tier: {a.number for a in catalogue.by_tier(tier)} for tier in Tier}
    assert numbers[Tier.LEGITIMATE_INTEREST_AND_COMMISSION] == {33, 36, 37, 38, 39}
    assert numbers[Tier.AUTHORITIES] == {18}
    public_items = {a.number for a in catalogue.by_tier(Tier.PUBLIC) if a.level is Level.ITEM}
    assert public_items == {1, 2, 3, 6, 15}
    li_models = {
        a.number for a in catalogue.by_tier(Tier.LEGITIMATE_INTEREST) if a.level is Level.MODEL
    }
    assert li_models == {54, 64, 70, 71, 75, 76}
    # DATAMODEL calls these eleven "voluntary in every category"; by its own table 55, 56, 71 and
    # 72 are voluntary in some categories and not applicable in the others: never mandatory.
    never_mandatory = {
        a.number
        for a in catalogue.attributes
        if Applicability.MANDATORY not in a.applicability.values()
    }
    assert never_mandatory == {3, 14, 27, 29, 30, 55, 56, 66, 71, 72, 92}


def test_catalogue_agrees_with_every_datamodel_row():
    tiers = {
        "PUB": "public",
        "LI": "legitimate-interest",
        "LI+C": "legitimate-interest+commission",
        "AUTH": "authorities",
    }
    staticity = {"S": "static", "D": "dynamic", "S*": "static-updated-on-status-change"}
    applicability = {"x": "mandatory", "o": "voluntary", "-": "not-applicable"}
    rows = [
        line
        for line in DATAMODEL.read_text("utf-8").splitlines()
        if re.match(r"\|\s*\d+\s*\|", line)
    ]
    assert len(rows) == 93
    catalogue = load_catalogue()
    for line in rows:
        cells = [c.strip() for c in line.split("|")[1:-1]]
        attribute = catalogue.attribute(int(cells[0]))
        assert attribute.name == cells[1]
        assert attribute.tier.value == tiers[cells[4]], attribute.number
        assert attribute.staticity.value == staticity[cells[5]], attribute.number
        assert attribute.level.value == {"M": "model", "I": "item"}[cells[6]], attribute.number
        expected = [applicability[c] for c in cells[7]]
        got = [attribute.applicability[c].value for c in BatteryCategory]
        assert got == expected, attribute.number


def test_who_may_see_follows_article_77_2():
    assert who_may_see(Tier.PUBLIC) == {EVERYONE}
    assert who_may_see(Tier.LEGITIMATE_INTEREST) == {LEGITIMATE_INTEREST}
    assert who_may_see(Tier.LEGITIMATE_INTEREST_AND_COMMISSION) == {
        LEGITIMATE_INTEREST,
        NOTIFIED_BODY,
        MARKET_SURVEILLANCE,
        COMMISSION,
    }
    assert who_may_see(Tier.AUTHORITIES) == {NOTIFIED_BODY, MARKET_SURVEILLANCE, COMMISSION}
    # Neither restricted tier contains the other: that is why tiers cannot be ordered.
    assert not who_may_see(Tier.LEGITIMATE_INTEREST) <= who_may_see(Tier.AUTHORITIES)
    assert not who_may_see(Tier.AUTHORITIES) <= who_may_see(Tier.LEGITIMATE_INTEREST)
    assert who_may_see("authorities") == who_may_see(Tier.AUTHORITIES)


@pytest.mark.parametrize(
    "compare",
    [
        lambda a, b: a < b,
        lambda a, b: a <= b,
        lambda a, b: a > b,
        lambda a, b: a >= b,
    ],
)
def test_tiers_cannot_be_ordered(compare):
    with pytest.raises(TypeError, match="not ordered"):
        compare(Tier.PUBLIC, Tier.AUTHORITIES)
    with pytest.raises(TypeError):
        compare("public", Tier.AUTHORITIES)
    with pytest.raises(TypeError):
        sorted([Tier.AUTHORITIES, Tier.PUBLIC])


def test_tier_is_a_string_enum():
    assert Tier("legitimate-interest+commission") is Tier.LEGITIMATE_INTEREST_AND_COMMISSION
    assert Tier.PUBLIC == "public"
    assert json.dumps(Tier.AUTHORITIES) == '"authorities"'


def test_first_issuance_rules():
    catalogue = load_catalogue()
    required = {a.number for a in catalogue.required_at_first_issuance(BatteryCategory.EV)}
    assert {1, 2, 4, 6, 9, 11, 19, 20, 21, 22, 23, 52, 54, 83} <= required
    # dynamic item data arrives by events; 7 may come after placing on the market; 13, 43 and 47
    # apply only when the battery holds cadmium or lead
    assert not required & {7, 13, 43, 47, 53, 57, 58, 78, 84, 93}
    # voluntary and not-applicable attributes are never required
    assert not required & {3, 14, 27, 55, 56, 69, 71}
    stationary = {
        a.number for a in catalogue.required_at_first_issuance(BatteryCategory.STATIONARY)
    }
    assert 83 not in stationary and 83 in required


def _model_leaf_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    paths = []
    for name, field in model.model_fields.items():
        path = f"{prefix}.{field.alias or name}".lstrip(".")
        nested = [
            t for t in _types(field.annotation) if isinstance(t, type) and issubclass(t, BaseModel)
        ]
        is_list = any(typing.get_origin(t) is list for t in _types(field.annotation))
        if nested:
            paths += _model_leaf_paths(nested[0], path + ("[]" if is_list else ""))
        else:
            paths.append(path + ("[]" if is_list else ""))
    return paths


def _types(annotation):
    out = [annotation]
    for arg in typing.get_args(annotation):
        out += _types(arg)
    return out


def test_every_model_field_is_covered_by_the_catalogue():
    catalogue = load_catalogue()
    patterns = [p.selector_free.text for p, _, _ in catalogue.tiered_paths()]
    patterns += [h.text for h in catalogue.header]
    leaf_paths = _model_leaf_paths(Passport)
    assert "carbonFootprint.lifecycleStages[].value" in leaf_paths
    uncovered = []
    for leaf in leaf_paths:
        covered = any(
            leaf == p or leaf.startswith(p + ".") or leaf.startswith(p + "[") for p in patterns
        )
        # Inside a list element, a field the catalogue does not name (a selector key such as
        # `stage`) moves with its element, which some pattern must cover.
        element = leaf[: leaf.index("[]") + 2] if "[]" in leaf else None
        if not covered and element:
            covered = any(p.startswith(element) for p in patterns)
        if not covered:
            uncovered.append(leaf)
    assert uncovered == []


def test_every_catalogue_path_exists_in_the_model():
    leaf_paths = _model_leaf_paths(Passport)
    for path, _, label in load_catalogue().tiered_paths():
        wide = path.selector_free.text
        assert any(
            leaf == wide or leaf.startswith(wide + ".") or leaf.startswith(wide + "[")
            for leaf in leaf_paths
        ), f"{label}: {path} names no model field"


def test_catalogue_rejects_a_path_nested_in_another_tier():
    data = _raw()
    row = next(r for r in data["attributes"] if r["number"] == 16)
    row["tier"] = "legitimate-interest"  # labels.symbols[].meaning inside public symbols
    with pytest.raises(CatalogueError, match="lies inside"):
        parse_catalogue(data)


def test_catalogue_rejects_gaps_and_repeated_paths():
    data = _raw()
    del data["attributes"][40]
    with pytest.raises(CatalogueError, match="numbered"):
        parse_catalogue(data)
    data = _raw()
    data["attributes"][10]["paths"].append("general.batteryMass")
    with pytest.raises(CatalogueError, match="twice"):
        parse_catalogue(data)
    data = _raw()
    data["attributes"][0]["tier"] = "secret"
    with pytest.raises(CatalogueError, match="row 1"):
        parse_catalogue(data)


def test_parsed_catalogue_is_immutable():
    attribute = load_catalogue().attribute(19)
    with pytest.raises(AttributeError):
        attribute.tier = Tier.AUTHORITIES  # type: ignore[misc]
    with pytest.raises(TypeError):
        attribute.applicability[BatteryCategory.EV] = Applicability.VOLUNTARY  # type: ignore[index]
    assert load_catalogue() is load_catalogue()
