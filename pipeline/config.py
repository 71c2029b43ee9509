"""The pipeline's YAML configuration: where data comes from, how each source's fields map to
passport attribute paths of the `vocab` catalogue (or to inputs of the regulatory calculations),
in which units, and how conflicts, calculations, lineage and issuance behave.

Strings may use `${VAR}` or `${VAR:-default}` to read the environment (tokens, URLs), so secrets
stay out of the file. Relative file locations are relative to the YAML file. README.md section
"Pipeline" shows a whole file; `examples/pipeline/pipeline.yaml` is a working one.
"""

from __future__ import annotations

import os
import re
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pipeline import units
from pipeline.errors import ConfigInvalid
from vocab.catalogue import Attribute, load_catalogue
from vocab.errors import CatalogueError
from vocab.paths import Path as VocabPath
from vocab.paths import parse_path

Level = Literal["model", "batch", "item"]
ConflictRule = Literal["priority", "latest"]
_NAME = r"^[a-z][a-z0-9_-]{0,63}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldMap(_Strict):
    """Where one source field goes. Exactly one of `path`, `input`, `fragment`."""

    path: str | None = None
    """A passport path in the catalogue's notation (`general.batteryMass`,
    `carbonFootprint.lifecycleStages[stage=distribution]`, or a member below an attribute)."""
    input: str | None = None
    """A calculation input (pipeline.calculations.INPUTS), e.g. `lca.emissions`."""
    fragment: bool = False
    """The field holds a passport fragment (nested JSON): every catalogue attribute in it is
    taken, each as its own value."""
    unit: str | None = None
    """The unit the source delivers the value in (converted to the catalogue's unit)."""
    unit_field: str | None = None
    """A field of the same record that holds the unit (overrides `unit`)."""
    qualifier: str | None = None
    """For inputs: the field naming what the value is about (material, life-cycle stage), or
    `=VALUE` for a constant (a column `r_cell_mohm` is about the cell)."""
    shape: Literal["quantity", "reading", "plain"] | None = None
    """How the value is wrapped: quantity {value, unit}, reading {value, unit?, lastUpdate},
    plain. Default: from the catalogue attribute's type."""

    @model_validator(mode="after")
    def _one_target(self) -> FieldMap:
        targets = [self.path is not None, self.input is not None, self.fragment]
        if sum(targets) != 1:
            raise ValueError("give exactly one of path, input or fragment: true")
        return self


class Auth(_Strict):
    type: Literal["bearer", "api-key"]
    token: str
    header: str = "X-API-Key"
    """For api-key: the header that carries it."""


class Paging(_Strict):
    items: str = "items"
    """Member of the response holding the records (dotted for nested members)."""
    next_cursor: str | None = "next_cursor"
    """Member holding the cursor of the next page (null or absent on the last page)."""
    cursor_param: str = "cursor"
    page_size_param: str | None = None
    page_size: int = Field(default=100, ge=1, le=10_000)


class Incremental(_Strict):
    """Fetch only what changed since the last run: by the largest value of `field` seen so far,
    sent as query parameter `param` (timestamp), or by resuming from the last cursor."""

    mode: Literal["timestamp", "cursor"] = "timestamp"
    param: str = "updated_since"
    field: str | None = None


class Source(_Strict):
    name: str = Field(pattern=_NAME)
    kind: Literal["file", "http", "push"] = "file"
    format: Literal["csv", "json", "jsonl", "parquet", "excel"] = "csv"
    location: str | None = None
    """file: a path or glob (relative to the YAML); http: the URL of the first page."""
    records: str | None = None
    """json: the member holding the list of records (dotted; none = the document is the list)."""
    sheet: str | None = None
    """excel: the sheet (default: the first)."""
    level: Level
    registers_items: bool = False
    """The source lists the batteries themselves (an item-level register such as the ERP): a
    battery exists for the pipeline when such a source has a valid record of it."""
    priority: int = 100
    """Conflict rule `priority`: the lower number wins."""
    keys: dict[Literal["gtin", "batch", "serial"], str]
    timestamp: str | None = None
    """The field holding when the record's values were true (ISO 8601); rule `latest`, readings'
    lastUpdate, and the order of updates from one source."""
    fields: dict[str, FieldMap] = Field(default_factory=dict)
    auth: Auth | None = None
    paging: Paging | None = None
    incremental: Incremental | None = None
    retries: int = Field(default=4, ge=0, le=20)
    backoff_s: float = Field(default=0.5, ge=0, le=60)
    timeout_s: float = Field(default=10, gt=0, le=600)

    @model_validator(mode="after")
    def _consistent(self) -> Source:
        if "gtin" not in self.keys:
            raise ValueError("keys must name the gtin field")
        if self.level == "batch" and "batch" not in self.keys:
            raise ValueError("a batch-level source needs keys.batch")
        if self.level == "item" and "serial" not in self.keys:
            raise ValueError("an item-level source needs keys.serial")
        if self.registers_items and self.level != "item":
            raise ValueError("registers_items is for item-level sources")
        if self.kind in ("file", "http") and not self.location:
            raise ValueError(f"a {self.kind} source needs location")
        if self.kind == "http" and self.format not in ("json",):
            raise ValueError("http sources deliver JSON pages (format: json)")
        if self.kind == "push" and self.format not in ("json",):
            raise ValueError("push sources take JSON (format: json)")
        return self


class CarbonFootprintConfig(_Strict):
    methodology: str = "dbp-cf-linear-fade/1"
    classes: list[tuple[str, float]] | None = None
    """Performance class table: (class, upper bound in kgCO2e/kWh), best class first; None
    uses pipeline.calculations.ILLUSTRATIVE_CLASSES."""
    class_methodology: str | None = None


class Calculations(_Strict):
    carbon_footprint: CarbonFootprintConfig = CarbonFootprintConfig()
    recycled_content_methodology: str = "dbp-rc-mass-balance/1"


class Conflicts(_Strict):
    rule: ConflictRule = "priority"
    paths: dict[str, ConflictRule] = Field(default_factory=dict)
    """Per attribute path, another rule than the default."""


class LineageConfig(_Strict):
    transport: Literal["file", "http", "none"] = "file"
    url: str | None = None
    endpoint: str = "api/v1/lineage"
    api_key: str | None = None
    namespace: str = "dbp-pipeline"


class PipelineConfig(_Strict):
    name: str = Field(pattern=_NAME)
    state: str | None = None
    """Local directory of the run state (SQLite), the lineage file and quarantine; default
    $DBP_DATA_DIR/pipeline/NAME."""
    staging: str | None = None
    """fsspec URL of the object store raw inputs are kept in (content-addressed); a local
    folder (default STATE/staging) or s3://bucket/prefix."""
    output: str | None = None
    """fsspec URL the processed data is written to as Parquet; default STATE/output."""
    storage_options: dict[str, Any] = Field(default_factory=dict)
    """Passed to fsspec for staging and output (e.g. endpoint_url, key, secret for S3)."""
    engine: Literal["duckdb", "spark"] = "duckdb"
    conflicts: Conflicts = Conflicts()
    calculations: Calculations = Calculations()
    lineage: LineageConfig = LineageConfig()
    bulk_chunk: int = Field(default=500, ge=1, le=100_000)
    sources: list[Source]

    # set by load(): the folder relative locations are resolved against
    base_dir: Path = Field(default=Path("."), exclude=True)

    @model_validator(mode="after")
    def _unique_sources(self) -> PipelineConfig:
        names = [s.name for s in self.sources]
        if len(set(names)) != len(names):
            raise ValueError("source names must be unique")
        if not any(s.registers_items for s in self.sources):
            raise ValueError("at least one item-level source must have registers_items: true")
        return self

    def source(self, name: str) -> Source:
        for source in self.sources:
            if source.name == name:
                return source
        from pipeline.errors import UnknownSource

        raise UnknownSource(f"no source {name!r} in pipeline {self.name!r}")

    @cached_property
    def state_dir(self) -> Path:
        if self.state:
            return _local(self.base_dir, self.state)
        data_dir = Path(os.environ.get("DBP_DATA_DIR", "./var"))
        return (data_dir / "pipeline" / self.name).resolve()

    @cached_property
    def staging_url(self) -> str:
        return (
            _url(self.base_dir, self.staging) if self.staging else str(self.state_dir / "staging")
        )

    @cached_property
    def output_url(self) -> str:
        return _url(self.base_dir, self.output) if self.output else str(self.state_dir / "output")

    def location(self, source: Source) -> str:
        assert source.location is not None
        if source.kind == "http" or "://" in source.location:
            return source.location
        return str(_local(self.base_dir, source.location))

    def conflict_rule(self, path: str) -> ConflictRule:
        return self.conflicts.paths.get(path, self.conflicts.rule)


def _local(base: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return (path if path.is_absolute() else base / path).resolve()


def _url(base: Path, value: str) -> str:
    return value if "://" in value else str(_local(base, value))


_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _expand(value: Any, where: str) -> Any:
    if isinstance(value, str):

        def one(match: re.Match[str]) -> str:
            name, default = match[1], match[2]
            if name in os.environ:
                return os.environ[name]
            if default is not None:
                return default
            raise ConfigInvalid(where, f"environment variable {name} is not set")

        return _ENV.sub(one, value)
    if isinstance(value, list):
        return [_expand(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: _expand(v, f"{where}.{k}" if where else str(k)) for k, v in value.items()}
    return value


def parse(data: Any, base_dir: Path) -> PipelineConfig:
    if not isinstance(data, dict):
        raise ConfigInvalid("(top)", "the pipeline configuration is a YAML mapping")
    try:
        config = PipelineConfig.model_validate({**_expand(data, ""), "base_dir": base_dir})
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top)"
        raise ConfigInvalid(where, first["msg"]) from None
    check_mappings(config)
    return config


def load(path: str | Path) -> PipelineConfig:
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise ConfigInvalid(str(path), f"cannot read the pipeline configuration: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigInvalid(str(path), f"not valid YAML: {exc}") from None
    return parse(data, path.resolve().parent)


# --- mappings against the catalogue --------------------------------------------------------------


def attribute_for(path: str) -> tuple[Attribute, VocabPath] | None:
    """The catalogue attribute a passport path belongs to (the attribute path equal to it or
    above it, most specific first), with that attribute path."""
    target = parse_path(path)
    best: tuple[Attribute, VocabPath] | None = None
    for attribute in load_catalogue().attributes:
        for apath in attribute.paths:
            steps = apath.steps
            above = len(steps) <= len(target.steps) and target.steps[: len(steps)] == steps
            if above and (best is None or apath.specificity > best[1].specificity):
                best = (attribute, apath)
    return best


def check_mappings(config: PipelineConfig) -> None:
    """Every mapped path lies in the catalogue, every unit converts to the catalogue's, every
    input is one the calculations know: a config error now, not a bad passport later."""
    from pipeline.calculations import INPUTS

    header = {"batteryIdentifier", "passportId", "passportVersion"}
    for source in config.sources:
        for field, target in source.fields.items():
            where = f"sources.{source.name}.fields.{field}"
            if target.unit is not None and not units.known(target.unit):
                raise ConfigInvalid(where, f"unknown unit {target.unit!r}")
            if target.path is not None:
                if target.path in header:
                    raise ConfigInvalid(where, f"{target.path} is set by the passport service")
                try:
                    found = attribute_for(target.path)
                except CatalogueError as exc:
                    raise ConfigInvalid(where, str(exc)) from None
                if found is None:
                    raise ConfigInvalid(
                        where, f"{target.path!r} is not a passport attribute path of the catalogue"
                    )
                attribute, apath = found
                exact = target.unit and attribute.unit and apath.text == target.path
                if exact and not units.convertible(target.unit, attribute.unit):
                    raise ConfigInvalid(
                        where,
                        f"unit {target.unit!r} does not convert to {attribute.unit!r} "
                        f"(attribute {attribute.number}, {attribute.name})",
                    )
            if target.input is not None:
                spec = INPUTS.get(target.input)
                if spec is None:
                    raise ConfigInvalid(
                        where,
                        f"unknown calculation input {target.input!r}; known: "
                        + ", ".join(sorted(INPUTS)),
                    )
                if target.unit and not units.convertible(target.unit, spec.unit):
                    raise ConfigInvalid(
                        where, f"unit {target.unit!r} does not convert to {spec.unit!r}"
                    )
                if spec.qualified and not target.qualifier:
                    raise ConfigInvalid(where, f"input {target.input} needs a qualifier field")
