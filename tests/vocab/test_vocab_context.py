"""The battery JSON-LD context: protected, no @vocab, no clash with VC 2.0, a term for every
model field, and every tier document expanding with no term dropped."""

from __future__ import annotations

import typing

import pytest
from pydantic import BaseModel
from pyld import jsonld
from vocab_testkit import every_attribute_passport, tier_credential

from vocab.catalogue import Tier
from vocab.context import (
    BATTERY_CONTEXT_PATH,
    BATTERY_CONTEXT_URL,
    BATTERY_VOCAB,
    CREDENTIAL_TYPES,
    VC_CONTEXT_URL,
)
from vocab.errors import ContextNotBundled
from vocab.examples import example_names, load_example
from vocab.loader import (
    UNDEFINED_TERM_VOCAB,
    UNDEFINED_TERMS_CONTEXT_URL,
    bundled_urls,
    context_document,
    document_loader,
)
from vocab.models.events import BatteryEvent, BatteryTransfer
from vocab.models.passport import Passport
from vocab.models.roles import AccessGrant, Authority, LegitimateInterest
from vocab.tiers import split_by_tier

XSD = "http://www.w3.org/2001/XMLSchema#"
ALLOWED_IRI_BASES = (BATTERY_VOCAB, "https://schema.org/")
VC_TERMS_WE_USE = {"id", "type", "name", "description", "mediaType"}
MODELS = (Passport, BatteryEvent, BatteryTransfer, LegitimateInterest, Authority, AccessGrant)


def _terms() -> dict:
    return context_document(BATTERY_CONTEXT_URL)["@context"]


def _vc_terms() -> set[str]:
    """Every term VC 2.0 defines, at top level and in its type-scoped contexts."""
    terms = set()
    for term, definition in context_document(VC_CONTEXT_URL)["@context"].items():
        terms.add(term)
        if isinstance(definition, dict) and isinstance(definition.get("@context"), dict):
            terms.update(definition["@context"])
    return {t for t in terms if not t.startswith("@")}


def test_constants():
    assert BATTERY_CONTEXT_URL == "https://w3id.org/dbp/v1"
    assert BATTERY_VOCAB == "https://w3id.org/dbp/vocab#"
    assert BATTERY_CONTEXT_PATH == "/dbp/v1"
    assert BATTERY_CONTEXT_URL in bundled_urls()


def test_protected_without_vocab():
    context = _terms()
    assert context["@protected"] is True
    assert context["@version"] == 1.1
    assert "@vocab" not in context
    assert not any("@vocab" in d for d in context.values() if isinstance(d, dict))


def test_terms_map_into_our_vocabulary_or_schema_org():
    for term, definition in _terms().items():
        if term.startswith("@"):
            continue
        iri = definition if isinstance(definition, str) else definition["@id"]
        assert iri.startswith(ALLOWED_IRI_BASES), term
        if iri.startswith(BATTERY_VOCAB):
            assert iri.removeprefix(BATTERY_VOCAB) in (term, "battery", "accessTier"), term


def test_no_number_coercion():
    allowed = {"@id", XSD + "date", XSD + "gYearMonth", XSD + "dateTime", XSD + "duration"}
    for term, definition in _terms().items():
        if isinstance(definition, dict) and "@type" in definition:
            assert definition["@type"] in allowed, term


def test_no_vc_term_is_redefined():
    assert not (set(_terms()) & _vc_terms())


def test_credential_types_are_defined():
    terms = _terms()
    for name in CREDENTIAL_TYPES:
        assert terms[name] == BATTERY_VOCAB + name


def _aliases(model: type[BaseModel]) -> set[str]:
    out = set()
    for name, field in model.model_fields.items():
        out.add(field.alias or name)
        for t in _types(field.annotation):
            if isinstance(t, type) and issubclass(t, BaseModel):
                out |= _aliases(t)
    return out


def _types(annotation):
    out = [annotation]
    for arg in typing.get_args(annotation):
        out += _types(arg)
    return out


@pytest.mark.parametrize("model", MODELS)
def test_every_model_field_is_a_term(model):
    missing = _aliases(model) - set(_terms()) - VC_TERMS_WE_USE
    assert missing == set()


def _kinds(model: type[BaseModel], out: dict[str, set[str]]) -> dict[str, set[str]]:
    for name, field in model.model_fields.items():
        types = _types(field.annotation)
        nested = [t for t in types if isinstance(t, type) and issubclass(t, BaseModel)]
        out.setdefault(field.alias or name, set()).add("node" if nested else "literal")
        for t in nested:
            _kinds(t, out)
    return out


def test_each_term_is_always_a_node_or_always_a_literal():
    # Terms are global: a term whose value is an object in one place and a number in another
    # would give one RDF property two incompatible ranges.
    kinds: dict[str, set[str]] = {}
    for model in MODELS:
        _kinds(model, kinds)
    assert {term: k for term, k in kinds.items() if len(k) > 1} == {}


def test_expansion_after_vc_context_raises_no_protected_term_error():
    credential = tier_credential(Tier.PUBLIC, split_by_tier(load_example("ev"))[Tier.PUBLIC])
    expanded = jsonld.expand(credential, {"documentLoader": document_loader})
    subject = expanded[0]["https://www.w3.org/2018/credentials#credentialSubject"][0]
    assert BATTERY_VOCAB + "carbonFootprint" in subject


def test_a_later_context_cannot_redefine_our_terms():
    credential = tier_credential(Tier.PUBLIC, {"batteryMass": {"value": 1.0, "unit": "kg"}})
    credential["@context"].append({"batteryMass": "https://evil.example/mass"})
    with pytest.raises(jsonld.JsonLdError) as caught:
        jsonld.expand(credential, {"documentLoader": document_loader})
    assert "protected term redefinition" in str(caught.value.code)


def _undefined(document: dict) -> list[str]:
    checked = dict(document, **{"@context": [UNDEFINED_TERMS_CONTEXT_URL, *document["@context"]]})
    nquads = jsonld.to_rdf(
        checked, {"documentLoader": document_loader, "format": "application/n-quads"}
    )
    assert nquads.strip(), "nothing expanded"
    return [line for line in nquads.splitlines() if UNDEFINED_TERM_VOCAB in line]


@pytest.mark.parametrize("name", [*example_names(), "every-attribute"])
def test_every_tier_document_expands_with_no_term_dropped(name):
    data = every_attribute_passport() if name == "every-attribute" else load_example(name)
    documents = split_by_tier(data)
    assert documents
    for tier, document in documents.items():
        assert _undefined(tier_credential(tier, document)) == [], tier


def test_undefined_term_check_can_fail():
    document = split_by_tier(load_example("ev"))[Tier.PUBLIC]
    document["general"]["batteryColour"] = "blue"
    undefined = _undefined(tier_credential(Tier.PUBLIC, document))
    assert len(undefined) == 1 and "batteryColour" in undefined[0]


def test_other_credential_subjects_expand_cleanly():
    battery = load_example("ev")["batteryIdentifier"]
    passport = load_example("ev")["passportId"]
    condition = load_example("ev")["performance"]["condition"]
    subjects = {
        "BatteryEventCredential": BatteryEvent.model_validate(
            {
                "battery": battery,
                "passportId": passport,
                "eventType": "condition-update",
                "occurredAt": "2026-11-01T06:00:00Z",
                "condition": condition,
                "batteryStatus": "original",
            }
        ),
        "BatteryTransferCredential": BatteryTransfer.model_validate(
            {
                "battery": battery,
                "passportId": passport,
                "transferor": "did:web:a.example",
                "transferee": "did:web:b.example",
                "transferredAt": "2031-05-01T00:00:00Z",
                "transferEndpoint": "https://second-life.example",
                "purpose": ["repurposing"],
            }
        ),
        "LegitimateInterestCredential": LegitimateInterest.model_validate(
            {
                "id": "did:web:recycler.example",
                "name": "Example Recycling",
                "purpose": ["recycling"],
            }
        ),
        "AuthorityCredential": Authority.model_validate(
            {
                "id": "did:web:msa.example",
                "authorityType": "market-surveillance",
                "jurisdiction": "DE",
            }
        ),
        "AccessGrantCredential": AccessGrant.model_validate(
            {
                "grantee": "did:web:aggregator.example",
                "batteries": [battery],
                "tiers": ["legitimate-interest"],
                "expiry": "2027-01-01T00:00:00Z",
            }
        ),
    }
    for type_name, subject in subjects.items():
        credential = {
            "@context": [VC_CONTEXT_URL, BATTERY_CONTEXT_URL],
            "type": ["VerifiableCredential", type_name],
            "issuer": "did:web:issuer.example",
            "credentialSubject": subject.model_dump(mode="json", by_alias=True, exclude_none=True),
        }
        assert _undefined(credential) == [], type_name


def test_typed_literals_in_rdf():
    document = split_by_tier(load_example("ev"))[Tier.PUBLIC]
    nquads = jsonld.to_rdf(
        tier_credential(Tier.PUBLIC, document),
        {"documentLoader": document_loader, "format": "application/n-quads"},
    )
    assert f'"2026-03"^^<{XSD}gYearMonth>' in nquads
    assert f'"P8Y"^^<{XSD}duration>' in nquads
    assert f"<{BATTERY_VOCAB}batteryIdentifier> <https://dpp.example.com/01/" in nquads
    assert f'"4.82E2"^^<{XSD}double>' not in nquads  # 482.0 has no fraction: xsd:integer
    assert f'"482"^^<{XSD}integer>' in nquads
    assert f'"5.7E-2"^^<{XSD}double>' in nquads
    assert "decimal" not in nquads
    assert (
        '"Do not dispose of with household waste: batteries are collected separately."@en' in nquads
    )


def test_loader_refuses_unbundled_contexts():
    with pytest.raises(ContextNotBundled) as caught:
        document_loader("https://w3id.org/dbp/v2")
    assert caught.value.url == "https://w3id.org/dbp/v2"
    credential = {
        "@context": [VC_CONTEXT_URL, "https://example.com/contexts/battery.jsonld"],
        "type": ["VerifiableCredential"],
    }
    with pytest.raises(jsonld.JsonLdError) as caught_ld:
        jsonld.expand(credential, {"documentLoader": document_loader})
    chain, error = [], caught_ld.value
    while error is not None:
        chain.append(error)
        error = getattr(error, "cause", None) or error.__cause__ or error.__context__
    assert any(isinstance(e, ContextNotBundled) for e in chain)
