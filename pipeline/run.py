"""One pipeline run, stage by stage: stage the sources' raw data, read and validate every record
(bad ones to the quarantine), correlate (resolve each entity's values and conflicts on the
engine), calculate, let items inherit, assemble and check each battery's passport, write the
processed data as Parquet, issue what changed, and record lineage.

Exactly once: a battery's passport is issued when the pipeline has not issued it before; after
that only a change issues anything: a changed static value the next passport version, a changed
dynamic value (battery status, condition readings) an event credential. The hashes of what was
last sent are in the state (table `issued`), so a rerun with unchanged inputs issues nothing.
"""

from __future__ import annotations

import io
import math
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from openlineage.client.event_v2 import RunState
from openlineage.client.facet_v2 import error_message_run

from pipeline import assemble, conformance, connectors, formats, lineage, quarantine
from pipeline.calculations import (
    CF_CLASS_ILLUSTRATIVE,
    ILLUSTRATIVE_CLASSES,
    INPUTS,
    CalculationError,
    Result,
    calculate_entity,
)
from pipeline.config import PipelineConfig, Source
from pipeline.engines import Engine, make_engine
from pipeline.errors import PipelineError
from pipeline.issuance import ServiceClient
from pipeline.records import Facts, Origin, RecordRejected, add_record, canonical_json
from pipeline.staging import ObjectStore
from pipeline.state import State
from pipeline.transforms import AGGREGATE_INPUTS, CONFLICTS, INHERIT, ITEMS, resolve_sql
from vocab.datetimes import format_datetime, utcnow
from vocab.gs1 import ItemKey
from vocab.models.performance import BatteryCondition

STAGES = ("stage", "validate", "correlate", "calculate", "assemble", "write", "issue")
Progress = Callable[[str, int, int | None], None]
"""progress(stage, advance, total): `total` set once when known."""


def _now() -> str:
    return format_datetime(utcnow())


@dataclass
class RunOptions:
    engine: str | None = None
    service: str | None = None
    """Base URL of the passport service; None = no issuance (a dry run)."""
    token: str | None = None
    fetch: bool = True
    client: Any = None
    """An open client with ServiceClient's methods to issue through instead of `service` (the
    company portal's in-process one, portal/pipeline_issuing.py); the caller closes it."""


@dataclass
class Battery:
    gtin: str
    serial: str
    batch: str
    passport: dict[str, Any]
    condition: dict[str, Any] | None
    report: dict[str, Any]

    @property
    def complete(self) -> bool:
        return self.report["conforms"] and not self.report.get("conditionErrors")


@dataclass
class Outcome:
    """What a run did (the CLI prints it; tests and the bench read it)."""

    run_id: str
    engine: str
    records: int = 0
    quarantined: int = 0
    quarantine_open: int = 0
    facts: int = 0
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    calculations: int = 0
    calculation_errors: list[dict[str, Any]] = field(default_factory=list)
    batteries: list[Battery] = field(default_factory=list)
    issued: int = 0
    versions: int = 0
    status_events: int = 0
    condition_events: int = 0
    unchanged: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    lineage_file: str = ""
    output: str = ""
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def complete(self) -> list[Battery]:
        return [b for b in self.batteries if b.complete]

    @property
    def incomplete(self) -> list[Battery]:
        return [b for b in self.batteries if not b.complete]

    def summary(self) -> dict[str, Any]:
        return {
            "run": self.run_id,
            "engine": self.engine,
            "recordsRead": self.records,
            "recordsQuarantined": self.quarantined,
            "quarantineOpen": self.quarantine_open,
            "conflicts": len(self.conflicts),
            "calculatedValues": self.calculations,
            "calculationErrors": self.calculation_errors,
            "batteries": len(self.batteries),
            "complete": len(self.complete),
            "incomplete": len(self.incomplete),
            "passportsIssued": self.issued,
            "passportVersions": self.versions,
            "statusEvents": self.status_events,
            "conditionEvents": self.condition_events,
            "unchanged": self.unchanged,
            "failed": self.failed,
            "changes": self.changes[:100],
            "lineageFile": self.lineage_file,
            "output": self.output,
            "timings": self.timings,
        }


def _quiet(stage: str, advance: int, total: int | None) -> None:
    return None


# --- stage 1: sources -----------------------------------------------------------------------------


def stage_sources(
    config: PipelineConfig, store: ObjectStore, state: State, run_id: str, at: str,
    progress: Progress = _quiet,
) -> None:  # fmt: skip
    progress("stage", 0, len(config.sources))
    for source in config.sources:
        if source.kind == "file":
            state.replace_objects(source.name, connectors.stage_files(config, source, store),
                                  run_id, at)  # fmt: skip
        elif source.kind == "http":
            state.add_objects(source.name, connectors.pull_http(source, store, state), run_id, at)
        else:
            state.add_objects(source.name, connectors.push_objects(source, store), run_id, at)
        progress("stage", 1, None)


# --- stage 2: records ----------------------------------------------------------------------------


def _records_member(source: Source) -> str | None:
    if source.kind == "http":
        return source.paging.items if source.paging else source.records
    if source.kind == "push":
        return source.records or "records"
    return source.records


def _apply_fix(record: dict[str, Any], fix: dict[str, Any]) -> set[str]:
    overrides = set()
    for fieldname, value in fix.items():
        if value == quarantine.OVERRIDE:
            overrides.add(fieldname)
            continue
        node = record
        parts = fieldname.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value["value"]
    return overrides


def read_sources(
    config: PipelineConfig,
    store: ObjectStore,
    state: State | None,
    run_id: str,
    at: str,
    progress: Progress = _quiet,
    objects: dict[str, list[tuple[str, bytes]]] | None = None,
    seen: set[str] | None = None,
) -> tuple[Facts, int, int]:
    """(facts, records read, records quarantined). `objects` (source -> [(key, bytes)]) reads
    given data instead of the state's objects (the bench). With `seen`, the quarantine entries
    met again are added to it and the caller settles the quarantine (`quarantine.settle`) once
    what the records became is issued: a run that fails before that keeps the operators' fixes
    waiting (`retry`) for the next one instead of consuming them."""
    facts = Facts()
    fixes = quarantine.fixes(state) if state is not None else {}
    defer = seen is not None
    seen = seen if seen is not None else set()
    read = rejected = 0
    loaded: list[tuple[Source, str, list]] = []
    for source in config.sources:
        if objects is not None:
            pairs = objects.get(source.name, [])
        else:
            assert state is not None
            pairs = [(o["object_key"], store.get(o["object_key"])) for o in
                     state.objects(source.name)]  # fmt: skip
        for key, data in pairs:
            rows = formats.read(data, source.format, records=_records_member(source),
                                sheet=source.sheet)  # fmt: skip
            loaded.append((source, key, rows))
    progress("validate", 0, sum(len(rows) for _, _, rows in loaded))
    for source, key, rows in loaded:
        for row, record in rows:
            read += 1
            fix = fixes.get((source.name, key, row))
            overrides = _apply_fix(record, fix) if fix and isinstance(record, dict) else set()
            try:
                add_record(facts, source, key, row, record, overrides)
            except RecordRejected as exc:
                rejected += 1
                if state is not None:
                    seen.update(quarantine.put(state, run_id, at, source.name, key, row,
                                               record, exc.problems))  # fmt: skip
        progress("validate", len(rows), None)
    if state is not None and not defer:
        quarantine.settle(state, run_id, at, seen, {s.name for s in config.sources})
    return facts, read, rejected


# --- stage 3-5: engine work ----------------------------------------------------------------------

FACT_SCHEMA = pa.schema([
    ("fact_id", pa.int64()), ("source", pa.string()), ("priority", pa.int64()),
    ("ts", pa.string()), ("level", pa.string()), ("gtin", pa.string()), ("batch", pa.string()),
    ("serial", pa.string()), ("path", pa.string()), ("value", pa.string()),
])  # fmt: skip
INPUT_SCHEMA = pa.schema([
    ("fact_id", pa.int64()), ("source", pa.string()), ("level", pa.string()),
    ("gtin", pa.string()), ("batch", pa.string()), ("serial", pa.string()),
    ("name", pa.string()), ("qualifier", pa.string()), ("num", pa.float64()), ("ts", pa.string()),
])  # fmt: skip
REGISTRATION_SCHEMA = pa.schema([
    ("fact_id", pa.int64()), ("source", pa.string()), ("priority", pa.int64()),
    ("ts", pa.string()), ("gtin", pa.string()), ("serial", pa.string()), ("batch", pa.string()),
])  # fmt: skip
RULE_SCHEMA = pa.schema([("path", pa.string()), ("rule", pa.string())])
ITEM_SCHEMA = pa.schema([("gtin", pa.string()), ("serial", pa.string()), ("batch", pa.string()),
                         ("fact_id", pa.int64())])  # fmt: skip


def _table(rows: list[tuple], schema: pa.Schema) -> pa.Table:
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in schema.names]
    return pa.table([pa.array(list(c), type=f.type) for c, f in zip(columns, schema, strict=True)],
                    schema=schema)  # fmt: skip


def _sig(value: float) -> float:
    """Engines add floating-point numbers in different orders; 12 significant digits make the
    aggregates equal on every engine without touching any meaningful digit."""
    return float(f"{value:.12g}") if math.isfinite(value) else value


@dataclass
class Correlated:
    resolved: list[dict[str, Any]]
    conflicts: list[dict[str, Any]]
    items: list[dict[str, Any]]
    aggregates: list[dict[str, Any]]


def correlate(config: PipelineConfig, engine: Engine, facts: Facts) -> Correlated:
    engine.load("facts", _table(facts.facts, FACT_SCHEMA))
    engine.load("inputs", _table(facts.inputs, INPUT_SCHEMA))
    engine.load("registrations", _table(facts.registrations, REGISTRATION_SCHEMA))
    engine.load("rules", _table(sorted(config.conflicts.paths.items()), RULE_SCHEMA))
    resolved = engine.query(resolve_sql(config.conflicts.rule)).to_pylist()
    candidates = engine.query(CONFLICTS).to_pylist()
    items = engine.query(ITEMS).to_pylist()
    aggregates = engine.query(AGGREGATE_INPUTS).to_pylist()
    winners = {(r["level"], r["gtin"], r["batch"], r["serial"], r["path"]): r for r in resolved}
    grouped: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for c in candidates:
        grouped[(c["level"], c["gtin"], c["batch"], c["serial"], c["path"])].append(c)
    conflicts = []
    for key, rows in sorted(grouped.items()):
        winner = winners[key]
        conflicts.append({
            "level": key[0], "gtin": key[1], "batch": key[2], "serial": key[3], "path": key[4],
            "rule": config.conflict_rule(key[4]),
            "winner": {"source": winner["source"], "value": orjson.loads(winner["value"])},
            "candidates": [{"source": r["source"], "priority": r["priority"], "timestamp": r["ts"],
                            "value": orjson.loads(r["value"])} for r in rows],
        })  # fmt: skip
    return Correlated(resolved, conflicts, items, aggregates)


def calculate(
    config: PipelineConfig, facts: Facts, correlated: Correlated
) -> tuple[list[tuple[dict[str, Any], Result, list[int]]], list[dict[str, Any]]]:
    """Each entity with calculation inputs: ([(resolved row, result, input fact ids)], errors)."""
    cf = config.calculations.carbon_footprint
    table = tuple((c, float(b)) for c, b in cf.classes) if cf.classes else ILLUSTRATIVE_CLASSES
    class_methodology = cf.class_methodology or (
        CF_CLASS_ILLUSTRATIVE if not cf.classes else "configured-class-table/1"
    )
    by_entity: dict[tuple, dict[tuple[str, str], tuple[float, list[int]]]] = defaultdict(dict)
    for a in correlated.aggregates:
        spec = INPUTS[a["name"]]
        value = a["total"] if spec.aggregate == "sum" else a["mean"]
        by_entity[(a["level"], a["gtin"], a["batch"], a["serial"])][(a["name"], a["qualifier"])] = (
            _sig(value), sorted(a["fact_ids"]))  # fmt: skip
    values: dict[tuple, dict[str, Any]] = defaultdict(dict)
    fact_of: dict[tuple, int] = {}
    for r in correlated.resolved:
        entity = (r["level"], r["gtin"], r["batch"], r["serial"])
        values[entity][r["path"]] = orjson.loads(r["value"])
        fact_of[(*entity, r["path"])] = r["fact_id"]
    out, errors = [], []
    for entity in sorted(by_entity):
        inputs = {k: v for k, (v, _) in by_entity[entity].items()}
        model = ("model", entity[1], "", "")
        known = {**values.get(model, {}), **values.get(entity, {})}
        try:
            results = calculate_entity(
                known, inputs, cf_methodology=cf.methodology, class_table=table,
                class_methodology=class_methodology,
                rc_methodology=config.calculations.recycled_content_methodology,
            )  # fmt: skip
        except CalculationError as exc:
            errors.append({"level": entity[0], "gtin": entity[1], "batch": entity[2],
                           "serial": entity[3], "message": str(exc)})  # fmt: skip
            continue
        for result in results:
            used: list[int] = []
            for name in result.inputs:
                if name in INPUTS:
                    used += [fid for (n, _), (_, ids) in sorted(by_entity[entity].items())
                             if n == name for fid in ids]  # fmt: skip
                else:
                    fid = fact_of.get((*entity, name), fact_of.get((*model, name)))
                    if fid is not None:
                        used.append(fid)
            value = result.value
            if result.path.endswith("]") and isinstance(value, dict):
                value = [value]
            row = {"fact_id": facts.origin(Origin("calculation", "", -1, result.calculation, "")),
                   "source": "calculation", "priority": 0, "ts": "", "level": entity[0],
                   "gtin": entity[1], "batch": entity[2], "serial": entity[3],
                   "path": result.path, "value": canonical_json(value)}  # fmt: skip
            out.append((row, result, used))
    return out, errors


def merge_calculated(
    correlated: Correlated, calculated: list[tuple[dict[str, Any], Result, list[int]]]
) -> None:
    """Calculated values replace what sources said for the same entity and path; a source value
    that differs is reported as a conflict the calculation won."""
    index = {(r["level"], r["gtin"], r["batch"], r["serial"], r["path"]): i
             for i, r in enumerate(correlated.resolved)}  # fmt: skip
    for row, _result, _ in calculated:
        key = (row["level"], row["gtin"], row["batch"], row["serial"], row["path"])
        if key in index:
            previous = correlated.resolved[index[key]]
            if previous["value"] != row["value"]:
                correlated.conflicts.append({
                    "level": key[0], "gtin": key[1], "batch": key[2], "serial": key[3],
                    "path": key[4], "rule": "calculated",
                    "winner": {"source": "calculation", "value": orjson.loads(row["value"])},
                    "candidates": [{"source": previous["source"], "priority": previous["priority"],
                                    "timestamp": previous["ts"],
                                    "value": orjson.loads(previous["value"])}],
                })  # fmt: skip
            correlated.resolved[index[key]] = row
        else:
            index[key] = len(correlated.resolved)
            correlated.resolved.append(row)


def inherit(engine: Engine, correlated: Correlated) -> list[dict[str, Any]]:
    rows = [(r["fact_id"], r["source"], r["priority"], r["ts"], r["level"], r["gtin"], r["batch"],
             r["serial"], r["path"], r["value"]) for r in correlated.resolved]  # fmt: skip
    engine.load("resolved", _table(rows, FACT_SCHEMA))
    engine.load("items", _table([(i["gtin"], i["serial"], i["batch"], i["fact_id"])
                                 for i in correlated.items], ITEM_SCHEMA))  # fmt: skip
    values = {r["fact_id"]: r["value"] for r in correlated.resolved}
    table = engine.query(INHERIT)
    return [
        {"gtin": g, "serial": s, "path": p, "value": values[f]}
        for g, s, p, f in zip(
            table.column("gtin").to_pylist(),
            table.column("serial").to_pylist(),
            table.column("path").to_pylist(),
            table.column("fact_id").to_pylist(),
            strict=True,
        )
    ]


# --- stage 6: passports --------------------------------------------------------------------------


def assemble_batteries(
    effective: list[dict[str, Any]], items: list[dict[str, Any]], progress: Progress = _quiet
) -> list[Battery]:
    progress("assemble", 0, len(items))
    by_item: dict[tuple[str, str], list[tuple[str, Any]]] = defaultdict(list)
    for row in effective:
        by_item[(row["gtin"], row["serial"])].append((row["path"], orjson.loads(row["value"])))
    out = []
    for item in items:
        gtin, serial, batch = item["gtin"], item["serial"], item["batch"]
        document = assemble.build(by_item.get((gtin, serial), []))
        passport, condition = assemble.split(document)
        report = conformance.check(assemble.with_placeholders(passport, gtin, serial, batch))
        if condition is not None:
            try:
                BatteryCondition.model_validate(condition)
            except Exception as exc:  # pydantic ValidationError: reported, no event sent
                report["conditionErrors"] = str(exc).splitlines()[:6]
        out.append(Battery(gtin, serial, batch, passport, condition, report))
        progress("assemble", 1, None)
    return out


# --- stage 7: Parquet ----------------------------------------------------------------------------


def write_outputs(
    config: PipelineConfig, run_id: str, outcome: Outcome, correlated: Correlated,
    calculated: list[tuple[dict[str, Any], Result, list[int]]],
) -> str:  # fmt: skip
    """The processed data as Parquet under OUTPUT/runs/RUN/ (passports, resolved values,
    conflicts, calculations, conformance), for reporting beyond the passport (e.g. CSRD)."""
    import fsspec

    fs, root = fsspec.core.url_to_fs(config.output_url, **config.storage_options)
    base = f"{root.rstrip('/')}/runs/{run_id}"
    fs.makedirs(base, exist_ok=True)
    tables = {
        "passports": pa.table({
            "gtin": [b.gtin for b in outcome.batteries],
            "serial": [b.serial for b in outcome.batteries],
            "batch": [b.batch for b in outcome.batteries],
            "complete": [b.complete for b in outcome.batteries],
            "passport": [canonical_json(b.passport) for b in outcome.batteries],
            "condition": [canonical_json(b.condition) if b.condition else None
                          for b in outcome.batteries],
            "static_hash": [assemble.content_hash(_static(b.passport)) for b in outcome.batteries],
        }),
        "resolved": pa.Table.from_pylist(
            [{k: r[k] for k in ("level", "gtin", "batch", "serial", "path", "value", "source",
                                "ts", "fact_id")} for r in correlated.resolved]
            or [], schema=pa.schema([("level", pa.string()), ("gtin", pa.string()),
                                     ("batch", pa.string()), ("serial", pa.string()),
                                     ("path", pa.string()), ("value", pa.string()),
                                     ("source", pa.string()), ("ts", pa.string()),
                                     ("fact_id", pa.int64())])),
        "conflicts": pa.table({
            "path": [c["path"] for c in outcome.conflicts],
            "gtin": [c["gtin"] for c in outcome.conflicts],
            "rule": [c["rule"] for c in outcome.conflicts],
            "conflict": [canonical_json(c) for c in outcome.conflicts],
        }),
        "calculations": pa.table({
            "level": [r["level"] for r, _, _ in calculated],
            "gtin": [r["gtin"] for r, _, _ in calculated],
            "path": [res.path for _, res, _ in calculated],
            "value": [r["value"] for r, _, _ in calculated],
            "calculation": [res.calculation for _, res, _ in calculated],
            "methodology": [res.methodology for _, res, _ in calculated],
        }),
        "conformance": pa.table({
            "gtin": [b.gtin for b in outcome.batteries],
            "serial": [b.serial for b in outcome.batteries],
            "complete": [b.complete for b in outcome.batteries],
            "report": [canonical_json(b.report) for b in outcome.batteries],
        }),
    }  # fmt: skip
    for name, table in tables.items():
        buffer = io.BytesIO()
        pq.write_table(table, buffer)
        with fs.open(f"{base}/{name}.parquet", "wb") as handle:
            handle.write(buffer.getvalue())
    return f"{config.output_url.rstrip('/')}/runs/{run_id}"


# --- stage 8: issuance ----------------------------------------------------------------------------


def _static(passport: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in passport.items() if k != "lifecycle"}


def _status(passport: dict[str, Any]) -> str | None:
    return (passport.get("lifecycle") or {}).get("batteryStatus")


def _dynamic_hash(passport: dict[str, Any], condition: dict[str, Any] | None) -> str:
    return f"{_status(passport) or ''}:{assemble.content_hash(condition) if condition else ''}"


def _condition_event(condition: dict[str, Any]) -> dict[str, Any]:
    stamps = [v.get("lastUpdate") for v in condition.values() if isinstance(v, dict)]
    stamps = [s for s in stamps if isinstance(s, str)]
    return {"eventType": "condition-update", "occurredAt": max(stamps) if stamps else _now(),
            "condition": condition}  # fmt: skip


def issue(
    config: PipelineConfig, state: State, client: ServiceClient, outcome: Outcome, run_id: str,
    progress: Progress = _quiet,
) -> None:  # fmt: skip
    issued = {(r["gtin"], r["serial"]): r for r in state.rows("select * from issued")}
    new: list[Battery] = []
    versions: list[tuple[Battery, dict]] = []
    events: list[tuple[Battery, dict, list[str]]] = []
    for b in outcome.complete:
        previous = issued.get((b.gtin, b.serial))
        if previous is None:
            new.append(b)
            continue
        static_changed = previous["static_hash"] != assemble.content_hash(_static(b.passport))
        old_status, _, old_condition = (previous["dynamic_hash"] or ":").partition(":")
        kinds = []
        if static_changed:
            versions.append((b, previous))
            outcome.changes.append({"gtin": b.gtin, "serial": b.serial, "change": "static",
                                    "issues": "passport version"})  # fmt: skip
        elif (_status(b.passport) or "") != old_status:
            kinds.append("status")
        new_condition = assemble.content_hash(b.condition) if b.condition else ""
        if new_condition and new_condition != old_condition:
            kinds.append("condition")
        if kinds:
            events.append((b, previous, kinds))
            outcome.changes.append(
                {
                    "gtin": b.gtin,
                    "serial": b.serial,
                    "change": "dynamic",
                    "issues": " + ".join(f"{k} event" for k in kinds),
                }
            )
        if not static_changed and not kinds:
            outcome.unchanged += 1
    progress("issue", 0, len(new) + len(versions) + len(events))
    at = _now()
    # new batteries: bulk jobs of `bulk_chunk` items
    for start in range(0, len(new), config.bulk_chunk):
        chunk = new[start : start + config.bulk_chunk]
        items = [{"gtin": b.gtin, "serial": b.serial, **({"batch": b.batch} if b.batch else {}),
                  "passport": b.passport} for b in chunk]  # fmt: skip
        job_id = client.submit_bulk(items)
        done_before = [0]

        def moved(processed: int, before=done_before) -> None:
            progress("issue", processed - before[0], None)
            before[0] = processed

        report = client.wait(job_id, moved)
        errors = {e["position"]: e for e in report.get("errors", [])}
        with state.transaction() as db:
            for item in report["items"]:
                b = chunk[item["position"]]
                if item["state"] != "done":
                    outcome.failed.append({"gtin": b.gtin, "serial": b.serial, "job": job_id,
                                           "error": errors.get(item["position"])})  # fmt: skip
                    continue
                outcome.issued += 1
                item_uri = ItemKey(b.gtin, b.serial, batch=b.batch or None).uri(client.url)
                db.execute(
                    "insert into issued (gtin, serial, battery_id, passport_id, version, "
                    "static_hash, dynamic_hash, item_uri, run_id) values (?, ?, ?, ?, 1, ?, ?, "
                    "?, ?) on conflict (gtin, serial) do update set battery_id = "
                    "excluded.battery_id, passport_id = excluded.passport_id, version = 1, "
                    "static_hash = excluded.static_hash, dynamic_hash = excluded.dynamic_hash, "
                    "run_id = excluded.run_id",
                    (b.gtin, b.serial, item["batteryId"], item["passportId"],
                     assemble.content_hash(_static(b.passport)), f"{_status(b.passport) or ''}:",
                     item_uri, run_id),
                )  # fmt: skip
                if b.condition:
                    events.append(({**_row(b, item)}, None, ["condition"]))  # type: ignore[arg-type]

    # versions and events, a few at a time (HTTP in threads; the state is written here)
    def do_version(pair: tuple[Battery, dict]) -> dict:
        b, previous = pair
        return client.issue_version(previous["battery_id"], b.passport)

    def do_events(entry: tuple) -> list[str]:
        b, previous, kinds = entry
        battery_id, battery = (b["battery_id"], b["battery"]) if isinstance(b, dict) else (
            previous["battery_id"], b)  # fmt: skip
        sent = []
        if "status" in kinds:
            client.post_event(battery_id, {
                "eventType": "status-change",
                "occurredAt": (battery.passport.get("lifecycle") or {}).get("lastUpdate") or at,
                "batteryStatus": _status(battery.passport)})  # fmt: skip
            sent.append("status")
        if "condition" in kinds and battery.condition:
            client.post_event(battery_id, _condition_event(battery.condition))
            sent.append("condition")
        return sent

    def guarded(fn, entry, label):
        try:
            return fn(entry), None
        except PipelineError as exc:
            return None, str(exc)

    def battery_of(entry) -> Battery:
        return entry[0]["battery"] if isinstance(entry[0], dict) else entry[0]

    with ThreadPoolExecutor(max_workers=4) as pool:
        for (b, previous), (answer, error) in zip(
            versions, pool.map(lambda p: guarded(do_version, p, "version"), versions), strict=True
        ):
            progress("issue", 1, None)
            if error is not None:
                outcome.failed.append({"gtin": b.gtin, "serial": b.serial, "step": "version",
                                       "error": error})  # fmt: skip
                continue
            outcome.versions += 1
            state.db.execute(
                "update issued set static_hash = ?, version = ?, dynamic_hash = ?, run_id = ? "
                "where gtin = ? and serial = ?",
                (assemble.content_hash(_static(b.passport)), answer["version"],
                 f"{_status(b.passport) or ''}:"
                 f"{(previous['dynamic_hash'] or ':').partition(':')[2]}",
                 run_id, b.gtin, b.serial),
            )  # fmt: skip
        for entry, (sent, error) in zip(
            events, pool.map(lambda e: guarded(do_events, e, "event"), events), strict=True
        ):
            progress("issue", 1, None)
            battery = battery_of(entry)
            if error is not None:
                outcome.failed.append({"gtin": battery.gtin, "serial": battery.serial,
                                       "step": "event", "error": error})  # fmt: skip
                continue
            for kind in sent:
                if kind == "status":
                    outcome.status_events += 1
                else:
                    outcome.condition_events += 1
            state.db.execute(
                "update issued set dynamic_hash = ?, run_id = ? where gtin = ? and serial = ?",
                (_dynamic_hash(battery.passport, battery.condition), run_id, battery.gtin,
                 battery.serial),
            )  # fmt: skip


def _row(b: Battery, item: dict[str, Any]) -> dict[str, Any]:
    return {"battery_id": item["batteryId"], "battery": b}


# --- lineage --------------------------------------------------------------------------------------


def lineage_rows(
    config: PipelineConfig, state: State, store: ObjectStore, facts: Facts,
    correlated: Correlated, calculated: list[tuple[dict[str, Any], Result, list[int]]],
) -> tuple[list[tuple], dict[str, list[tuple[str, str, str, str, str]]]]:  # fmt: skip
    origins = {(s.name, o["object_key"]): o["origin"] for s in config.sources
               for o in state.objects(s.name)}  # fmt: skip
    calc_of = {row["fact_id"]: (result, used) for row, result, used in calculated}
    conflicted = {(c["level"], c["gtin"], c["batch"], c["serial"], c["path"]) for c in
                  correlated.conflicts}  # fmt: skip

    def where(fid: int) -> dict[str, Any]:
        o = facts.origins[fid]
        return {"source": o.source, "object": o.object_key, "staged": store.uri(o.object_key),
                "origin": origins.get((o.source, o.object_key), ""), "row": o.row,
                "field": o.field, "timestamp": o.ts}  # fmt: skip

    input_of = {x[0]: (x[6], x[7]) for x in facts.inputs}
    rows, columns = [], defaultdict(list)
    for r in correlated.resolved:
        key = (r["level"], r["gtin"], r["batch"], r["serial"], r["path"])
        if r["fact_id"] in calc_of:
            result, used = calc_of[r["fact_id"]]
            inputs = []
            for fid in used:
                entry = where(fid)
                if fid in input_of:
                    entry |= {"input": input_of[fid][0], "qualifier": input_of[fid][1]}
                inputs.append(entry)
            origin = {"source": "calculation", "calculation": result.calculation,
                      "methodology": result.methodology,
                      "transformation": f"calculation {result.calculation} ({result.methodology})",
                      "value": orjson.loads(r["value"]), "inputs": inputs}  # fmt: skip
            for entry in inputs:
                columns[r["path"]].append((config.staging_url, entry["object"], entry["field"],
                                           "AGGREGATION", origin["transformation"]))  # fmt: skip
        else:
            origin = where(r["fact_id"]) | {
                "value": orjson.loads(r["value"]),
                "transformation": "resolve: latest record of the source"
                + (f"; conflict decided by rule {config.conflict_rule(r['path'])}"
                   if key in conflicted else ""),
            }  # fmt: skip
            columns[r["path"]].append((config.staging_url, origin["object"], origin["field"],
                                       "IDENTITY", ""))  # fmt: skip
        rows.append((*key, origin))
    return rows, columns


# --- the run --------------------------------------------------------------------------------------


@contextmanager
def _timed(outcome: Outcome, name: str) -> Iterator[None]:
    import time

    start = time.perf_counter()
    try:
        yield
    finally:
        outcome.timings[name] = round(time.perf_counter() - start, 3)


def run(config: PipelineConfig, options: RunOptions, progress: Progress = _quiet) -> Outcome:
    """One run (see the module docstring). Raises PipelineError; the state records the run."""
    state = State(config.state_dir)
    store = ObjectStore(config.staging_url, config.storage_options)
    emitter = lineage.Emitter(config)
    run_id = lineage.new_run_id()
    engine_name = options.engine or config.engine
    at = _now()
    state.start_run(run_id, at, engine_name)
    emitter.emit(RunState.START, run_id, at)
    outcome = Outcome(run_id, engine_name, lineage_file=str(emitter.path))
    engine: Engine | None = None
    try:
        with _timed(outcome, "stage"):
            if options.fetch:
                stage_sources(config, store, state, run_id, at, progress)
        seen: set[str] = set()  # settled after the issue stage (read_sources)
        with _timed(outcome, "validate"):
            facts, outcome.records, outcome.quarantined = read_sources(
                config, store, state, run_id, at, progress, seen=seen
            )
        outcome.facts = len(facts.facts) + len(facts.inputs)
        with _timed(outcome, "correlate"):
            progress("correlate", 0, 2)
            engine = make_engine(engine_name)
            correlated = correlate(config, engine, facts)
            progress("correlate", 1, None)
        with _timed(outcome, "calculate"):
            progress("calculate", 0, 1)
            calculated, outcome.calculation_errors = calculate(config, facts, correlated)
            merge_calculated(correlated, calculated)
            outcome.calculations = len(calculated)
            outcome.conflicts = correlated.conflicts
            progress("calculate", 1, None)
        with _timed(outcome, "inherit"):
            effective = inherit(engine, correlated)
            progress("correlate", 1, None)
        with _timed(outcome, "assemble"):
            outcome.batteries = assemble_batteries(effective, correlated.items, progress)
        with _timed(outcome, "write"):
            progress("write", 0, 2)
            outcome.output = write_outputs(config, run_id, outcome, correlated, calculated)
            progress("write", 1, None)
            rows, columns = lineage_rows(config, state, store, facts, correlated, calculated)
            lineage.store(state, run_id, [(i["gtin"], i["serial"], i["batch"])
                                          for i in correlated.items], rows)  # fmt: skip
            (config.state_dir / "conformance.json").write_bytes(orjson.dumps(
                [{"gtin": b.gtin, "serial": b.serial, "batch": b.batch, "complete": b.complete,
                  **b.report} for b in outcome.batteries], option=orjson.OPT_INDENT_2))  # fmt: skip
            progress("write", 1, None)
        with _timed(outcome, "issue"):
            if options.client is not None:
                issue(config, state, options.client, outcome, run_id, progress)
            elif options.service:
                client = ServiceClient(options.service, options.token or "")
                try:
                    issue(config, state, client, outcome, run_id, progress)
                finally:
                    client.close()
        quarantine.settle(state, run_id, at, seen, {s.name for s in config.sources})
        outcome.quarantine_open = len(quarantine.entries(state))
        finished = _now()
        namespace = options.service or getattr(options.client, "url", None) or "dbp-pipeline"
        inputs = [lineage.dataset(config.staging_url, o["object_key"]) for s in config.sources
                  for o in state.objects(s.name)]  # fmt: skip
        outputs = [
            lineage.output(namespace, "passports",
                           {"columnLineage": lineage.column_lineage(columns)}),
            lineage.output(config.output_url, f"runs/{run_id}"),
        ]  # fmt: skip
        calcs = sorted({(res.calculation, res.methodology) for _, res, _ in calculated})
        facets = {
            "dbp_calculations": lineage.CalculationsRunFacet(
                calculations=[{"calculation": c, "methodology": m} for c, m in calcs]
            )
        }
        emitter.emit(RunState.COMPLETE, run_id, finished, inputs=inputs, outputs=outputs,
                     facets=facets)  # fmt: skip
        state.finish_run(run_id, finished, "complete", outcome.summary())
        return outcome
    except BaseException as exc:
        finished = _now()
        state.finish_run(run_id, finished, "failed", {"error": str(exc)})
        emitter.emit(RunState.FAIL, run_id, finished, facets={
            "errorMessage": error_message_run.ErrorMessageRunFacet(
                message=str(exc), programmingLanguage="python")})  # fmt: skip
        raise
    finally:
        if engine is not None:
            engine.close()
        state.close()
