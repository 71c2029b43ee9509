"""Splitting a passport into one document per access tier, and merging tier documents back.

Which tier a value belongs to comes from the catalogue alone: each value goes to the tier of the
most specific catalogue path covering it. The unit that moves is a value outside lists, or a whole
element of a list: JSON-LD turns each list element into its own node, and a node split over two
credentials would become two unrelated nodes. So a list may mix public and restricted elements
(`materials.batteryMaterials`), but one element never spans tiers; objects outside lists may mix
tiers field by field (`circularity.safetyMeasures`).

Every tier document repeats the catalogue's header fields (passport id, passport version, battery
identifier) and names its tier in `accessTier`, so each one stands alone as a credential subject.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any, Final

from vocab.catalogue import Catalogue, Tier, load_catalogue
from vocab.context import (
    AUTHORITY_PASSPORT_CREDENTIAL,
    COMMISSION_PASSPORT_CREDENTIAL,
    LEGITIMATE_INTEREST_PASSPORT_CREDENTIAL,
    PUBLIC_PASSPORT_CREDENTIAL,
)
from vocab.errors import CatalogueError, UnclassifiedField, VocabError
from vocab.models.passport import Passport
from vocab.paths import Location, Path, get, leaves, render_location
from vocab.validation import validate_passport

ACCESS_TIER_FIELD: Final = "accessTier"

_CREDENTIAL_TYPES: Final = {
    Tier.PUBLIC: PUBLIC_PASSPORT_CREDENTIAL,
    Tier.LEGITIMATE_INTEREST: LEGITIMATE_INTEREST_PASSPORT_CREDENTIAL,
    Tier.LEGITIMATE_INTEREST_AND_COMMISSION: COMMISSION_PASSPORT_CREDENTIAL,
    Tier.AUTHORITIES: AUTHORITY_PASSPORT_CREDENTIAL,
}


class TierMismatch(VocabError):
    """Tier documents that do not belong to the same passport version cannot be merged."""

    status = 409
    code = "tier-mismatch"


def credential_type(tier: Tier) -> str:
    """The credential type that carries `tier`'s document."""
    return _CREDENTIAL_TYPES[Tier(tier)]


def tier_of_credential_type(type_name: str) -> Tier | None:
    for tier, name in _CREDENTIAL_TYPES.items():
        if name == type_name:
            return tier
    return None


def _unit(location: Location) -> Location:
    """What moves as one piece: up to the first list index, or the whole location."""
    for i, part in enumerate(location):
        if isinstance(part, int):
            return location[: i + 1]
    return location


def _best(
    rules: Iterable[tuple[Path, Tier, str]], document: Any, location: Location
) -> tuple[Tier, str] | None:
    covering = [r for r in rules if r[0].covers(document, location)]
    if not covering:
        return None
    top = max(r[0].specificity for r in covering)
    best = [r for r in covering if r[0].specificity == top]
    if len({(tier, label) for _, tier, label in best}) > 1:
        raise CatalogueError(
            f"{render_location(location)} is covered equally by "
            + ", ".join(f"{label} ({path})" for path, _, label in best)
        )
    return best[0][1], best[0][2]


def classify(
    document: Mapping[str, Any], catalogue: Catalogue | None = None
) -> dict[Location, frozenset[Tier]]:
    """The tier of every moving unit (see the module docstring) of a passport's JSON data, header
    fields excluded. Raises `UnclassifiedField` for data no catalogue path covers.

    Each unit has exactly one tier, except an empty list or object that no path covers but paths
    lead through: it goes to every tier those paths have, which carries no data to anyone and lets
    a merge restore it.
    """
    catalogue = catalogue or load_catalogue()
    # Every path starts with a member name; only paths starting at a leaf's top-level member can
    # cover it, which cuts the search roughly by the number of passport parts.
    rules_by_part: dict[str, list[tuple[Path, Tier, str]]] = {}
    for rule in catalogue.tiered_paths():
        rules_by_part.setdefault(rule[0].root, []).append(rule)
    header = {h.text for h in catalogue.header}
    units: dict[Location, set[Tier]] = {}
    first_leaf: dict[Location, Location] = {}
    for location, value in leaves(document):
        if location[0] in header:
            continue
        unit = _unit(location)
        first_leaf.setdefault(unit, location)
        tiers = units.setdefault(unit, set())
        rules = rules_by_part.get(str(location[0]), [])
        found = _best(rules, document, location)
        if found is not None:
            tiers.add(found[0])
        elif unit == location and value in ([], {}):
            tiers.update(tier for path, tier, _ in rules if path.reaches_below(document, location))
            if not tiers:
                raise UnclassifiedField(render_location(location))
        elif unit == location:
            raise UnclassifiedField(render_location(location))
    out: dict[Location, frozenset[Tier]] = {}
    for unit, tiers in units.items():
        if not tiers:
            raise UnclassifiedField(render_location(first_leaf[unit]))
        if len(tiers) > 1 and get(document, unit) not in ([], {}):
            raise CatalogueError(
                f"list element {render_location(unit)} holds data of several tiers "
                f"({', '.join(sorted(t.value for t in tiers))}); a list element must stay whole"
            )
        out[unit] = frozenset(tiers)
    return out


def _place(target: dict[str, Any], unit: Location, value: Any) -> None:
    node: Any = target
    keys = unit[:-1]
    last = unit[-1]
    for i, key in enumerate(keys):
        following = unit[i + 1]
        node = node.setdefault(key, [] if isinstance(following, int) else {})
    if isinstance(last, int):
        node.append(value)
    else:
        node[last] = value


def split_by_tier(passport: Passport | Mapping[str, Any]) -> dict[Tier, dict[str, Any]]:
    """One document per tier that has data, each with the header fields and `accessTier`.

    A mapping is validated first (`PassportInvalid` if it breaks a rule). Tiers without any
    field are left out.
    """
    if not isinstance(passport, Passport):
        passport = validate_passport(dict(passport))
    catalogue = load_catalogue()
    document = passport.to_json()
    header = {h.text: document[h.text] for h in catalogue.header if h.text in document}
    out: dict[Tier, dict[str, Any]] = {}
    for unit, tiers in classify(document, catalogue).items():
        for tier in tiers:
            target = out.setdefault(tier, {**header, ACCESS_TIER_FIELD: tier.value})
            _place(target, unit, copy.deepcopy(get(document, unit)))
    return {tier: out[tier] for tier in Tier if tier in out}


def _merge_into(target: dict[str, Any], source: Mapping[str, Any], where: str) -> None:
    for key, value in source.items():
        if key not in target:
            target[key] = value
        elif isinstance(target[key], dict) and isinstance(value, dict):
            _merge_into(target[key], value, f"{where}.{key}" if where else key)
        elif isinstance(target[key], list) and isinstance(value, list):
            target[key] = target[key] + value
        elif target[key] != value:
            raise TierMismatch(f"tier documents disagree on {where + '.' if where else ''}{key}")


def merge_tiers(documents: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Combine tier documents of one passport version into one passport document.

    Lists are joined (JSON-LD lists are unordered, so element order across tiers is not kept);
    header fields must agree, otherwise `TierMismatch`.
    """
    merged: dict[str, Any] = {}
    for document in documents:
        body = {k: copy.deepcopy(v) for k, v in document.items() if k != ACCESS_TIER_FIELD}
        _merge_into(merged, body, "")
    return merged
