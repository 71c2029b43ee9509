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
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from typing import Any, Final

from vocab.catalogue import Catalogue, Tier, load_catalogue
from vocab.context import (
    AUTHORITY_PASSPORT_CREDENTIAL,
    BATTERY_EVENT_CREDENTIAL,
    COMMISSION_PASSPORT_CREDENTIAL,
    LEGITIMATE_INTEREST_PASSPORT_CREDENTIAL,
    PUBLIC_PASSPORT_CREDENTIAL,
)
from vocab.errors import CatalogueError, UnclassifiedField, VocabError
from vocab.models.passport import Passport
from vocab.paths import Location, Path, Where, get, leaves, render_location
from vocab.validation import validate_passport
from vocab.vcdm import as_list

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


def tiers_of_credential(credential: Mapping[str, Any]) -> frozenset[Tier]:
    """The one rule for the tiers a (decoded) credential's data belongs to: a passport tier
    credential's tier, or for a battery event credential (Annex XIII point 4 data, status changes)
    the catalogue's tier of each attribute it carries. Empty when unknown: such a credential is
    released to nobody. The verifier's release (`verifier.access.tiers_of`) and the wallet's
    listing (`wallet.requesting`) both ask this."""
    types = [t for t in as_list(credential.get("type", [])) if isinstance(t, str)]
    for type_name in types:
        tier = tier_of_credential_type(type_name)
        if tier is not None:
            return frozenset({tier})
    if BATTERY_EVENT_CREDENTIAL in types:
        return tiers_of_event(credential.get("credentialSubject"))
    return frozenset()


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


# Memo of `_best` for the default catalogue, keyed by a location's "shape": the location with each
# list index replaced by what Where selectors can see of that element (the values, typed, of the
# selector keys the catalogue uses). Two locations of one shape are covered by exactly the same
# rules, so they get the same answer. Why: classify took ~24% of the CPU per battery in bulk
# issuance (the ev example: 30 ms of ~125 ms; signing the rest) and the same shapes recur in every
# passport; with the memo classify of the ev example takes ~3 ms (bench: `make bench BENCH=issuer`).
# Selector values come from passport data, so the memo is bounded (cleared when full).
_SHAPES: dict[tuple, tuple[Tier, str] | None] = {}
_SHAPES_MAX = 8192
_NOT_SEEN = ("-",)


def _selector_keys(catalogue: Catalogue) -> tuple[str, ...]:
    keys = {s.key for p, _, _ in catalogue.tiered_paths() for s in p.steps if isinstance(s, Where)}
    return tuple(sorted(keys))


def _seen(element: Any, keys: tuple[str, ...]) -> tuple:
    """What a Where step can tell about a list element: its str/bool values of `keys`."""
    if not isinstance(element, dict):
        return _NOT_SEEN
    out = []
    for key in keys:
        value = element.get(key)
        # Where compares strings with strings and booleans by identity; anything else never
        # matches, so all such values are alike.
        out.append(value if isinstance(value, str | bool) else None)
        out.append(type(value) is bool)
    return tuple(out)


def _leaves_and_shapes(
    document: Any, keys: tuple[str, ...], location: Location = (), shape: tuple = ()
) -> Iterator[tuple[Location, Any, tuple]]:
    """`paths.leaves` with each leaf's shape, each list element looked at once."""
    if isinstance(document, dict) and document:
        for key, value in document.items():
            yield from _leaves_and_shapes(value, keys, (*location, key), (*shape, key))
    elif isinstance(document, list) and document:
        for index, value in enumerate(document):
            seen = ("[]", _seen(value, keys))
            yield from _leaves_and_shapes(value, keys, (*location, index), (*shape, seen))
    else:
        yield location, document, shape


@cache
def _default_rules() -> tuple[dict[str, list[tuple[Path, Tier, str]]], frozenset[str], tuple]:
    catalogue = load_catalogue()
    return (
        _rules_by_part(catalogue),
        frozenset(h.text for h in catalogue.header),
        _selector_keys(catalogue),
    )


def _rules_by_part(catalogue: Catalogue) -> dict[str, list[tuple[Path, Tier, str]]]:
    # Every path starts with a member name; only paths starting at a leaf's top-level member can
    # cover it, which cuts the search roughly by the number of passport parts.
    rules_by_part: dict[str, list[tuple[Path, Tier, str]]] = {}
    for rule in catalogue.tiered_paths():
        rules_by_part.setdefault(rule[0].root, []).append(rule)
    return rules_by_part


def classify(
    document: Mapping[str, Any], catalogue: Catalogue | None = None
) -> dict[Location, frozenset[Tier]]:
    """The tier of every moving unit (see the module docstring) of a passport's JSON data, header
    fields excluded. Raises `UnclassifiedField` for data no catalogue path covers.

    Each unit has exactly one tier, except an empty list or object that no path covers but paths
    lead through: it goes to every tier those paths have, which carries no data to anyone and lets
    a merge restore it.
    """
    memo = catalogue is None or catalogue is load_catalogue()
    if memo:
        rules_by_part, header, keys = _default_rules()
        walk: Iterable[tuple[Location, Any, tuple | None]] = _leaves_and_shapes(document, keys)
    else:
        assert catalogue is not None
        rules_by_part = _rules_by_part(catalogue)
        header = frozenset(h.text for h in catalogue.header)
        walk = ((location, value, None) for location, value in leaves(document))
    units: dict[Location, set[Tier]] = {}
    first_leaf: dict[Location, Location] = {}
    for location, value, shape in walk:
        if location[0] in header:
            continue
        unit = _unit(location)
        first_leaf.setdefault(unit, location)
        tiers = units.setdefault(unit, set())
        rules = rules_by_part.get(str(location[0]), [])
        if shape is None:
            found = _best(rules, document, location)
        elif shape in _SHAPES:
            found = _SHAPES[shape]
        else:
            found = _best(rules, document, location)
            if len(_SHAPES) >= _SHAPES_MAX:
                _SHAPES.clear()
            _SHAPES[shape] = found
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
        value = get(document, unit)
        for tier in tiers:
            target = out.setdefault(tier, {**header, ACCESS_TIER_FIELD: tier.value})
            # `document` is this call's own (to_json builds it), so a unit of one tier moves
            # as it is; only one placed in several tiers (an empty list or object) is copied,
            # so no two tier documents share a node. The deep copy of every unit was ~7% of a
            # bulk passport's prepare (cProfile, ev example, issue 15).
            _place(target, unit, copy.deepcopy(value) if len(tiers) > 1 else value)
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


def event_document(subject: Mapping[str, Any]) -> dict[str, Any]:
    """The passport data an event subject (BatteryEventCredential) carries, placed where the
    passport keeps it: `batteryStatus` under `lifecycle` (with `occurredAt` as `lastUpdate`),
    `condition` under `performance.condition`."""
    out: dict[str, Any] = {}
    status = subject.get("batteryStatus")
    if status is not None:
        out["lifecycle"] = {"batteryStatus": status}
        if subject.get("occurredAt") is not None:
            out["lifecycle"]["lastUpdate"] = subject["occurredAt"]
    condition = subject.get("condition")
    if isinstance(condition, Mapping) and condition:
        out["performance"] = {"condition": copy.deepcopy(dict(condition))}
    return out


def tiers_of_event(subject: Any, catalogue: Catalogue | None = None) -> frozenset[Tier]:
    """The access tiers of the data an event subject carries, from the catalogue's tier of each
    attribute (battery status: row 11; condition readings: rows 53-93). A reader may have the
    event credential only when it may see every one of them. Empty when the subject carries no
    classifiable data (such a credential is released to nobody)."""
    if not isinstance(subject, Mapping):
        return frozenset()
    document = event_document(subject)
    if not document:
        return frozenset()
    try:
        found = classify(document, catalogue)
    except VocabError:
        return frozenset()
    return frozenset(tier for tiers in found.values() for tier in tiers)
