"""validate_passport: every broken rule reports a path and a rule name; mandatory attributes
per battery category."""

from __future__ import annotations

import copy

import pytest

from vocab.errors import ContextNotBundled, PassportInvalid, VocabError
from vocab.examples import example_names, load_example
from vocab.models.events import BatteryEvent, BatteryTransfer
from vocab.models.roles import AccessGrant, Authority, LegitimateInterest
from vocab.validation import validate_passport


def _errors(data) -> list[dict]:
    with pytest.raises(PassportInvalid) as caught:
        validate_passport(data)
    return caught.value.errors


def _one(data) -> dict:
    errors = _errors(data)
    assert len(errors) == 1, errors
    return errors[0]


@pytest.fixture
def ev():
    return load_example("ev")


@pytest.mark.parametrize("name", example_names())
def test_examples_are_valid_and_round_trip(name):
    data = load_example(name)
    passport = validate_passport(data)
    assert passport.to_json() == data


def test_error_classes_carry_problem_codes():
    assert (VocabError.status, VocabError.code) == (400, "vocab-error")
    assert (PassportInvalid.status, PassportInvalid.code) == (422, "passport-invalid")
    assert ContextNotBundled.code == "context-not-allowed"
    assert issubclass(PassportInvalid, VocabError) and issubclass(ContextNotBundled, VocabError)


def test_negative_stage_value_names_path_and_rule(ev):
    ev["carbonFootprint"]["lifecycleStages"][1]["value"] = -0.01
    errors = _errors(ev)
    assert (errors[0]["path"], errors[0]["rule"]) == (
        "carbonFootprint.lifecycleStages[1].value",
        "non-negative",
    )
    assert "negative" in errors[0]["message"]
    exc = PassportInvalid(errors)
    assert exc.problem_extensions == {"errors": errors}
    assert str(exc).startswith("carbonFootprint.lifecycleStages[1].value")


def test_carbon_footprint_unit_is_exact(ev):
    ev["carbonFootprint"]["declaredValue"]["unit"] = "kg CO2 / kWh"  # Catena-X free text
    error = _one(ev)
    assert error["path"] == "carbonFootprint.declaredValue.unit"
    assert error["rule"] == "unit"
    assert "kgCO2e/kWh" in error["message"]


@pytest.mark.parametrize(
    ("location", "unit"),
    [
        (("general", "batteryMass"), "g"),
        (("performance", "rated", "ratedCapacity"), "kWh"),  # the BatteryPass v1.2 unit error
        (("carbonFootprint", "absoluteFootprint"), "kgCO2e"),
        (("performance", "condition", "remainingEnergy"), "Wh"),
    ],
)
def test_units_are_checked(ev, location, unit):
    node = ev
    for key in location:
        node = node[key]
    node["unit"] = unit
    error = _one(ev)
    assert error == {**error, "path": ".".join(location) + ".unit", "rule": "unit"}


def test_stage_sum_must_match_declared_value(ev):
    ev["carbonFootprint"]["declaredValue"]["value"] = 0.065
    error = _one(ev)
    assert error["path"] == "carbonFootprint.lifecycleStages"
    assert error["rule"] == "stage-sum"
    assert "0.057" in error["message"] and "0.065" in error["message"]


def test_stage_sum_tolerance_is_one_percent(ev):
    stages = ev["carbonFootprint"]["lifecycleStages"]  # they sum to 0.057
    ev["carbonFootprint"]["declaredValue"]["value"] = 0.0575  # 0.9 % off: rounding
    validate_passport(copy.deepcopy(ev))
    ev["carbonFootprint"]["declaredValue"]["value"] = 100.0
    stages[0]["value"] = 100.0 - 0.057 + 0.041 + 0.9  # 0.9 % of 100 above
    validate_passport(copy.deepcopy(ev))
    stages[0]["value"] += 0.2  # now 1.1 % above
    assert _one(ev)["rule"] == "stage-sum"


def test_all_four_stages_exactly_once(ev):
    stages = ev["carbonFootprint"]["lifecycleStages"]
    stages[3]["stage"] = "distribution"
    error = _one(ev)
    assert error["rule"] == "lifecycle-stages"
    assert "endOfLifeAndRecycling" in error["message"] and "distribution" in error["message"]
    ev["carbonFootprint"]["lifecycleStages"] = stages[:3]
    assert _one(ev)["rule"] == "lifecycle-stages"


def test_unknown_fields_are_rejected_everywhere(ev):
    ev["general"]["batteryMass"]["uncertainty"] = 0.5
    ev["materials"]["batteryMaterials"][3]["supplier"] = "x"
    ev["colour"] = "blue"
    errors = {e["path"]: e["rule"] for e in _errors(ev)}
    assert errors == {
        "general.batteryMass.uncertainty": "unknown-field",
        "materials.batteryMaterials[3].supplier": "unknown-field",
        "colour": "unknown-field",
    }


def test_snake_case_names_are_unknown(ev):
    ev["general"]["battery_mass"] = ev["general"].pop("batteryMass")
    assert _one(ev) == {**_one(ev), "path": "general.battery_mass", "rule": "unknown-field"}


@pytest.mark.parametrize(
    ("identifier", "rule"),
    [
        ("https://dpp.example.com/01/09520123456789/21/SN1", "gtin-check-digit"),
        ("https://dpp.example.com/01/0952012345678/21/SN1", "gs1-digital-link"),  # 13 digits
        ("https://dpp.example.com/01/09520123456788", "gs1-digital-link"),  # model level, no serial
        ("https://dpp.example.com/01/09520123456788/21/SN1?17=271231", "gs1-digital-link"),
        ("https://dpp.example.com/01/09520123456788/21/" + "A" * 21, "gs1-digital-link"),
        ("https://dpp.example.com/01/09520123456788/21/SN%20space", "gs1-digital-link"),
        ("https://dpp.example.com/01/09520123456788/21/SN1/10/B1", "gs1-digital-link"),  # order
        ("ftp://dpp.example.com/01/09520123456788/21/SN1", "gs1-digital-link"),
        ("https://dpp.example.com/01/09520123456788/22/" + "V" * 21 + "/21/S", "gs1-digital-link"),
        ("urn:epc:id:sgtin:9520123.45678.SN1", "gs1-digital-link"),
    ],
)
def test_battery_identifier_is_a_gs1_item_link(ev, identifier, rule):
    ev["batteryIdentifier"] = identifier
    assert _one(ev) == {**_one(ev), "path": "batteryIdentifier", "rule": rule}


@pytest.mark.parametrize(
    "identifier",
    [
        "https://id.gs1.org/01/09520123456788/21/12345",
        "https://brand.example.com/dpp/01/09520123456788/22/A1/10/LOT-7/21/X%2F1",
        "http://localhost:8000/01/09520123456788/21/SN1",
        "http://testserver/01/09520123456788/21/SN1",  # resolver.gs1.ItemKey.uri in tests
    ],
)
def test_good_battery_identifiers(ev, identifier):
    ev["batteryIdentifier"] = identifier
    validate_passport(ev)


@pytest.mark.parametrize(
    "passport_id",
    [
        "550e8400-e29b-41d4-a716-446655440000",
        "urn:uuid:550E8400-E29B-41D4-A716-446655440000",
        "urn:uuid:not-a-uuid",
        "did:web:example.com",
    ],
)
def test_passport_id_is_a_urn_uuid(ev, passport_id):
    ev["passportId"] = passport_id
    assert _one(ev) == {**_one(ev), "path": "passportId", "rule": "urn-uuid"}


@pytest.mark.parametrize(
    ("change", "path", "rule"),
    [
        (
            lambda p: p.update(passportId="urn:uuid:550e8400-e29b-41d4-a716-446655440000\n"),
            "passportId",
            "urn-uuid",
        ),
        (
            lambda p: p["general"].update(manufacturingDate="2026-03\n"),
            "general.manufacturingDate",
            "year-month",
        ),
        (
            lambda p: p["general"].update(warrantyPeriod="P8Y\n"),
            "general.warrantyPeriod",
            "duration",
        ),
        (
            lambda p: p["general"]["operator"].update(email="battery-passport@example.com\n"),
            "general.operator.email",
            "email",
        ),
        (
            lambda p: p["labels"]["symbols"][0].update(meaning={"en\n": "Collect separately."}),
            "labels.symbols[0].meaning",
            "language-tag",
        ),
        (
            lambda p: p["materials"]["batteryMaterials"][0].update(casNumber="7439-93-2\n"),
            "materials.batteryMaterials[0].casNumber",
            "cas-number",
        ),
        (  # a pydantic `pattern` (Rust regex: `$` is the end of the text) refused it already
            lambda p: p["general"]["manufacturer"]["postalAddress"].update(addressCountry="HU\n"),
            "general.manufacturer.postalAddress.addressCountry",
            "pattern",
        ),
    ],
)
def test_a_trailing_newline_is_refused(ev, change, path, rule):
    # `$` in a Python regex also matches before a final "\n": the checks take the whole text.
    change(ev)
    error = _one(ev)
    assert (error["path"], error["rule"]) == (path, rule), error


def test_predecessors_are_passport_ids(ev):
    ev["predecessor"] = ["urn:uuid:0b7c7d4e-1f0a-4c55-9d1e-2a9f3e6b8c01", "BPNL0123"]
    assert _one(ev) == {**_one(ev), "path": "predecessor[1]", "rule": "urn-uuid"}


def test_battery_status_uses_regulation_spelling(ev):
    for status in ("original", "re-used", "repurposed", "remanufactured", "waste", "recycled"):
        ev["lifecycle"]["batteryStatus"] = status
        validate_passport(copy.deepcopy(ev))
    ev["lifecycle"]["batteryStatus"] = "Reused"  # the Battery Pass consortium spelling
    assert _one(ev) == {**_one(ev), "path": "lifecycle.batteryStatus", "rule": "allowed-values"}


def test_category_enum(ev):
    ev["general"]["batteryCategory"] = "SLI"  # what the Catena-X example says
    assert _one(ev) == {**_one(ev), "path": "general.batteryCategory", "rule": "allowed-values"}


@pytest.mark.parametrize(
    ("change", "path", "rule"),
    [
        (
            lambda p: p["general"].update(manufacturingDate="2026-13"),
            "general.manufacturingDate",
            "year-month",
        ),
        (
            lambda p: p["general"].update(manufacturingDate="2026-03-01"),
            "general.manufacturingDate",
            "year-month",
        ),
        (
            lambda p: p["general"].update(puttingIntoServiceDate="7172-75-08"),
            "general.puttingIntoServiceDate",
            "date",
        ),
        (
            lambda p: p["general"].update(warrantyPeriod="36 days"),
            "general.warrantyPeriod",
            "duration",
        ),
        (lambda p: p["general"].update(warrantyPeriod="P"), "general.warrantyPeriod", "duration"),
        (
            lambda p: p["lifecycle"].update(lastUpdate="2026-06-15T09:30:00"),
            "lifecycle.lastUpdate",
            "timezone",
        ),
        (lambda p: p["lifecycle"].update(updatedBy="operator 7"), "lifecycle.updatedBy", "iri"),
        (
            lambda p: p["labels"]["symbols"][0]["meaning"].update({"English": "x"}),
            "labels.symbols[0].meaning",
            "language-tag",
        ),
        (
            lambda p: p["labels"].update(declarationOfConformity={"url": "dummy.link"}),
            "labels.declarationOfConformity.url",
            "url",
        ),
        (
            lambda p: p["materials"]["batteryMaterials"][0].update(casNumber="7439-93-3"),
            "materials.batteryMaterials[0].casNumber",
            "cas-number",
        ),
        (
            lambda p: p["materials"]["batteryMaterials"][9].update(component="battery"),
            "materials.batteryMaterials[9]",
            "battery-level-crm",
        ),
        (
            lambda p: p["circularity"]["recycledContent"][0].update(
                preConsumerShare=60, postConsumerShare=50
            ),
            "circularity.recycledContent[0]",
            "share-sum",
        ),
        (
            lambda p: p["circularity"]["recycledContent"][1].update(material="nickel"),
            "circularity.recycledContent",
            "unique",
        ),
        (
            lambda p: p["circularity"].update(renewableContent=101),
            "circularity.renewableContent",
            "maximum",
        ),
        (
            lambda p: p["performance"]["rated"]["minimumVoltage"].update(value=500.0),
            "performance.rated",
            "voltage-order",
        ),
        (
            lambda p: p["performance"]["rated"]["idleStateTemperatureRange"]["lower"].update(
                value=70.0
            ),
            "performance.rated.idleStateTemperatureRange",
            "range-order",
        ),
        (
            lambda p: p["performance"]["condition"]["numberOfFullCycles"].update(value=3.5),
            "performance.condition.numberOfFullCycles.value",
            "integer",
        ),
        (
            lambda p: p["general"].update(manufacturingPlace={"name": "Debrecen plant"}),
            "general.manufacturingPlace",
            "facility-identified",
        ),
        (
            lambda p: p["general"]["operator"].update(email="nobody"),
            "general.operator.email",
            "email",
        ),
        (
            lambda p: p["general"]["manufacturer"]["postalAddress"].update(
                addressCountry="Germany"
            ),
            "general.manufacturer.postalAddress.addressCountry",
            "pattern",
        ),
        (lambda p: p.update(passportVersion=0), "passportVersion", "minimum"),
        (lambda p: p["general"].pop("batteryCategory"), "general.batteryCategory", "required"),
    ],
)
def test_rules_name_path_and_rule(ev, change, path, rule):
    change(ev)
    error = _one(ev)
    assert (error["path"], error["rule"]) == (path, rule), error
    assert error["message"]


def test_nan_is_refused(ev):
    ev["general"]["batteryMass"]["value"] = float("nan")
    assert _one(ev)["rule"] == "finite-number"


def test_several_errors_are_reported_together(ev):
    ev["general"]["batteryMass"]["value"] = -1
    ev["carbonFootprint"]["declaredValue"]["unit"] = "kg"
    ev["passportId"] = "x"
    assert {e["path"] for e in _errors(ev)} == {
        "general.batteryMass.value",
        "carbonFootprint.declaredValue.unit",
        "passportId",
    }


def test_not_an_object():
    assert _one([1, 2]) == {
        "path": "",
        "rule": "type",
        "message": "a passport is a JSON object, not list",
    }


# --- mandatory attributes at first issuance ----------------------------------------------


def test_static_mandatory_attributes_must_be_present(ev):
    del ev["carbonFootprint"]
    errors = _errors(ev)
    assert {e["rule"] for e in errors} == {"mandatory"}
    paths = {e["path"] for e in errors}
    assert "carbonFootprint.declaredValue" in paths
    assert "carbonFootprint.lifecycleStages[stage=distribution]" in paths
    assert "carbonFootprint.absoluteFootprint" not in paths  # voluntary (row 27)
    message = next(e["message"] for e in errors if e["path"] == "carbonFootprint.performanceClass")
    assert "attribute 24" in message and "ev" in message


def test_one_missing_stage_element_is_named(ev):
    ev["carbonFootprint"]["lifecycleStages"] = ev["carbonFootprint"]["lifecycleStages"][:3]
    assert _one(ev)["rule"] == "lifecycle-stages"  # the model rule fires before the catalogue


def test_model_level_durability_values_are_required(ev):
    del ev["performance"]["durability"]["capacityFade"]  # S*, row 54
    error = _one(ev)
    assert (error["path"], error["rule"]) == ("performance.durability.capacityFade", "mandatory")


def test_item_level_static_data_is_required(ev):
    del ev["general"]["manufacturingDate"]
    assert _one(ev)["path"] == "general.manufacturingDate"


def test_battery_status_is_required_although_dynamic(ev):
    del ev["lifecycle"]
    assert _one(ev) == {**_one(ev), "path": "lifecycle", "rule": "mandatory"}


def test_dynamic_item_data_may_follow_by_events(ev):
    del ev["performance"]["condition"]  # SOCE, SoC, cycles, temperatures, negative events
    del ev["general"]["puttingIntoServiceDate"]
    validate_passport(ev)


def test_public_crm_entries_are_required(ev):
    materials = ev["materials"]["batteryMaterials"]
    ev["materials"]["batteryMaterials"] = [m for m in materials if m["component"] != "battery"]
    assert _one(ev)["path"] == "materials.batteryMaterials[component=battery]"


def test_conditional_cadmium_lead_data_is_not_required(ev):
    assert not any(s["subject"] in ("cadmium", "lead") for s in ev["labels"]["symbols"])
    assert not any(r["material"] == "lead" for r in ev["circularity"]["recycledContent"])
    validate_passport(ev)


def test_category_decides_what_is_mandatory(ev):
    del ev["performance"]["rated"]["capacityThresholdForExhaustion"]  # row 83: EV only
    assert _one(copy.deepcopy(ev))["path"] == "performance.rated.capacityThresholdForExhaustion"
    ev["general"]["batteryCategory"] = "stationary"
    validate_passport(ev)  # not applicable data (certified usable energy, SOCE) is accepted


def test_optional_parts_can_be_absent_in_the_model_itself():
    minimal = {
        "passportId": "urn:uuid:550e8400-e29b-41d4-a716-446655440000",
        "passportVersion": 1,
        "batteryIdentifier": "https://dpp.example.com/01/09520123456788/21/SN1",
        "general": {"batteryCategory": "lmt"},
    }
    errors = _errors(minimal)
    assert {e["rule"] for e in errors} == {"mandatory"}
    # 61 attributes are required for LMT at first issuance; 1, 2 and 9 are present here
    assert len(errors) == 58
    assert "general.batteryCategory" not in {e["path"] for e in errors}


# --- subjects of the other credentials ---------------------------------------------------

BATTERY = "https://dpp.example.com/01/09520123456788/10/BID12345678/21/SN12345678"
PASSPORT = "urn:uuid:550e8400-e29b-41d4-a716-446655440000"


def test_event_must_carry_its_data():
    event = {
        "battery": BATTERY,
        "passportId": PASSPORT,
        "eventType": "status-change",
        "occurredAt": "2031-05-02T10:00:00Z",
    }
    with pytest.raises(ValueError, match="batteryStatus"):
        BatteryEvent.model_validate(event)
    BatteryEvent.model_validate({**event, "batteryStatus": "repurposed"})
    update = {
        **event,
        "eventType": "condition-update",
        "condition": {"stateOfCharge": {"value": 40.0, "lastUpdate": "2031-05-02T10:00:00Z"}},
    }
    assert BatteryEvent.model_validate(update).condition.state_of_charge.value == 40.0


def test_role_and_grant_subjects():
    LegitimateInterest.model_validate({"id": "did:web:recycler.example", "purpose": ["recycling"]})
    with pytest.raises(ValueError):
        LegitimateInterest.model_validate(
            {"id": "did:web:recycler.example", "purpose": ["curiosity"]}
        )
    with pytest.raises(ValueError):
        LegitimateInterest.model_validate({"id": "did:web:recycler.example", "purpose": []})
    Authority.model_validate(
        {"id": "did:web:msa.example", "authorityType": "market-surveillance", "jurisdiction": "DE"}
    )
    grant = AccessGrant.model_validate(
        {
            "grantee": "did:key:z6MkExample",
            "batteries": [BATTERY],
            "tiers": ["legitimate-interest"],
            "expiry": "2027-01-01T00:00:00Z",
        }
    )
    assert grant.tiers[0] == "legitimate-interest"
    with pytest.raises(ValueError):
        AccessGrant.model_validate(
            {
                "grantee": "did:key:z6MkExample",
                "batteries": [BATTERY],
                "tiers": ["everything"],
                "expiry": "2027-01-01T00:00:00Z",
            }
        )
    BatteryTransfer.model_validate(
        {
            "battery": BATTERY,
            "passportId": PASSPORT,
            "transferor": "did:web:a.example",
            "transferee": "did:web:b.example",
            "transferredAt": "2031-05-01T00:00:00Z",
            "purpose": ["repurposing"],
        }
    )
