"""Helpers shared by the vocab tests: a passport holding every one of the 93 attributes, and
credentials wrapping tier documents."""

from __future__ import annotations

import copy
import json
from typing import Any

from vocab.catalogue import Tier
from vocab.context import BATTERY_CONTEXT_URL, BATTERY_PASSPORT_CREDENTIAL, VC_CONTEXT_URL
from vocab.examples import load_example
from vocab.schemas import credential_schema
from vocab.tiers import credential_type


def every_attribute_passport() -> dict[str, Any]:
    """The EV example plus what it lacks for being EV (not applicable or conditional data), so
    that all 93 catalogue attributes are present. Not-applicable data is accepted, never
    required."""
    passport = load_example("ev")
    stationary = load_example("stationary")
    passport["predecessor"] = ["urn:uuid:0b7c7d4e-1f0a-4c55-9d1e-2a9f3e6b8c01"]
    passport["labels"]["symbols"] += [
        {
            "subject": "cadmium",
            "symbol": "https://dpp.example.com/symbols/cd.svg",
            "meaning": {"en": "Contains more than 0.002 % cadmium."},
        },
        {
            "subject": "lead",
            "symbol": "https://dpp.example.com/symbols/pb.svg",
            "meaning": {"en": "Contains more than 0.004 % lead."},
        },
    ]
    passport["circularity"]["recycledContent"].append(
        {"material": "lead", "preConsumerShare": 0.0, "postConsumerShare": 0.0}
    )
    passport["performance"]["rated"]["initialSelfDischargeRate"] = 2.0
    condition = passport["performance"]["condition"]
    for key, value in stationary["performance"]["condition"].items():
        condition.setdefault(key, copy.deepcopy(value))
    return passport


def tier_credential(tier: Tier, subject: dict[str, Any]) -> dict[str, Any]:
    return {
        "@context": [VC_CONTEXT_URL, BATTERY_CONTEXT_URL],
        "type": ["VerifiableCredential", BATTERY_PASSPORT_CREDENTIAL, credential_type(tier)],
        "issuer": "did:web:dpp.example.com:operators:example-battery-systems",
        "validFrom": "2026-06-15T09:30:00Z",
        "credentialSchema": credential_schema(tier),
        "credentialSubject": subject,
    }


def canonical(value: Any) -> Any:
    """`value` with every list sorted, for comparisons where list order carries no meaning."""
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [canonical(v) for v in value]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    return value
