"""The link types this resolver answers with, where each one is defined, and how a `linkType`
query value names them.

Sources:
- GS1 Web Vocabulary link types (`gs1:`), namespace `https://gs1.org/voc/` as GS1 conformant
  resolvers write them in linksets (GS1 Digital Link resolver standard; GS1 Resolver CE). Since
  Web Vocabulary 1.16 the preferred namespace is `https://ref.gs1.org/voc/`, declared equivalent,
  so a `linkType` in that form is accepted too. `gs1:dpp` is the DPP link type
  (https://ref.gs1.org/voc/dpp) that the UNTP Identity Resolver spec points to as "see also".
- UNTP Identity Resolver: the current spec names the relation `dpp` (submitted to IANA, not yet
  registered); its 0.x releases used `untp:dpp`, expanding to
  `https://test.uncefact.org/vocabulary/linkTypes/dpp`. Both are listed so readers of either
  version find the passport.
- IANA link relations (RFC 8288 registry): `describedby`, `linkset` (RFC 9264), `canonical`.
- dbp's own link types for what no public vocabulary names: the restricted-data access point.
  Their namespace is `https://w3id.org/dbp/linktypes/`, with no `#`: GS1's linkset schema allows
  a link type key that is a lower-case name or an IRI of letters, digits, `.` and `/` only. The
  resolver description file registers it with the prefix `dbp:` (as GS1 asks of extensions).
  Before, the access point was `https://w3id.org/dbp/vocab#restrictedDataAccess`; `?linkType=`
  still takes that form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from vocab.context import BATTERY_VOCAB

GS1_VOC: Final = "https://gs1.org/voc/"
GS1_VOC_REF: Final = "https://ref.gs1.org/voc/"
UNTP_LINK_TYPES: Final = "https://test.uncefact.org/vocabulary/linkTypes/"
DBP_LINK_TYPES: Final = "https://w3id.org/dbp/linktypes/"

# Prefixes a `linkType` value may use, and what they expand to.
PREFIXES: Final = {"gs1": GS1_VOC, "untp": UNTP_LINK_TYPES, "dbp": DBP_LINK_TYPES}


@dataclass(frozen=True)
class LinkType:
    rel: str
    """The relation type as linksets and Link headers write it: an IRI, or a registered name."""
    compact: str
    """The short form people type in `?linkType=`."""
    title: str
    description: str


DEFAULT_LINK: Final = LinkType(
    GS1_VOC + "defaultLink",
    "gs1:defaultLink",
    "Default link",
    "Where the resolver sends a request that names no link type: the battery passport page.",
)
PIP: Final = LinkType(
    GS1_VOC + "pip",
    "gs1:pip",
    "Product information page",
    "The battery passport page for people: public data and how it was verified.",
)
GS1_DPP: Final = LinkType(
    GS1_VOC + "dpp",
    "gs1:dpp",
    "Digital product passport",
    "The public battery passport credentials (W3C Verifiable Credentials, JSON-LD).",
)
DPP: Final = LinkType(
    "dpp",
    "dpp",
    "Digital product passport",
    "UNTP Identity Resolver link relation for a digital product passport (same target as gs1:dpp).",
)
UNTP_DPP: Final = LinkType(
    UNTP_LINK_TYPES + "dpp",
    "untp:dpp",
    "Digital product passport",
    "UNTP 0.x link type for a digital product passport (same target as gs1:dpp).",
)
SUSTAINABILITY_INFO: Final = LinkType(
    GS1_VOC + "sustainabilityInfo",
    "gs1:sustainabilityInfo",
    "Sustainability and recycling",
    "The carbon footprint and recycled content sections of the passport page.",
)
CERTIFICATION_INFO: Final = LinkType(
    GS1_VOC + "certificationInfo",
    "gs1:certificationInfo",
    "Certification information",
    "The EU declaration of conformity named in the passport.",
)
RELATED_IMAGE: Final = LinkType(
    GS1_VOC + "relatedImage",
    "gs1:relatedImage",
    "QR code",
    "The QR code (ISO/IEC 18004) that carries this battery's identifier.",
)
DESCRIBED_BY: Final = LinkType(
    "describedby",
    "describedby",
    "Battery DID document",
    "The did:web document of the battery: who is responsible for it now and where its passport is.",
)
RESTRICTED_DATA: Final = LinkType(
    DBP_LINK_TYPES + "restrictedDataAccess",
    "dbp:restrictedDataAccess",
    "Restricted data access",
    "POST a verifiable presentation here to read the passport parts a role may see "
    "(Art 77(2): persons with a legitimate interest, notified bodies, market surveillance, "
    "the Commission).",
)

ALL: Final = (
    DEFAULT_LINK,
    PIP,
    GS1_DPP,
    DPP,
    UNTP_DPP,
    SUSTAINABILITY_INFO,
    CERTIFICATION_INFO,
    RELATED_IMAGE,
    DESCRIBED_BY,
    RESTRICTED_DATA,
)

# `?linkType=` values that ask for the whole linkset rather than one link (GS1 uses `linkset`;
# resolvers before GS1 Digital Link 1.2 and the first UNTP drafts used `all`).
LINKSET_REQUESTS: Final = frozenset({"linkset", "all"})


def _forms(link_type: LinkType) -> set[str]:
    forms = {link_type.rel, link_type.compact}
    if link_type.rel.startswith(GS1_VOC):
        forms.add(GS1_VOC_REF + link_type.rel.removeprefix(GS1_VOC))
    if link_type.rel.startswith(DBP_LINK_TYPES):
        # the IRI these link types had before they moved out of the `#` vocabulary
        forms.add(BATTERY_VOCAB + link_type.rel.removeprefix(DBP_LINK_TYPES))
    return forms


_BY_FORM: Final = {form: lt for lt in ALL for form in _forms(lt)}


def lookup(value: str) -> LinkType | None:
    """The link type a `linkType` query value names (compact form, IRI or relation name)."""
    return _BY_FORM.get(value)
