"""Role -> tiers, from the catalogue's readers; grants open exactly what they list."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from verifier.entitlements import Grant, MalformedEntitlement, parse_entitlement
from verifier.policy import AccessPolicy
from vocab.catalogue import Tier
from vocab.gs1 import ItemKey

PUBLIC, LI, LIC, AUTH = Tier


def test_policy_table():
    assert AccessPolicy().table() == {
        "legitimate-interest": ["public", "legitimate-interest", "legitimate-interest+commission"],
        "notified-body": ["public", "legitimate-interest+commission", "authorities"],
        "market-surveillance": ["public", "legitimate-interest+commission", "authorities"],
        "commission": ["public", "legitimate-interest+commission", "authorities"],
    }
    opened = AccessPolicy(authorities_see_individual_data=True).table()
    assert opened["commission"] == [t.value for t in Tier]
    assert opened["legitimate-interest"] == [PUBLIC, LI, LIC]


def test_tiers_are_never_ordered():
    with pytest.raises(TypeError):
        _ = LI < AUTH


def test_grant_opens_its_tiers_for_its_batteries():
    b1, b2 = ItemKey("09520123456788", "SN1"), ItemKey("09520123456788", "SN2")
    grant = Grant(None, "did:web:op", "did:key:g", (b1,), frozenset({AUTH}), datetime.now(UTC))
    policy = AccessPolicy()
    assert policy.tiers_for_grant(grant, b1) == {PUBLIC, AUTH}
    assert policy.tiers_for_grant(grant, b2) == frozenset()
    assert policy.tiers_for([grant], b2) == frozenset()


def test_grant_covers_the_battery_whatever_the_host_or_qualifiers():
    credential = {
        "type": ["VerifiableCredential", "AccessGrantCredential"],
        "issuer": "did:web:op",
        "credentialSubject": {
            "grantee": "did:key:g",
            "batteries": ["https://brand.example/01/09520123456788/10/B1/21/SN1"],
            "tiers": ["legitimate-interest"],
            "expiry": "2030-01-01T00:00:00Z",
        },
    }
    grant = parse_entitlement(credential)
    assert grant.covers(ItemKey("09520123456788", "SN1"))
    assert not grant.covers(ItemKey("09520123456788", "SN11"))


URI = "http://h/01/09520123456788/21/S"
LATER = "2030-01-01T00:00:00Z"


@pytest.mark.parametrize(
    "subject",
    [
        {"grantee": "did:key:g", "batteries": [], "tiers": ["public"], "expiry": LATER},
        {"grantee": "did:key:g", "batteries": ["x"], "tiers": ["public"], "expiry": LATER},
        {"grantee": "did:key:g", "batteries": [URI], "tiers": ["all"], "expiry": LATER},
        {"grantee": "did:key:g", "batteries": [URI], "tiers": ["public"], "expiry": "2030-01-01"},
        {"batteries": [URI], "tiers": ["public"], "expiry": LATER},
    ],
)
def test_malformed_grants(subject):
    credential = {"type": ["AccessGrantCredential"], "issuer": "did:web:op"}
    with pytest.raises(MalformedEntitlement):
        parse_entitlement({**credential, "credentialSubject": subject})


def test_role_needs_one_subject_with_purposes():
    base = {"type": ["LegitimateInterestCredential"], "issuer": "did:web:x"}
    with pytest.raises(MalformedEntitlement):
        parse_entitlement({**base, "credentialSubject": {"id": "did:key:a", "purpose": []}})
    with pytest.raises(MalformedEntitlement):
        parse_entitlement({**base, "credentialSubject": [{"id": "did:key:a"}, {"id": "did:b"}]})
    role = parse_entitlement(
        {
            **base,
            "credentialSubject": {"id": "did:key:a", "purpose": ["repair", "recycling", "repair"]},
        }
    )
    assert role.roles == ("recycling", "repair")
