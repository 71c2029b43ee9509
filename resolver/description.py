"""The resolver description file served at `/.well-known/gs1resolver` (GS1 conformant resolver
standard; field set of the GS1 Resolver Community Edition) and at `/.well-known/resolver`
(ISO/IEC 18975, which the UNTP Identity Resolver spec asks resolvers to publish)."""

from __future__ import annotations

from typing import Any

from resolver import linktypes as lt


def resolver_description(public_url: str) -> dict[str, Any]:
    active: dict[str, dict[str, str]] = {}
    for link_type in lt.ALL:
        entry = {"title": link_type.title, "description": link_type.description}
        if "://" in link_type.rel:
            entry["url"] = link_type.rel
        active[link_type.compact] = entry
    return {
        "name": "dbp Digital Battery Passport resolver",
        "resolverRoot": public_url.rstrip("/"),
        "supportedPrimaryKeys": ["01"],
        # GS1 Digital Link item URIs: /01/{GTIN}[/22/{variant}][/10/{batch}]/21/{serial}
        "supportedQualifiers": ["22", "10", "21"],
        "supportedLinkType": [
            {"namespace": lt.GS1_VOC, "prefix": "gs1:"},
            {"namespace": lt.UNTP_LINK_TYPES, "prefix": "untp:"},
            {"namespace": lt.DBP_LINK_TYPES, "prefix": "dbp:"},
        ],
        "linkTypeDefaultCanBeAll": False,
        "supportsLanguageVariants": False,
        "supportsSemanticInterpretation": False,
        # GTIN check digits and the AI 10/21/22 character set and length are validated
        "validatesAIcombinations": True,
        "linksetMediaType": "application/linkset+json",
        "activeLinkTypes": {"en": active},
    }
