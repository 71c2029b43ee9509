"""Tier credential JSON Schemas: committed files equal what the generator writes, they are valid
draft 2020-12 schemas, and they accept exactly the tier's data."""

from __future__ import annotations

import copy
from importlib import resources

import jsonschema
import pytest
from vocab_testkit import every_attribute_passport, tier_credential

from vocab.catalogue import Tier
from vocab.errors import SchemaNotFound
from vocab.examples import example_names, load_example
from vocab.schemas import (
    SCHEMA_BASE_URL,
    SCHEMA_PATH_PREFIX,
    credential_schema,
    schema_bytes,
    schema_for,
    schema_url,
    schema_urls,
)
from vocab.schemas.__main__ import main
from vocab.schemas.generate import generate
from vocab.tiers import split_by_tier


def _validator(tier: Tier) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema_for(schema_url(tier)))


def _messages(tier: Tier, credential: dict) -> list[str]:
    return [e.message for e in _validator(tier).iter_errors(credential)]


def test_committed_schemas_equal_the_generated_ones():
    generated = generate(SCHEMA_BASE_URL)
    committed = {
        entry.name: entry.read_bytes()
        for entry in resources.files("vocab.schemas").iterdir()
        if entry.name.endswith(".json")
    }
    assert committed == generated
    assert main([]) == 0  # python -m vocab.schemas (check mode)


def test_urls_and_paths():
    assert SCHEMA_BASE_URL == "https://w3id.org/dbp/schemas/v1"
    assert SCHEMA_PATH_PREFIX == "/dbp/schemas/v1"
    assert schema_url(Tier.PUBLIC) == SCHEMA_BASE_URL + "/public-battery-passport-credential.json"
    assert schema_url(Tier.LEGITIMATE_INTEREST_AND_COMMISSION).endswith(
        "/commission-battery-passport-credential.json"
    )
    assert len(set(schema_urls())) == 4
    assert credential_schema(Tier.AUTHORITIES) == {
        "id": schema_url(Tier.AUTHORITIES),
        "type": "JsonSchema",
    }


@pytest.mark.parametrize("tier", list(Tier))
def test_schemas_are_valid_draft_2020_12(tier):
    schema = schema_for(schema_url(tier))
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == schema_url(tier)
    assert schema_bytes(schema_url(tier)).endswith(b"}\n")


def test_unknown_schema_url():
    with pytest.raises(SchemaNotFound) as caught:
        schema_for(SCHEMA_BASE_URL + "/secret.json")
    assert caught.value.status == 404
    with pytest.raises(SchemaNotFound):
        schema_bytes("https://example.com/public-battery-passport-credential.json")


def test_schema_for_returns_a_fresh_copy():
    schema_for(schema_url(Tier.PUBLIC))["title"] = "changed"
    assert schema_for(schema_url(Tier.PUBLIC))["title"] == "PublicBatteryPassportCredential"


@pytest.mark.parametrize("name", [*example_names(), "every-attribute"])
def test_tier_credentials_of_the_examples_validate(name):
    data = every_attribute_passport() if name == "every-attribute" else load_example(name)
    for tier, document in split_by_tier(data).items():
        assert _messages(tier, tier_credential(tier, document)) == [], tier


def test_a_tier_schema_refuses_another_tiers_data():
    documents = split_by_tier(load_example("ev"))
    public = copy.deepcopy(documents[Tier.PUBLIC])
    public["lifecycle"] = documents[Tier.LEGITIMATE_INTEREST]["lifecycle"]
    assert any(
        "'lifecycle' was unexpected" in m
        for m in _messages(Tier.PUBLIC, tier_credential(Tier.PUBLIC, public))
    )
    restricted = copy.deepcopy(documents[Tier.LEGITIMATE_INTEREST])
    restricted["labels"] = {"testReports": documents[Tier.AUTHORITIES]["labels"]["testReports"]}
    assert _messages(
        Tier.LEGITIMATE_INTEREST, tier_credential(Tier.LEGITIMATE_INTEREST, restricted)
    )


def test_mixed_list_elements_are_checked_per_tier():
    documents = split_by_tier(load_example("ev"))
    public = copy.deepcopy(documents[Tier.PUBLIC])
    cathode = documents[Tier.LEGITIMATE_INTEREST_AND_COMMISSION]["materials"]["batteryMaterials"][0]
    public["materials"]["batteryMaterials"].append(cathode)
    assert _messages(Tier.PUBLIC, tier_credential(Tier.PUBLIC, public))
    restricted = copy.deepcopy(documents[Tier.LEGITIMATE_INTEREST_AND_COMMISSION])
    restricted["materials"]["batteryMaterials"].append(
        documents[Tier.PUBLIC]["materials"]["batteryMaterials"][0]
    )
    tier = Tier.LEGITIMATE_INTEREST_AND_COMMISSION
    assert _messages(tier, tier_credential(tier, restricted))


def test_field_split_objects_are_checked_per_tier():
    documents = split_by_tier(load_example("ev"))
    public = copy.deepcopy(documents[Tier.PUBLIC])
    public["circularity"]["safetyMeasures"]["safetyInstructions"] = [
        {"url": "https://x.example/s.pdf"}
    ]
    assert any(
        "safetyInstructions" in m
        for m in _messages(Tier.PUBLIC, tier_credential(Tier.PUBLIC, public))
    )


@pytest.mark.parametrize(
    "change",
    [
        lambda c: c["credentialSubject"].pop("accessTier"),
        lambda c: c["credentialSubject"].update(accessTier="authorities"),
        lambda c: c["credentialSubject"].pop("passportId"),
        lambda c: c["credentialSubject"].update(colour="blue"),
        lambda c: c["credentialSubject"]["general"]["batteryMass"].update(unit="g"),
        lambda c: c["credentialSubject"]["carbonFootprint"]["lifecycleStages"][0].update(value=-1),
        lambda c: c.update(type=["VerifiableCredential", "BatteryPassportCredential"]),
        lambda c: c.update({"@context": list(reversed(c["@context"]))}),
        lambda c: c.update({"@context": ["https://www.w3.org/ns/credentials/v2"]}),
        lambda c: c.pop("issuer"),
    ],
)
def test_public_schema_rejects(change):
    credential = tier_credential(Tier.PUBLIC, split_by_tier(load_example("ev"))[Tier.PUBLIC])
    assert _messages(Tier.PUBLIC, credential) == []
    change(credential)
    assert _messages(Tier.PUBLIC, credential)


def test_subject_may_name_the_battery_as_its_id():
    document = split_by_tier(load_example("ev"))[Tier.AUTHORITIES]
    credential = tier_credential(
        Tier.AUTHORITIES, {"id": document["batteryIdentifier"], **document}
    )
    assert _messages(Tier.AUTHORITIES, credential) == []
