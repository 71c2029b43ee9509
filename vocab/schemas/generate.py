"""Generating the tier credential JSON Schemas from the passport model and the catalogue.

The passport model's JSON Schema (draft 2020-12, from pydantic) is cut down per tier: a property
stays in a tier's schema when some catalogue path of that tier reaches it or lies beneath it. It
is required there when it is a header field, or when the full model requires it and only that
tier has data beneath it. List elements move between tiers whole, so their schema is kept whole;
where the catalogue splits one list by selector (batteryMaterials), each tier's schema restricts
the list's elements to its own selector values.

Cross-field rules (stage sum, mandatory attributes per category) are not expressible here and
stay with `vocab.validation`.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from vocab.catalogue import Catalogue, Tier, load_catalogue
from vocab.context import BATTERY_CONTEXT_URL, BATTERY_PASSPORT_CREDENTIAL, VC_CONTEXT_URL
from vocab.models.passport import Passport
from vocab.paths import Each, Key, Step, Where
from vocab.schemas import schema_file_name
from vocab.tiers import ACCESS_TIER_FIELD, credential_type

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_DEF_MARK = "x-dbp-def"


class _Generator(GenerateJsonSchema):
    """pydantic's generator, minus what the passport JSON never contains."""

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        # Optional fields are omitted, never null.
        return self.generate_inner(schema["schema"])

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        return self.generate_inner(schema["schema"])

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def passport_schema() -> dict[str, Any]:
    """The whole passport's JSON Schema, `$defs` and all."""
    return Passport.model_json_schema(schema_generator=_Generator)


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            name = node["$ref"].removeprefix("#/$defs/")
            inlined = _inline(defs[name], defs)
            return {**inlined, _DEF_MARK: name}
        return {k: _inline(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


def _strip_marks(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_marks(v) for k, v in node.items() if k != _DEF_MARK}
    if isinstance(node, list):
        return [_strip_marks(v) for v in node]
    return node


class _TierView:
    """Which catalogue paths of which tier pass through a place in the schema."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.rules = [(path.steps, tier) for path, tier, _ in catalogue.tiered_paths()]
        self.header = {h.text for h in catalogue.header}

    @staticmethod
    def _step_fits(rule_step: Step, place_step: Step) -> bool:
        if isinstance(rule_step, Key):
            return isinstance(place_step, Key) and place_step.name == rule_step.name
        return isinstance(place_step, Each)

    def _fits(self, rule: tuple[Step, ...], place: tuple[Step, ...]) -> bool:
        return all(self._step_fits(r, p) for r, p in zip(rule, place, strict=False))

    def tiers(self, place: tuple[Step, ...]) -> set[Tier]:
        """Tiers with data at, above or beneath `place`."""
        return {tier for rule, tier in self.rules if self._fits(rule, place)}

    def selectors(self, place: tuple[Step, ...], tier: Tier) -> list[Where] | None:
        """The element selectors `tier` uses on the list at `place`, when the list is split
        between tiers by selector; None when elements need no restriction."""
        depth = len(place)
        steps = [
            (rule[depth], t)
            for rule, t in self.rules
            if len(rule) > depth and self._fits(rule[:depth], place)
        ]
        if len({t for _, t in steps}) < 2:
            return None
        own = [s for s, t in steps if t is tier]
        if not own or not all(isinstance(s, Where) for s in own):
            return None
        return own  # type: ignore[return-value]


def _where_schema(where: Where) -> dict[str, Any]:
    const = {"const": where.value}
    if where.negate:
        return {"properties": {where.key: {"not": const}}}
    return {"properties": {where.key: const}, "required": [where.key]}


def _prune(
    node: dict[str, Any], place: tuple[Step, ...], tier: Tier, view: _TierView
) -> dict[str, Any]:
    node = dict(node)
    if "properties" in node:
        kept: dict[str, Any] = {}
        for name, child in node["properties"].items():
            child_place = (*place, Key(name))
            if not place and name in view.header:
                kept[name] = child
            elif tier in view.tiers(child_place):
                kept[name] = _prune(child, child_place, tier, view)
        required = [
            name
            for name in node.get("required", [])
            if name in kept
            and ((not place and name in view.header) or view.tiers((*place, Key(name))) == {tier})
        ]
        node["properties"] = kept
        if required:
            node["required"] = required
        else:
            node.pop("required", None)
    if node.get("type") == "array" and "items" in node:
        # List elements move between tiers whole (vocab.tiers), so their schema stays whole.
        items = node["items"]
        selectors = view.selectors(place, tier)
        if selectors:
            items = {**items, "anyOf": [_where_schema(w) for w in selectors]}
        node["items"] = items
    for key in ("anyOf", "oneOf", "allOf"):
        if key in node and "properties" not in node:
            node[key] = [_prune(branch, place, tier, view) for branch in node[key]]
    return node


def _reref(node: Any, originals: dict[str, Any], used: dict[str, Any]) -> Any:
    """Put `$ref`s back wherever a pruned subtree still equals its whole definition."""
    if isinstance(node, dict):
        name = node.get(_DEF_MARK)
        if name is not None and _strip_marks(node) == originals[name]:
            if name not in used:
                used[name] = None  # reserve first, so recursion keeps insertion order sane
                body = {k: v for k, v in node.items() if k != _DEF_MARK}
                used[name] = {k: _reref(v, originals, used) for k, v in body.items()}
            return {"$ref": f"#/$defs/{name}"}
        return {k: _reref(v, originals, used) for k, v in node.items() if k != _DEF_MARK}
    if isinstance(node, list):
        return [_reref(v, originals, used) for v in node]
    return node


def tier_credential_schema(tier: Tier, schema_id: str) -> dict[str, Any]:
    catalogue = load_catalogue()
    full = passport_schema()
    defs = full.pop("$defs")
    originals = {name: _strip_marks(_inline(d, defs)) for name, d in defs.items()}
    subject = _prune(_inline(full, defs), (), tier, _TierView(catalogue))
    subject.pop("title", None)
    subject["description"] = (
        f"The {tier.value} part of an Annex XIII battery passport: the passport's header fields "
        f"plus the attributes the dbp catalogue assigns to this tier."
    )
    properties = {
        "id": {
            "type": "string",
            "format": "iri",
            "description": "Optional: the battery identifier.",
        },
        **subject["properties"],
        ACCESS_TIER_FIELD: {"const": tier.value},
    }
    subject["properties"] = properties
    subject["required"] = [*subject.get("required", []), ACCESS_TIER_FIELD]
    used: dict[str, Any] = {}
    subject = _reref(subject, originals, used)
    type_name = credential_type(tier)
    schema: dict[str, Any] = {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": schema_id,
        "title": type_name,
        "description": (
            f"A {type_name}: a VC 2.0 credential whose subject is the {tier.value} tier of a "
            "battery passport (Regulation (EU) 2023/1542, Annex XIII)."
        ),
        "type": "object",
        "required": ["@context", "type", "issuer", "credentialSubject"],
        "properties": {
            "@context": {
                "type": "array",
                "prefixItems": [{"const": VC_CONTEXT_URL}],
                "contains": {"const": BATTERY_CONTEXT_URL},
                "items": {"type": ["string", "object"]},
            },
            "type": {
                "type": "array",
                "items": {"type": "string"},
                "allOf": [
                    {"contains": {"const": "VerifiableCredential"}},
                    {"contains": {"const": BATTERY_PASSPORT_CREDENTIAL}},
                    {"contains": {"const": type_name}},
                ],
            },
            "credentialSubject": subject,
        },
        "$defs": dict(sorted(used.items())),
    }
    return schema


def render(schema: dict[str, Any]) -> bytes:
    """The byte form committed under vocab/schemas/ (stable, so the files can be compared)."""
    return (json.dumps(schema, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def generate(base_url: str) -> dict[str, bytes]:
    """File name -> file content for every tier credential schema."""
    out = {}
    for tier in Tier:
        name = schema_file_name(tier)
        out[name] = render(tier_credential_schema(tier, f"{base_url}/{name}"))
    return out
