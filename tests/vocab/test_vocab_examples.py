"""The example passports and their source."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from vocab.catalogue import Applicability, load_catalogue
from vocab.errors import ExampleNotFound
from vocab.examples import example_names, load_example
from vocab.models.identity import BatteryCategory
from vocab.paths import resolve
from vocab.validation import validate_passport

# Catena-X 6.1.0 example payload, carried in the repository (provenance: data/UPSTREAM.json).
CATENA_X = Path(__file__).parent / "data" / "catena-x" / "BatteryPass.json"


def test_names():
    assert example_names() == ["ev", "lmt", "stationary"]
    with pytest.raises(ExampleNotFound, match="ev, lmt, stationary"):
        load_example("sli")


def test_load_returns_a_fresh_copy():
    load_example("ev")["passportVersion"] = 99
    assert load_example("ev")["passportVersion"] == 1


@pytest.mark.parametrize("name", ["ev", "lmt", "stationary"])
def test_example_matches_its_category(name):
    passport = validate_passport(load_example(name))
    assert passport.general.battery_category is BatteryCategory(name)


@pytest.mark.parametrize("name", ["ev", "lmt", "stationary"])
def test_every_applicable_attribute_is_present(name):
    data = load_example(name)
    category = BatteryCategory(name)
    # conditional on cadmium or lead being in the battery: none of the examples has them
    conditional = {13, 43, 47}
    missing = [
        a.number
        for a in load_catalogue().attributes
        if a.applicability[category] is not Applicability.NOT_APPLICABLE
        and a.number not in conditional
        and not any(resolve(data, path) for path in a.paths)
    ]
    assert missing == []


def test_ev_example_has_a_plausible_service_date():
    passport = validate_passport(load_example("ev"))
    general = passport.general
    assert general.putting_into_service_date == date(2026, 6, 15)  # Catena-X: "7172-75-08"
    assert general.manufacturing_date is not None
    assert general.putting_into_service_date.strftime("%Y-%m") >= general.manufacturing_date


def test_ev_example_keeps_the_catena_x_identifiers():
    source = json.loads(CATENA_X.read_text("utf-8"))
    example = load_example("ev")
    assert example["passportId"] == source["metadata"]["passportIdentifier"]
    assert (
        source["identification"]["identification"]["serial"][0]["value"]
        in example["batteryIdentifier"]
    )
    assert (
        source["identification"]["identification"]["batch"][0]["value"]
        in example["batteryIdentifier"]
    )
    assert (
        example["labels"]["declarationOfConformityId"]
        == source["conformity"]["declarationOfConformityId"]
    )
    assert example["lifecycle"]["batteryStatus"] == source["sustainability"]["status"]
    rated = example["performance"]["rated"]
    assert (
        rated["expectedNumberOfCycles"]
        == source["performance"]["rated"]["lifetime"]["cycleLifeTesting"]["cycles"]
    )
    assert (
        rated["initialRoundTripEfficiency"]
        == source["performance"]["rated"]["roundTripEfficiency"]["initial"]
    )
    assert source["operation"]["intoServiceDate"] == "7172-75-08"
