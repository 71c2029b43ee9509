"""Building a passport document from resolved (path, value) pairs, and splitting what the
passport service takes as a passport (static data, plus the first battery status) from what it
takes as event credentials (the condition readings of Annex XIII point 4).
"""

from __future__ import annotations

import copy
import hashlib
import uuid
from collections.abc import Iterable
from typing import Any

import orjson

from vocab.paths import Key, Where, parse_path

# A stable namespace for the placeholder passport ids conformance checks use before the service
# assigns real ones.
_PLACEHOLDER_NS = uuid.UUID("6f1c2d0e-8a63-4f0b-9d55-4c1e0c3b7a21")


def set_path(document: dict[str, Any], path: str, value: Any) -> None:
    """Put `value` at `path` (catalogue notation) into `document`, creating what is missing. A
    path ending in a selector (`lifecycleStages[stage=distribution]`) takes one element or a list
    of elements and replaces the elements the selector matches."""
    steps = parse_path(path).steps
    node: Any = document
    for index, step in enumerate(steps):
        last = index == len(steps) - 1
        if isinstance(step, Key):
            if last:
                node[step.name] = copy.deepcopy(value)
                return
            following = steps[index + 1]
            default: Any = [] if not isinstance(following, Key) else {}
            node = node.setdefault(step.name, default)
            continue
        if not isinstance(step, Where):  # `[]`: whole lists are set through their member name
            raise ValueError(f"cannot set {path!r}: a path with [] names many places")
        if last:
            elements = value if isinstance(value, list) else [value]
            node[:] = [e for e in node if not step.matches(e)] + copy.deepcopy(elements)
            return
        match = next((e for e in node if step.matches(e)), None)
        if match is None:
            if step.negate:
                raise ValueError(f"cannot create an element for {path!r}")
            match = {step.key: step.value}
            node.append(match)
        node = match


def build(values: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """A document from (path, value) pairs, applied in path order so the result never depends on
    the order the engine returned them in."""
    document: dict[str, Any] = {}
    for path, value in sorted(values, key=lambda pv: pv[0]):
        set_path(document, path, value)
    return document


def split(document: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(passport, condition): the condition readings leave the passport; they go to the service
    as a condition-update event after the passport exists."""
    passport = copy.deepcopy(document)
    condition = None
    performance = passport.get("performance")
    if isinstance(performance, dict) and "condition" in performance:
        condition = performance.pop("condition")
        if not performance:
            passport.pop("performance")
    return passport, condition


def content_hash(value: Any) -> str:
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()


def with_placeholders(passport: dict[str, Any], gtin: str, serial: str, batch: str) -> dict:
    """The passport with the header fields the service fills in (id, version, identifier), so
    that the vocabulary's full check can run before issuance."""
    out = dict(passport)
    out["passportId"] = f"urn:uuid:{uuid.uuid5(_PLACEHOLDER_NS, f'{gtin}/{serial}')}"
    out["passportVersion"] = 1
    lot = f"/10/{batch}" if batch else ""
    out["batteryIdentifier"] = f"https://pipeline.invalid/01/{gtin}{lot}/21/{serial}"
    return out
