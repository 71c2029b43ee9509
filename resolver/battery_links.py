"""The linkset of a battery's item URI: what a reader can follow from the QR code.

Built from the registry row and the public credentials as stored: nothing is signed, verified or
canonicalised here, so resolution stays a couple of database reads.
"""

from __future__ import annotations

from typing import Any, Final

from resolver import linktypes as lt
from resolver.digital_link import ACCESS_RESOURCE, PAGE_RESOURCE, PASSPORT_RESOURCE
from resolver.linkset import Linkset, Target
from resolver.qr import MEDIA_TYPES as QR_MEDIA_TYPES
from resolver.sources import BatteryInfo
from resolver.tables import BatteryRoute
from vocab.catalogue import COMMISSION, LEGITIMATE_INTEREST, MARKET_SURVEILLANCE, NOTIFIED_BODY

HTML: Final = "text/html"
JSON_LD: Final = "application/ld+json"
DID_JSON: Final = "application/did+json"
# Roles that may read more than the public tier (Art 77(2)), named the way the catalogue does.
ACCESS_ROLES: Final = (LEGITIMATE_INTEREST, NOTIFIED_BODY, MARKET_SURVEILLANCE, COMMISSION)


def subjects(credentials: list[dict]) -> list[dict[str, Any]]:
    """The credential subjects of plain (not enveloped) credentials, as stored."""
    out: list[dict[str, Any]] = []
    for credential in credentials:
        subject = credential.get("credentialSubject") if isinstance(credential, dict) else None
        for item in subject if isinstance(subject, list) else [subject]:
            if isinstance(item, dict):
                out.append(item)
    return out


def _has_sustainability_data(subject: dict[str, Any]) -> bool:
    circularity = subject.get("circularity")
    return bool(subject.get("carbonFootprint")) or (
        isinstance(circularity, dict) and bool(circularity.get("recycledContent"))
    )


def _declaration_of_conformity(subject: dict[str, Any]) -> str | None:
    labels = subject.get("labels")
    doc = labels.get("declarationOfConformity") if isinstance(labels, dict) else None
    url = doc.get("url") if isinstance(doc, dict) else None
    return url if isinstance(url, str) and url.startswith(("https://", "http://")) else None


def item_description(route: BatteryRoute, battery: BatteryInfo | None) -> str:
    category = (battery.category or "").upper() if battery else ""
    kind = f"{category} battery" if category else "Battery"
    return f"{kind}, GTIN {route.gtin}, serial {route.serial}"


def handed_over_text(handover: Any) -> str:
    """The mark of a passport shown after its battery was handed over (Art 77(7))."""
    return (
        f"Handed over to {handover.to} on {handover.at[:10]}: this is the passport handed over "
        f"({handover.passport_id}); the new operator has not issued its own passport yet."
    )


def default_target(anchor: str, title: str = "Battery passport") -> Target:
    """The gs1:defaultLink of `anchor`: where a request naming no link type and no media type is
    redirected. GS1: exactly one, "it SHALL include a title, but SHALL NOT include other
    attributes". It is the consumer page under a URI of its own (`{anchor}/page`): the anchor
    itself redirects there, so it cannot be its own default."""
    return Target(f"{anchor}/{PAGE_RESOURCE}", title=title)


def build_linkset(
    *,
    anchor: str,
    route: BatteryRoute,
    battery: BatteryInfo | None,
    credentials: list[dict],
    did_document_url: str,
) -> Linkset:
    """The links of the item URI `anchor` (the battery served here)."""
    links = Linkset(anchor, item_description(route, battery))
    links.add(lt.DEFAULT_LINK, default_target(anchor))
    links.add(lt.PIP, Target(anchor, HTML, "Battery passport", ("en",)))
    if credentials:
        handover = getattr(battery, "handover", None) if battery is not None else None
        title = "Public passport credentials"
        if handover is not None:
            title += f" ({handed_over_text(handover)})"
        passport = Target(f"{anchor}/{PASSPORT_RESOURCE}", JSON_LD, title)
        for link_type in (lt.GS1_DPP, lt.DPP, lt.UNTP_DPP):
            links.add(link_type, passport)
    found = subjects(credentials)
    if any(_has_sustainability_data(s) for s in found):
        links.add(
            lt.SUSTAINABILITY_INFO,
            Target(f"{anchor}#carbon-footprint", HTML, "Carbon footprint and recycled content"),
        )
    for url in dict.fromkeys(u for u in map(_declaration_of_conformity, found) if u):
        links.add(lt.CERTIFICATION_INFO, Target(url, title="EU declaration of conformity"))
    links.add(lt.DESCRIBED_BY, Target(did_document_url, DID_JSON, f"DID document {route.did}"))
    links.add(
        lt.RESTRICTED_DATA,
        Target(
            f"{anchor}/{ACCESS_RESOURCE}",
            "application/json",
            # UNTP Identity Resolver "secure targets" would add `method` and `accessRole`; GS1's
            # linkset schema allows no attribute beyond href, title, type, hreflang, context,
            # fwqs and public, so both are said in the title (and the resolver description)
            "Request restricted passport data: POST a verifiable presentation "
            f"(roles: {', '.join(ACCESS_ROLES)})",
        ),
    )
    for kind, media_type in QR_MEDIA_TYPES.items():
        links.add(lt.RELATED_IMAGE, Target(f"{anchor}/qr.{kind}", media_type, "QR code"))
    return links
