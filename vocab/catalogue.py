"""The Annex XIII attribute catalogue (`catalogue.json`): for each of the 93 attributes, where it is
in a passport, who may see it, whether it changes, and for which battery categories it is
mandatory. The tier split, the mandatory-attribute check and the JSON Schemas are all driven from
this data, so a change of access tier is a one-line edit there.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any, Final, NoReturn

from vocab.errors import CatalogueError
from vocab.models.identity import BatteryCategory
from vocab.paths import Path, parse_path


class Tier(StrEnum):
    """Access tiers of Art 77(2) and Annex XIII.

    Tiers are sets of readers, not levels: authorities may read test reports that persons with a
    legitimate interest may not, and the reverse holds for individual battery data. So tiers cannot
    be compared; whoever decides what a reader sees asks `who_may_see` for each tier. The
    declaration order below is for presentation only.
    """

    PUBLIC = "public"
    LEGITIMATE_INTEREST = "legitimate-interest"
    LEGITIMATE_INTEREST_AND_COMMISSION = "legitimate-interest+commission"
    AUTHORITIES = "authorities"

    def _unordered(self, other: object) -> NoReturn:
        raise TypeError("access tiers are not ordered; compare the readers of each tier instead")

    __lt__ = __le__ = __gt__ = __ge__ = _unordered


# Readers named in Art 77(2). The Commission will specify who has a legitimate interest by
# implementing act (Art 77(9)); until then the verifier's role credentials decide.
EVERYONE: Final = "everyone"
LEGITIMATE_INTEREST: Final = "legitimate-interest"
NOTIFIED_BODY: Final = "notified-body"
MARKET_SURVEILLANCE: Final = "market-surveillance"
COMMISSION: Final = "commission"

_AUTHORITIES = frozenset({NOTIFIED_BODY, MARKET_SURVEILLANCE, COMMISSION})
_READERS: dict[Tier, frozenset[str]] = {
    # Art 77(2)(a): free of charge to the public (Annex XIII point 1).
    Tier.PUBLIC: frozenset({EVERYONE}),
    # Art 77(2)(c): point 4, individual battery data. Art 77(2)(b) does not list point 4 for
    # authorities; giving them access anyway is the verifier's policy, not this table.
    Tier.LEGITIMATE_INTEREST: frozenset({LEGITIMATE_INTEREST}),
    # Art 77(2)(b) and (c): point 2 goes to persons with a legitimate interest and to notified
    # bodies, market surveillance authorities and the Commission.
    Tier.LEGITIMATE_INTEREST_AND_COMMISSION: frozenset({LEGITIMATE_INTEREST}) | _AUTHORITIES,
    # Art 77(2)(b): point 3, test reports, only to notified bodies, MSAs and the Commission.
    Tier.AUTHORITIES: _AUTHORITIES,
}


def who_may_see(tier: Tier) -> frozenset[str]:
    """The readers Art 77(2) gives access to `tier`: a subset of EVERYONE, LEGITIMATE_INTEREST,
    NOTIFIED_BODY, MARKET_SURVEILLANCE and COMMISSION."""
    return _READERS[Tier(tier)]


class Staticity(StrEnum):
    STATIC = "static"
    DYNAMIC = "dynamic"
    STATIC_UPDATED_ON_STATUS_CHANGE = "static-updated-on-status-change"


class Level(StrEnum):
    MODEL = "model"
    ITEM = "item"


class Applicability(StrEnum):
    MANDATORY = "mandatory"
    VOLUNTARY = "voluntary"
    NOT_APPLICABLE = "not-applicable"


@dataclass(frozen=True)
class Attribute:
    number: int
    name: str
    group: str
    paths: tuple[Path, ...]
    type: str
    unit: str | None
    tier: Tier
    staticity: Staticity
    level: Level
    applicability: Mapping[BatteryCategory, Applicability]
    required_at_first_issuance: bool
    regulation: str
    longlist_type: str
    battery_pass: str
    catena_x: str
    note: str | None = None

    def __hash__(self) -> int:
        return hash(self.number)

    def applies_to(self, category: BatteryCategory) -> Applicability:
        return self.applicability[category]

    def required_at_issuance_for(self, category: BatteryCategory) -> bool:
        return (
            self.required_at_first_issuance
            and self.applicability[category] is Applicability.MANDATORY
        )


@dataclass(frozen=True)
class MetadataField:
    """A passport field outside the numbered Annex XIII rows (Art 77(7) links, back-up reference,
    the product's name and model shown at the top of the page) with its tier."""

    path: Path
    name: str
    tier: Tier
    regulation: str


@dataclass(frozen=True)
class Catalogue:
    attributes: tuple[Attribute, ...]
    header: tuple[Path, ...]
    """Fields every tier document repeats so that it stands alone: passport id, version, battery
    identifier."""
    metadata: tuple[MetadataField, ...]

    def attribute(self, number: int) -> Attribute:
        for attribute in self.attributes:
            if attribute.number == number:
                return attribute
        raise KeyError(number)

    def by_tier(self, tier: Tier) -> tuple[Attribute, ...]:
        return tuple(a for a in self.attributes if a.tier is tier)

    def required_at_first_issuance(self, category: BatteryCategory) -> tuple[Attribute, ...]:
        return tuple(a for a in self.attributes if a.required_at_issuance_for(category))

    def tiered_paths(self) -> tuple[tuple[Path, Tier, str], ...]:
        """Every non-header path with its tier and a label naming where it comes from."""
        rows = [(p, a.tier, f"attribute {a.number}") for a in self.attributes for p in a.paths]
        rows += [(m.path, m.tier, f"metadata {m.path}") for m in self.metadata]
        header = {h.text for h in self.header}
        return tuple(r for r in rows if r[0].text not in header)


def _attribute(row: dict[str, Any]) -> Attribute:
    try:
        return Attribute(
            number=row["number"],
            name=row["name"],
            group=row["group"],
            paths=tuple(parse_path(p) for p in row["paths"]),
            type=row["type"],
            unit=row["unit"],
            tier=Tier(row["tier"]),
            staticity=Staticity(row["staticity"]),
            level=Level(row["level"]),
            applicability=MappingProxyType(
                {BatteryCategory(k): Applicability(v) for k, v in row["applicability"].items()}
            ),
            required_at_first_issuance=row["requiredAtFirstIssuance"],
            regulation=row["regulation"],
            longlist_type=row["longlistType"],
            battery_pass=row["batteryPass"],
            catena_x=row["catenaX"],
            note=row.get("note"),
        )
    except (KeyError, ValueError) as exc:
        raise CatalogueError(f"catalogue row {row.get('number')}: {exc}") from None


def _check(catalogue: Catalogue) -> None:
    numbers = [a.number for a in catalogue.attributes]
    if sorted(numbers) != list(range(1, len(numbers) + 1)):
        raise CatalogueError("catalogue rows must be numbered 1..n without gaps or repeats")
    for attribute in catalogue.attributes:
        if set(attribute.applicability) != set(BatteryCategory):
            raise CatalogueError(
                f"attribute {attribute.number}: applicability must name every category"
            )
    rows = catalogue.tiered_paths()
    texts = [p.text for p, _, _ in rows]
    if len(set(texts)) != len(texts):
        raise CatalogueError("a path appears twice in the catalogue")
    # A path nested inside another must share its tier: otherwise one value's tier would depend
    # on which rule a reader happens to apply first.
    for outer, outer_tier, outer_label in rows:
        for inner, inner_tier, inner_label in rows:
            wide_outer, wide_inner = outer.selector_free.steps, inner.selector_free.steps
            nested = (
                len(wide_inner) > len(wide_outer) and wide_inner[: len(wide_outer)] == wide_outer
            )
            if nested and inner_tier is not outer_tier:
                raise CatalogueError(
                    f"{inner_label} ({inner}, {inner_tier}) lies inside "
                    f"{outer_label} ({outer}, {outer_tier})"
                )


def parse_catalogue(data: dict[str, Any]) -> Catalogue:
    catalogue = Catalogue(
        attributes=tuple(_attribute(row) for row in data["attributes"]),
        header=tuple(parse_path(p) for p in data["header"]),
        metadata=tuple(
            MetadataField(parse_path(m["path"]), m["name"], Tier(m["tier"]), m["regulation"])
            for m in data["metadata"]
        ),
    )
    _check(catalogue)
    return catalogue


@cache
def load_catalogue() -> Catalogue:
    """The bundled catalogue, parsed and checked once."""
    text = resources.files("vocab").joinpath("catalogue.json").read_text("utf-8")
    return parse_catalogue(json.loads(text))
