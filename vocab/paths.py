"""The path notation the catalogue uses to say which part of a passport an attribute is.

A path is dot-separated JSON member names, each optionally followed by one element step:

    general.batteryMass                       a member (and everything beneath it)
    labels.testReports[]                      every element of a list
    carbonFootprint.lifecycleStages[stage=distribution]
                                              the elements whose `stage` is "distribution"
    materials.batteryMaterials[component!=battery]
                                              the elements whose `component` is not "battery"
    circularity.recycledContent[material=lead].preConsumerShare
                                              a member of the elements whose `material` is "lead"

Selector values are compared with the element's member as strings; `true` and `false` compare with
JSON booleans. A path covers the value it reaches and everything beneath it, so when several paths
cover one value the most specific wins: more steps, then more selectors.

Concrete locations in a document (as in validation errors) use the same notation with indices:
`carbonFootprint.lifecycleStages[1].value`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from vocab.errors import CatalogueError


@dataclass(frozen=True)
class Key:
    name: str


@dataclass(frozen=True)
class Each:
    pass


@dataclass(frozen=True)
class Where:
    key: str
    value: str | bool
    negate: bool = False

    def matches(self, element: Any) -> bool:
        if not isinstance(element, dict):
            return False
        actual = element.get(self.key)
        if isinstance(self.value, bool):
            equal = isinstance(actual, bool) and actual is self.value
        else:
            equal = isinstance(actual, str) and actual == self.value
        return not equal if self.negate else equal


Step = Key | Each | Where
Location = tuple[str | int, ...]
"""A concrete place in a document: member names and list indices."""

_SEGMENT = re.compile(
    r"(?P<name>[A-Za-z@][A-Za-z0-9_]*)"
    r"(?:\[(?:(?P<key>[A-Za-z][A-Za-z0-9_]*)(?P<op>!?=)(?P<value>[^\]]+))?\])?"
)


@dataclass(frozen=True)
class Path:
    text: str
    steps: tuple[Step, ...]

    @property
    def root(self) -> str:
        """The top-level member name the path starts with."""
        first = self.steps[0]
        assert isinstance(first, Key)  # parse_path always starts with a member name
        return first.name

    @property
    def specificity(self) -> tuple[int, int]:
        return len(self.steps), sum(isinstance(s, Where) for s in self.steps)

    @property
    def selector_free(self) -> Path:
        """The same path with every selector widened to `[]` (the shape, not the instances)."""
        steps = tuple(Each() if isinstance(s, Where) else s for s in self.steps)
        return Path(render_pattern(steps), steps)

    def covers(self, document: Any, location: Location) -> bool:
        """Whether the value at `location` in `document` is at or beneath this path."""
        return len(self.steps) <= len(location) and self._matches(document, location)

    def reaches_below(self, document: Any, location: Location) -> bool:
        """Whether this path leads further down through the value at `location`."""
        return len(self.steps) > len(location) and self._matches(document, location)

    def _matches(self, document: Any, location: Location) -> bool:
        node = document
        for step, part in zip(self.steps, location, strict=False):
            if isinstance(step, Key):
                if part != step.name or not isinstance(node, dict):
                    return False
            else:
                if not isinstance(part, int) or not isinstance(node, list):
                    return False
                if isinstance(step, Where) and not step.matches(node[part]):
                    return False
            node = node[part]
        return True

    def __str__(self) -> str:
        return self.text


def parse_path(text: str) -> Path:
    steps: list[Step] = []
    for segment in text.split("."):
        match = _SEGMENT.fullmatch(segment)
        if not match:
            raise CatalogueError(
                f"bad path {text!r}: segment {segment!r} is not name, name[] or name[key=value]"
            )
        steps.append(Key(match["name"]))
        if segment.endswith("]"):
            if match["key"] is None:
                steps.append(Each())
            else:
                raw = match["value"]
                value: str | bool = {"true": True, "false": False}.get(raw, raw)
                steps.append(Where(match["key"], value, negate=match["op"] == "!="))
    return Path(text, tuple(steps))


def render_pattern(steps: tuple[Step, ...]) -> str:
    out = ""
    for step in steps:
        if isinstance(step, Key):
            out += ("." if out else "") + step.name
        elif isinstance(step, Each):
            out += "[]"
        else:
            value = str(step.value).lower() if isinstance(step.value, bool) else step.value
            out += f"[{step.key}{'!=' if step.negate else '='}{value}]"
    return out


def render_location(location: Location) -> str:
    """`("carbonFootprint", "lifecycleStages", 1, "value")` becomes
    `carbonFootprint.lifecycleStages[1].value`."""
    out = ""
    for part in location:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


def leaves(document: Any, location: Location = ()) -> Iterator[tuple[Location, Any]]:
    """Every scalar, empty object and empty list in `document`, in document order."""
    if isinstance(document, dict) and document:
        for key, value in document.items():
            yield from leaves(value, (*location, key))
    elif isinstance(document, list) and document:
        for index, value in enumerate(document):
            yield from leaves(value, (*location, index))
    else:
        yield location, document


def resolve(document: Any, path: Path) -> list[tuple[Location, Any]]:
    """The values `path` reaches in `document`, with their locations."""
    found: list[tuple[Location, Any]] = [((), document)]
    for step in path.steps:
        following: list[tuple[Location, Any]] = []
        for location, node in found:
            if isinstance(step, Key):
                if isinstance(node, dict) and step.name in node:
                    following.append(((*location, step.name), node[step.name]))
            elif isinstance(node, list):
                following.extend(
                    ((*location, i), element)
                    for i, element in enumerate(node)
                    if isinstance(step, Each) or step.matches(element)
                )
        found = following
    return found


def get(document: Any, location: Location) -> Any:
    node = document
    for part in location:
        node = node[part]
    return node
