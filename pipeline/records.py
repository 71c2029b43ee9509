"""From source records to facts: keys checked as GS1 keys, fields mapped to passport paths or
calculation inputs, units converted to the catalogue's, every value checked against the
vocabulary. A record that breaks a rule yields no facts at all: it goes to the quarantine with the
field, the path it was meant for and the rule (one entry per broken rule), never silently dropped.

A fact is one value for one passport path of one entity (a battery model = GTIN, a batch = GTIN +
lot, an item = GTIN + serial); an input is one number for a regulatory calculation. Both carry a
`fact_id` that points back to where they came from (source, staged object, row, field): that is
what lineage answers with.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from pipeline import units
from pipeline.calculations import INPUTS
from pipeline.config import FieldMap, Source, attribute_for
from pipeline.formats import member
from vocab.catalogue import Attribute, load_catalogue
from vocab.datetimes import InvalidDateTime, format_datetime, parse_datetime
from vocab.gs1 import InvalidGs1Key, check_cset82, normalise_gtin
from vocab.models.common import Url, YearMonth, YearsMonthsDuration
from vocab.models.identity import BatteryCategory
from vocab.models.status import BatteryStatus
from vocab.paths import Each, Location, Where, leaves, resolve
from vocab.validation import translate_errors


def canonical_json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


@dataclass(frozen=True)
class Origin:
    """Where a fact came from."""

    source: str
    object_key: str
    row: int
    field: str
    ts: str


@dataclass
class Problem:
    field: str
    path: str | None
    rule: str
    message: str


@dataclass
class Batch:
    """What the records of one source object became."""

    facts: list[tuple] = field(default_factory=list)
    inputs: list[tuple] = field(default_factory=list)
    registrations: list[tuple] = field(default_factory=list)
    quarantined: list[tuple[int, dict[str, Any], list[Problem]]] = field(default_factory=list)
    records: int = 0


class Facts:
    """Everything a run read, as rows for the engine, and the origins for lineage."""

    FACT_COLUMNS = ("fact_id", "source", "priority", "ts", "level", "gtin", "batch", "serial",
                    "path", "value")  # fmt: skip
    INPUT_COLUMNS = ("fact_id", "source", "level", "gtin", "batch", "serial", "name",
                     "qualifier", "num", "ts")  # fmt: skip
    REGISTRATION_COLUMNS = ("fact_id", "source", "priority", "ts", "gtin", "serial", "batch")

    def __init__(self) -> None:
        self.origins: list[Origin] = []
        self.facts: list[tuple] = []
        self.inputs: list[tuple] = []
        self.registrations: list[tuple] = []

    def origin(self, origin: Origin) -> int:
        self.origins.append(origin)
        return len(self.origins) - 1


class RecordRejected(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems[0].message)
        self.problems = problems


# --- value checks by catalogue type --------------------------------------------------------------

_ADAPTERS = {
    "url": TypeAdapter(Url),
    "year-month": TypeAdapter(YearMonth),
    "duration": TypeAdapter(YearsMonthsDuration),
}
_ENUMS = {
    "general.batteryCategory": [c.value for c in BatteryCategory],
    "lifecycle.batteryStatus": [s.value for s in BatteryStatus],
}
# Quantities that may be negative (temperatures); every other quantity is non-negative.
_SIGNED_UNITS = {"degC"}


def _number(value: Any, fieldname: str, path: str | None) -> float:
    if isinstance(value, bool):
        raise RecordRejected([Problem(fieldname, path, "type", f"{value!r} is not a number")])
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip().replace(",", "."))
        except ValueError:
            raise RecordRejected(
                [Problem(fieldname, path, "type", f"{value!r} is not a number")]
            ) from None
    else:
        raise RecordRejected([Problem(fieldname, path, "type", f"{value!r} is not a number")])
    if not math.isfinite(number):
        raise RecordRejected(
            [Problem(fieldname, path, "finite-number", f"{value!r} is not finite")]
        )
    return number


def _convert(number: float, unit: str | None, target: str | None, fieldname: str, path: str | None):
    if unit is None or target is None or units.canonical(unit) == target:
        return number
    if not units.convertible(unit, target):
        raise RecordRejected(
            [Problem(fieldname, path, "unit", f"unit {unit!r} does not convert to {target!r}")]
        )
    return units.convert(number, unit, target)


def _range(number: float, unit: str | None, kind: str, fieldname: str, path: str | None) -> None:
    if kind in ("percent",) or unit == "%":
        if number < 0:
            raise RecordRejected([Problem(fieldname, path, "minimum", f"{number} is below 0 %")])
        if number > 100:
            raise RecordRejected([Problem(fieldname, path, "maximum", f"{number} is above 100 %")])
    elif unit not in _SIGNED_UNITS and number < 0:
        raise RecordRejected(
            [Problem(fieldname, path, "non-negative", f"must not be negative, got {number}")]
        )


@dataclass(frozen=True)
class Target:
    """A compiled FieldMap: the attribute it lands in and the shape of the value."""

    path: str
    attribute: Attribute | None
    exact: bool
    shape: str
    unit: str | None


@cache
def compile_path(path: str, shape: str | None) -> Target:
    found = attribute_for(path)
    attribute, apath = found if found else (None, None)
    exact = apath is not None and apath.text == path
    if shape is None:
        if exact and attribute is not None:
            shape = {"quantity": "quantity", "reading": "reading"}.get(attribute.type, "plain")
        else:
            shape = "plain"
    unit = attribute.unit if attribute is not None and attribute.unit else None
    return Target(path, attribute, exact, shape, unit)


def value_for(target: Target, raw: Any, unit: str | None, ts: str, fieldname: str) -> Any:
    """The passport value a source value becomes at `target` (raises RecordRejected)."""
    path = target.path
    attribute = target.attribute
    kind = attribute.type if (attribute is not None and target.exact) else None
    if target.shape in ("quantity", "reading") or kind in ("percent", "number", "integer"):
        number = _number(raw, fieldname, path)
        number = _convert(number, unit, target.unit, fieldname, path)
        _range(number, target.unit, kind or "", fieldname, path)
        if kind == "integer" or (kind == "reading" and target.unit is None):
            if number != int(number):
                raise RecordRejected(
                    [Problem(fieldname, path, "integer", f"{number} is not a whole number")]
                )
            number = int(number)
        if target.shape == "quantity":
            return {"value": number, "unit": target.unit}
        if target.shape == "reading":
            if not ts:
                raise RecordRejected(
                    [Problem(fieldname, path, "required", "a reading needs the record's timestamp")]
                )
            out: dict[str, Any] = {"value": number}
            if target.unit and target.unit != "%":
                out["unit"] = target.unit
            out["lastUpdate"] = ts
            return out
        return number
    if kind in _ADAPTERS:
        try:
            return _ADAPTERS[kind].validate_python(str(raw) if isinstance(raw, int) else raw)
        except ValidationError as exc:
            error = translate_errors(exc)[0]
            raise RecordRejected(
                [Problem(fieldname, path, error["rule"], error["message"])]
            ) from None
    if path in _ENUMS or (kind == "enum" and path in _ENUMS):
        if raw not in _ENUMS[path]:
            raise RecordRejected(
                [
                    Problem(
                        fieldname,
                        path,
                        "allowed-values",
                        f"{raw!r} is not one of {', '.join(_ENUMS[path])}",
                    )
                ]  # fmt: skip
            )
        return raw
    if isinstance(raw, str):
        text = raw.strip()
        if text.startswith(("{", "[")):
            try:
                return orjson.loads(text)
            except orjson.JSONDecodeError:
                pass
        if not text:
            raise RecordRejected([Problem(fieldname, path, "non-empty", "is empty")])
        return text
    return raw


# --- fragments -----------------------------------------------------------------------------------


@cache
def _fragment_paths():
    catalogue = load_catalogue()
    header = {h.text for h in catalogue.header}
    paths = [
        p
        for a in catalogue.attributes
        for p in a.paths
        if p.text not in header and not any(isinstance(s, Each) for s in p.steps)
    ]
    return tuple(sorted(paths, key=lambda p: p.specificity, reverse=True))


@cache
def _selector_keys() -> tuple[str, ...]:
    keys = {s.key for p in _fragment_paths() for s in p.steps if isinstance(s, Where)}
    return tuple(sorted(keys))


def flatten_fragment(fragment: dict[str, Any]) -> list[tuple[str, Any]]:
    """A passport fragment as (path, value) facts at the granularity of catalogue attributes: a
    path ending in a selector gets the list of matching elements. Content no attribute path
    covers (a CE marking symbol) keeps a path of its own, by the element's selector key."""
    out: list[tuple[str, Any]] = []
    covered: set[Location] = set()
    for path in _fragment_paths():
        found = resolve(fragment, path)
        if not found:
            continue
        if isinstance(path.steps[-1], Where):
            out.append((path.text, [v for _, v in found]))
        else:
            out.append((path.text, found[0][1]))
        for location, value in found:
            for sub, _ in leaves(value, location):
                covered.add(sub)
    rest: dict[str, list[Any]] = {}
    for location, _value in leaves(fragment):
        if location in covered or location in ("passportId", "passportVersion"):
            continue
        if location and location[0] in ("passportId", "passportVersion", "batteryIdentifier"):
            continue
        text, node, parts = "", fragment, []
        element = None
        for part in location:
            if isinstance(part, int):
                element = node[part]
                key = next((k for k in _selector_keys() if isinstance(element, dict)
                            and isinstance(element.get(k), str)), None)  # fmt: skip
                if key is None:
                    break
                parts.append(f"[{key}={element[key]}]")
                break
            parts.append(("." if parts else "") + part)
            node = node[part]
        text = "".join(parts)
        if text.endswith("]"):
            rest.setdefault(text, [])
            if element not in rest[text]:
                rest[text].append(element)
        else:
            out.append((text, node))
    out.extend((k, v) for k, v in rest.items())
    seen: dict[str, Any] = {}
    for path, value in out:
        seen.setdefault(path, value)
    return list(seen.items())


# --- one record ---------------------------------------------------------------------------------


def _keys(source: Source, record: dict[str, Any]) -> dict[str, str]:
    out = {}
    problems = []
    for key, fieldname in source.keys.items():
        raw = member(record, fieldname)
        if raw is None or raw == "":
            problems.append(Problem(fieldname, None, "required", f"the {key} key is missing"))
            continue
        text = str(raw).strip() if not isinstance(raw, str) else raw
        try:
            out[key] = normalise_gtin(text) if key == "gtin" else check_cset82(key, text)
        except InvalidGs1Key as exc:
            problems.append(Problem(fieldname, None, "gs1-key", str(exc)))
    if problems:
        raise RecordRejected(problems)
    return out


def _timestamp(source: Source, record: dict[str, Any]) -> str:
    if not source.timestamp:
        return ""
    raw = member(record, source.timestamp)
    if raw is None or raw == "":
        return ""
    try:
        return format_datetime(parse_datetime(str(raw), require_timezone=False))
    except InvalidDateTime as exc:
        raise RecordRejected([Problem(source.timestamp, None, "date-time", str(exc))]) from None


def map_record(
    source: Source, record: dict[str, Any], overrides: set[str] = frozenset()
) -> tuple[dict[str, str], str, list[tuple[str, Any, str]], list[tuple[str, str, float, str]]]:
    """(keys, timestamp, [(path, value, field)], [(input, qualifier, number, field)]) of a record,
    or RecordRejected with every broken rule. `overrides` are fields an operator accepted as they
    are (`dbp pipeline quarantine retry --override`): their checks are skipped."""
    if not isinstance(record, dict):
        raise RecordRejected([Problem("", None, "type", "a record is a JSON object")])
    problems: list[Problem] = []
    keys: dict[str, str] = {}
    ts = ""
    for step in (lambda: _keys(source, record), lambda: _timestamp(source, record)):
        try:
            result = step()
        except RecordRejected as exc:
            problems.extend(exc.problems)
            continue
        if isinstance(result, dict):
            keys = result
        else:
            ts = result
    values: list[tuple[str, Any, str]] = []
    numbers: list[tuple[str, str, float, str]] = []
    for fieldname, fmap in source.fields.items():
        raw = member(record, fieldname)
        if raw is None or raw == "":
            continue
        try:
            _map_field(fmap, fieldname, raw, record, ts, values, numbers, fieldname in overrides)
        except RecordRejected as exc:
            problems.extend(exc.problems)
    if problems:
        unique = {(p.field, p.rule): p for p in problems}
        raise RecordRejected(list(unique.values()))
    return keys, ts, values, numbers


def _map_field(
    fmap: FieldMap,
    fieldname: str,
    raw: Any,
    record: dict[str, Any],
    ts: str,
    values: list,
    numbers: list,
    overridden: bool,
) -> None:
    unit = fmap.unit
    unit_from_record = False
    if fmap.unit_field:
        record_unit = member(record, fmap.unit_field)
        if record_unit not in (None, ""):
            unit, unit_from_record = str(record_unit), True
            if not units.known(unit) and not overridden:
                raise RecordRejected(
                    [
                        Problem(
                            fmap.unit_field,
                            fmap.path or fmap.input,
                            "unit",
                            f"unknown unit {unit!r}",
                        )
                    ]  # fmt: skip
                )
    if fmap.fragment:
        if not isinstance(raw, dict):
            raise RecordRejected([Problem(fieldname, None, "type", "a fragment is a JSON object")])
        values.extend((path, value, fieldname) for path, value in flatten_fragment(raw))
        return
    if fmap.path is not None:
        target = compile_path(fmap.path, fmap.shape)
        if overridden:
            values.append((fmap.path, raw, fieldname))
            return
        try:
            value = value_for(target, raw, unit, ts, fieldname)
        except RecordRejected as exc:
            if unit_from_record:
                for p in exc.problems:
                    if p.rule == "unit":
                        p.field = fmap.unit_field or p.field
            raise
        values.append((fmap.path, value, fieldname))
        return
    spec = INPUTS[fmap.input]  # type: ignore[index]
    qualifier = ""
    if fmap.qualifier:
        # "=cell": a constant qualifier (the column itself says what it is about)
        q = fmap.qualifier[1:] if fmap.qualifier.startswith("=") else member(record, fmap.qualifier)
        qualifier = str(q).strip() if q is not None else ""
        if spec.qualifiers is None:  # free names (materials): one spelling for "Nickel", "nickel"
            qualifier = qualifier.lower()
        if spec.qualifiers is not None and qualifier not in spec.qualifiers and not overridden:
            raise RecordRejected(
                [
                    Problem(
                        fmap.qualifier,
                        fmap.input,
                        "allowed-values",
                        f"{q!r} is not one of {', '.join(spec.qualifiers)}",
                    )
                ]  # fmt: skip
            )
        if not qualifier:
            raise RecordRejected([Problem(fmap.qualifier, fmap.input, "required", "is required")])
    number = _number(raw, fieldname, fmap.input)
    if not overridden:
        # a wrong unit in the record's unit column is that column's fault
        where = fmap.unit_field if unit_from_record else fieldname
        number = _convert(number, unit, spec.unit, where, fmap.input)
        _range(number, spec.unit, "", fieldname, fmap.input)
    numbers.append((fmap.input, qualifier, number, fieldname))


def level_keys(source: Source, keys: dict[str, str]) -> tuple[str, str, str]:
    """(gtin, batch, serial) of the entity a record is about: '' for what its level leaves out."""
    gtin = keys["gtin"]
    batch = keys.get("batch", "") if source.level in ("batch",) else ""
    serial = keys.get("serial", "") if source.level == "item" else ""
    return gtin, batch, serial


def add_record(
    facts: Facts,
    source: Source,
    object_key: str,
    row: int,
    record: dict[str, Any],
    overrides: set[str] = frozenset(),
) -> None:
    """Map one record into `facts` (raises RecordRejected)."""
    keys, ts, values, numbers = map_record(source, record, overrides)
    gtin, batch, serial = level_keys(source, keys)
    for path, value, fieldname in values:
        fid = facts.origin(Origin(source.name, object_key, row, fieldname, ts))
        facts.facts.append((fid, source.name, source.priority, ts, source.level, gtin, batch,
                            serial, path, canonical_json(value)))  # fmt: skip
    for name, qualifier, number, fieldname in numbers:
        fid = facts.origin(Origin(source.name, object_key, row, fieldname, ts))
        facts.inputs.append((fid, source.name, source.level, gtin, batch, serial, name, qualifier,
                             number, ts))  # fmt: skip
    if source.registers_items:
        fid = facts.origin(Origin(source.name, object_key, row, source.keys["serial"], ts))
        facts.registrations.append(
            (fid, source.name, source.priority, ts, gtin, keys["serial"], keys.get("batch", ""))
        )
