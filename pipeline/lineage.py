"""Lineage: OpenLineage run events for every run, and the answer to "where did this value come
from" for one battery and attribute (`dbp pipeline lineage ITEM-URI ATTRIBUTE`).

Events (openlineage-python): START when a run begins, COMPLETE or FAIL when it ends. COMPLETE
names the input datasets (each staged object: namespace = the staging store, name = its key) and
the outputs (the passports at the service, the Parquet files), with a column-lineage facet
mapping each passport attribute path to the source fields it came from and how (IDENTITY,
TRANSFORMATION with the unit conversion, AGGREGATION for calculations, naming the calculation and
its methodology version). The default transport appends JSON lines to STATE/lineage.jsonl; with
`lineage: {transport: http, url: ...}` the events go to a lineage server such as Marquez.

Per value, the state keeps (table `lineage`) the source, staged object, origin (file or request),
row, field and run of the winning fact of every entity (model, batch, item) and path, the rule that
picked it, and for calculated values the calculation, methodology and every input row.
"""

from __future__ import annotations

import uuid
from typing import Any

import attr
import orjson
from openlineage.client.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import RunFacet, column_lineage_dataset

from pipeline.config import PipelineConfig
from pipeline.state import State
from vocab.catalogue import load_catalogue
from vocab.gs1 import parse_item_uri

PRODUCER = "https://w3id.org/dbp/pipeline"
_FACET_SCHEMA = "https://w3id.org/dbp/pipeline/facets/CalculationsRunFacet.json"


@attr.define
class CalculationsRunFacet(RunFacet):
    """The regulatory calculations a run made, each with its methodology version."""

    calculations: list[dict[str, Any]] = attr.field(factory=list)

    @staticmethod
    def _get_schema() -> str:
        return _FACET_SCHEMA


class Emitter:
    def __init__(self, config: PipelineConfig) -> None:
        self.config = config
        self.path = config.state_dir / "lineage.jsonl"
        lineage = config.lineage
        self.client: OpenLineageClient | None
        if lineage.transport == "none":
            self.client = None
        elif lineage.transport == "http":
            from openlineage.client.transport.http import (
                ApiKeyTokenProvider,
                HttpConfig,
                HttpTransport,
            )

            if not lineage.url:
                from pipeline.errors import ConfigInvalid

                raise ConfigInvalid("lineage.url", "the http transport needs a url")
            auth = ApiKeyTokenProvider({"apiKey": lineage.api_key}) if lineage.api_key else None
            kwargs: dict[str, Any] = {"url": lineage.url, "endpoint": lineage.endpoint}
            if auth is not None:
                kwargs["auth"] = auth
            self.client = OpenLineageClient(transport=HttpTransport(HttpConfig(**kwargs)))
        else:
            from openlineage.client.transport.file import FileConfig, FileTransport

            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.client = OpenLineageClient(
                transport=FileTransport(FileConfig(log_file_path=str(self.path), append=True))
            )

    def _job(self) -> Job:
        return Job(namespace=self.config.lineage.namespace, name=self.config.name)

    def emit(
        self,
        state: RunState,
        run_id: str,
        at: str,
        *,
        inputs: list[InputDataset] | None = None,
        outputs: list[OutputDataset] | None = None,
        facets: dict[str, Any] | None = None,
    ) -> None:
        if self.client is None:
            return
        event = RunEvent(
            eventType=state,
            eventTime=at,
            run=Run(runId=run_id, facets=facets or {}),
            job=self._job(),
            producer=PRODUCER,
            inputs=inputs or [],
            outputs=outputs or [],
        )
        self.client.emit(event)


def new_run_id() -> str:
    # OpenLineage wants a UUID (v7 recommended: time-ordered)
    return str(uuid.uuid7()) if hasattr(uuid, "uuid7") else str(uuid.uuid4())


def column_lineage(
    fields: dict[str, list[tuple[str, str, str, str, str]]],
) -> column_lineage_dataset.ColumnLineageDatasetFacet:
    """`fields`: output path -> [(namespace, dataset, field, type, description)]."""
    out = {}
    for path, sources in sorted(fields.items()):
        inputs = []
        for namespace, dataset, field, kind, description in sorted(set(sources)):
            subtype = {"IDENTITY": "IDENTITY", "TRANSFORMATION": "TRANSFORMATION",
                       "AGGREGATION": "AGGREGATION"}[kind]  # fmt: skip
            inputs.append(
                column_lineage_dataset.InputField(
                    namespace=namespace,
                    name=dataset,
                    field=field,
                    transformations=[
                        column_lineage_dataset.Transformation(
                            type="DIRECT", subtype=subtype, description=description
                        )
                    ],
                )
            )
        descriptions = sorted({s[4] for s in sources if s[4]})
        out[path] = column_lineage_dataset.Fields(
            inputFields=inputs,
            transformationDescription="; ".join(descriptions) or None,
            transformationType="DIRECT",
        )
    return column_lineage_dataset.ColumnLineageDatasetFacet(fields=out)


def dataset(namespace: str, name: str) -> InputDataset:
    return InputDataset(namespace=namespace, name=name)


def output(namespace: str, name: str, facets: dict[str, Any] | None = None) -> OutputDataset:
    return OutputDataset(namespace=namespace, name=name, facets=facets or {})


# --- the state's per-value lineage --------------------------------------------------------------


def store(state: State, run_id: str, items: list[tuple[str, str, str]], rows: list[tuple]) -> None:
    """Replace the last run's lineage: `items` (gtin, serial, batch), `rows`
    (level, gtin, batch, serial, path, origin dict)."""
    with state.transaction() as db:
        db.execute("delete from items")
        db.executemany("insert into items (gtin, serial, batch) values (?, ?, ?)", items)
        db.execute("delete from lineage")
        db.executemany(
            "insert into lineage (level, gtin, batch, serial, path, run_id, origin) "
            "values (?, ?, ?, ?, ?, ?, ?)",
            [(lv, g, b, s, p, run_id, orjson.dumps(o).decode()) for lv, g, b, s, p, o in rows],
        )


def _attribute_paths(attribute: str) -> list[str]:
    if attribute.isdigit():
        return [p.text for p in load_catalogue().attribute(int(attribute)).paths]
    return [attribute]


def explain(state: State, item_uri: str, attribute: str) -> dict[str, Any]:
    """Where the value of `attribute` (a catalogue number or a passport path) for the battery
    `item_uri` came from: the entity it was inherited from, and the source, staged object, file or
    request, row, field, run and transformation; calculations with their inputs."""
    key = parse_item_uri(item_uri)
    item = state.one("select * from items where gtin = ? and serial = ?", (key.gtin, key.serial))
    if item is None:
        return {"battery": item_uri, "attribute": attribute, "found": False, "values": [],
                "reason": "the last run had no such battery"}  # fmt: skip
    wanted = _attribute_paths(attribute)
    values = []
    seen: set[str] = set()
    for level, batch, serial in (("item", "", key.serial), ("batch", item["batch"], ""),
                                 ("model", "", "")):  # fmt: skip
        rows = state.rows(
            "select * from lineage where level = ? and gtin = ? and batch = ? and serial = ?",
            (level, key.gtin, batch, serial),
        )
        for row in rows:
            path = row["path"]
            if path in seen:
                continue
            if not any(path == w or path.startswith(w + ".") or path.startswith(w + "[")
                       or w.startswith(path + ".") for w in wanted):  # fmt: skip
                continue
            seen.add(path)
            values.append({"path": path, "inheritedFrom": level, "run": row["run_id"],
                           **orjson.loads(row["origin"])})  # fmt: skip
    values.sort(key=lambda v: v["path"])
    return {"battery": item_uri, "attribute": attribute, "found": bool(values), "values": values}
