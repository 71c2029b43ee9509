"""split_by_tier: each catalogue attribute lands in exactly its tier's document; merging the tier
documents gives the passport back."""

from __future__ import annotations

import json
from importlib import resources

import pytest
from vocab_testkit import canonical, every_attribute_passport

from vocab.catalogue import Tier, load_catalogue, parse_catalogue
from vocab.errors import CatalogueError, PassportInvalid, UnclassifiedField
from vocab.examples import example_names, load_example
from vocab.models.passport import Passport
from vocab.paths import resolve
from vocab.tiers import (
    ACCESS_TIER_FIELD,
    TierMismatch,
    classify,
    credential_type,
    merge_tiers,
    split_by_tier,
    tier_of_credential_type,
)
from vocab.validation import validate_passport

HEADER = ("passportId", "passportVersion", "batteryIdentifier")


def _raw_catalogue() -> dict:
    return json.loads(resources.files("vocab").joinpath("catalogue.json").read_text("utf-8"))


def test_the_full_passport_holds_all_93_attributes():
    data = every_attribute_passport()
    validate_passport(data)
    missing = [
        a.number
        for a in load_catalogue().attributes
        if not any(resolve(data, path) for path in a.paths)
    ]
    assert missing == []


def test_every_attribute_lands_in_exactly_its_tier():
    data = every_attribute_passport()
    documents = split_by_tier(data)
    assert set(documents) == set(Tier)
    header_paths = {h.text for h in load_catalogue().header}
    checked = 0
    for attribute in load_catalogue().attributes:
        for path in attribute.paths:
            expected = [value for _, value in resolve(data, path)]
            assert expected, f"attribute {attribute.number}: {path} is empty in the test passport"
            for tier, document in documents.items():
                found = [value for _, value in resolve(document, path)]
                if tier is attribute.tier or path.text in header_paths:
                    assert found == expected, f"attribute {attribute.number} missing from {tier}"
                else:
                    assert found == [], f"attribute {attribute.number} ({path}) leaked into {tier}"
                checked += 1
    assert checked >= 93 * 4


@pytest.mark.parametrize("name", example_names())
def test_merging_the_tiers_gives_the_passport_back(name):
    data = load_example(name)
    documents = split_by_tier(data)
    assert merge_tiers(documents.values()) == data  # examples list public elements first
    assert canonical(merge_tiers(reversed(list(documents.values())))) == canonical(data)


def test_merge_of_the_full_passport_loses_nothing():
    data = every_attribute_passport()
    assert canonical(merge_tiers(split_by_tier(data).values())) == canonical(data)


def test_every_tier_document_stands_alone():
    data = load_example("ev")
    for tier, document in split_by_tier(data).items():
        assert {k: document[k] for k in HEADER} == {k: data[k] for k in HEADER}
        assert document[ACCESS_TIER_FIELD] == tier.value
        assert len(document) > len(HEADER) + 1  # and holds data


def test_mixed_list_splits_by_element():
    documents = split_by_tier(load_example("ev"))
    public = documents[Tier.PUBLIC]["materials"]["batteryMaterials"]
    restricted = documents[Tier.LEGITIMATE_INTEREST_AND_COMMISSION]["materials"]["batteryMaterials"]
    assert public and {m["component"] for m in public} == {"battery"}
    assert all(m["criticalRawMaterial"] for m in public)
    assert restricted and "battery" not in {m["component"] for m in restricted}
    assert {m["component"] for m in restricted} >= {"cathode", "anode", "electrolyte"}
    # the rest of `materials` is public: chemistry and hazardous substances
    assert set(documents[Tier.LEGITIMATE_INTEREST_AND_COMMISSION]["materials"]) == {
        "batteryMaterials"
    }
    assert {"batteryChemistry", "hazardousSubstances"} <= set(documents[Tier.PUBLIC]["materials"])


def test_mixed_object_splits_by_field():
    documents = split_by_tier(load_example("ev"))
    public = documents[Tier.PUBLIC]["circularity"]["safetyMeasures"]
    restricted = documents[Tier.LEGITIMATE_INTEREST_AND_COMMISSION]["circularity"]["safetyMeasures"]
    assert set(public) == {"extinguishingAgents"}
    assert set(restricted) == {"safetyInstructions"}


def test_test_reports_are_for_authorities_only():
    documents = split_by_tier(load_example("ev"))
    assert set(documents[Tier.AUTHORITIES]) == {*HEADER, ACCESS_TIER_FIELD, "labels"}
    assert set(documents[Tier.AUTHORITIES]["labels"]) == {"testReports"}
    assert "testReports" not in documents[Tier.PUBLIC]["labels"]


def test_item_condition_is_legitimate_interest_only():
    documents = split_by_tier(load_example("ev"))
    assert "condition" in documents[Tier.LEGITIMATE_INTEREST]["performance"]
    for tier in (Tier.PUBLIC, Tier.LEGITIMATE_INTEREST_AND_COMMISSION, Tier.AUTHORITIES):
        assert "condition" not in documents[tier].get("performance", {})
    assert "lifecycle" not in documents[Tier.PUBLIC]  # the battery status is row 11, LI


def test_tiers_without_fields_are_omitted():
    data = load_example("ev")
    del data["labels"]["testReports"]
    # Every category must have test reports (row 18), so only a model instance, which skips the
    # catalogue's mandatory check, can lack the authorities tier.
    documents = split_by_tier(Passport.model_validate(data))
    assert Tier.AUTHORITIES not in documents
    assert list(documents) == [
        Tier.PUBLIC,
        Tier.LEGITIMATE_INTEREST,
        Tier.LEGITIMATE_INTEREST_AND_COMMISSION,
    ]


def test_empty_mixed_list_goes_to_every_tier_it_could_belong_to():
    data = load_example("ev")
    data["materials"]["batteryMaterials"] = []
    data["performance"]["condition"]["negativeEvents"] = []
    units = classify(data)
    assert units[("materials", "batteryMaterials")] == {
        Tier.PUBLIC,
        Tier.LEGITIMATE_INTEREST_AND_COMMISSION,
    }
    assert units[("performance", "condition", "negativeEvents")] == {Tier.LEGITIMATE_INTEREST}


def test_split_validates_raw_data():
    data = load_example("ev")
    data["general"]["batteryMass"]["unit"] = "lb"
    with pytest.raises(PassportInvalid):
        split_by_tier(data)


def test_split_is_driven_by_the_catalogue():
    data = load_example("ev")
    raw = _raw_catalogue()
    next(r for r in raw["attributes"] if r["number"] == 10)["tier"] = "authorities"
    units = classify(data, parse_catalogue(raw))
    assert units[("general", "batteryMass", "value")] == {Tier.AUTHORITIES}
    assert classify(data)[("general", "batteryMass", "value")] == {Tier.PUBLIC}


def test_data_without_a_catalogue_path_is_refused():
    raw = _raw_catalogue()
    next(r for r in raw["attributes"] if r["number"] == 10)["paths"] = ["general.batteryMassX"]
    with pytest.raises(UnclassifiedField) as caught:
        classify(load_example("ev"), parse_catalogue(raw))
    assert caught.value.path == "general.batteryMass.value"


def test_a_list_element_never_spans_tiers():
    raw = _raw_catalogue()
    next(r for r in raw["attributes"] if r["number"] == 44)["tier"] = "legitimate-interest"
    with pytest.raises(CatalogueError, match="circularity.recycledContent\\[0\\]"):
        classify(load_example("ev"), parse_catalogue(raw))


# Tier precedence: two catalogue paths cover the same value with different tiers (a list's every
# element, `[]`, and some of its elements, `[key=value]`); the most specific one decides, whichever
# comes first in the catalogue and whichever tier is the wider.
MATERIALS = ("materials", "batteryMaterials")


def _materials_catalogue(battery_path: str, rest_path: str) -> dict:
    raw = _raw_catalogue()
    next(r for r in raw["attributes"] if r["number"] == 32)["paths"] = [battery_path]
    next(r for r in raw["attributes"] if r["number"] == 33)["paths"] = [rest_path]
    return raw


def _tiers_by_component(catalogue) -> dict[str, frozenset[Tier]]:
    data = load_example("ev")
    units = classify(data, catalogue)
    elements = data["materials"]["batteryMaterials"]
    return {elements[i]["component"]: units[(*MATERIALS, i)] for i in range(len(elements))}


def test_the_most_specific_covering_path_wins_over_a_restricted_list():
    # every element restricted (attribute 33, `[]`), the battery's public (32, `[component=...]`)
    raw = _materials_catalogue(
        "materials.batteryMaterials[component=battery]", "materials.batteryMaterials[]"
    )
    tiers = _tiers_by_component(parse_catalogue(raw))
    assert tiers.pop("battery") == {Tier.PUBLIC}
    assert tiers and set(tiers.values()) == {frozenset({Tier.LEGITIMATE_INTEREST_AND_COMMISSION})}


def test_the_most_specific_covering_path_wins_over_a_public_list():
    # the generic rule first in the catalogue and public; the specific one restricts the cathode
    raw = _materials_catalogue(
        "materials.batteryMaterials[]", "materials.batteryMaterials[component=cathode]"
    )
    tiers = _tiers_by_component(parse_catalogue(raw))
    assert tiers.pop("cathode") == {Tier.LEGITIMATE_INTEREST_AND_COMMISSION}
    assert tiers and set(tiers.values()) == {frozenset({Tier.PUBLIC})}


def test_merge_refuses_documents_of_different_passports():
    documents = list(split_by_tier(load_example("ev")).values())
    other = dict(documents[1], passportVersion=2)
    with pytest.raises(TierMismatch, match="passportVersion"):
        merge_tiers([documents[0], other])


def test_credential_types_per_tier():
    assert (
        credential_type(Tier.LEGITIMATE_INTEREST_AND_COMMISSION)
        == "CommissionBatteryPassportCredential"
    )
    for tier in Tier:
        assert tier_of_credential_type(credential_type(tier)) is tier
    assert tier_of_credential_type("BatteryPassportCredential") is None


def test_split_does_not_share_data_with_the_input():
    data = load_example("ev")
    documents = split_by_tier(data)
    documents[Tier.PUBLIC]["general"]["batteryMass"]["value"] = 1.0
    assert data["general"]["batteryMass"]["value"] == 482.0


@pytest.mark.parametrize("name", example_names())
def test_memoized_classification_equals_the_uncached_one(name):
    """classify memoizes per location shape for the default catalogue; a copy of the catalogue
    takes the uncached path. Element selector values that move data between tiers (component of
    battery materials, stage of life-cycle stages) must be part of the shape: flip them after the
    memo has seen the original and the answers must still agree."""
    import copy

    catalogue = copy.copy(load_catalogue())
    data = validate_passport(load_example(name)).to_json()
    assert classify(data) == classify(data, catalogue)
    flipped = copy.deepcopy(data)
    materials = flipped.get("materials", {}).get("batteryMaterials", [])
    for element in materials:
        element["component"] = "cell" if element.get("component") == "battery" else "battery"
    stages = flipped.get("carbonFootprint", {}).get("lifecycleStages", [])
    for element in stages:
        element["stage"] = "distribution"
    memoized, uncached = classify(flipped), classify(flipped, catalogue)
    assert memoized == uncached
    if materials:
        assert memoized != classify(data)  # the flip did move data between tiers
