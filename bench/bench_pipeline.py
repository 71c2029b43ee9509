"""The data pipeline's throughput: records per second through validation, correlation and
calculation, for ~100,000 source records (the example's sources generated 32 times larger:
33,600 batteries of two models), on DuckDB and on Spark local (local[2]) in one run.

What one measurement covers: reading the staged bytes (CSV, JSON, Excel, Parquet), mapping and
checking every record against the vocabulary (pipeline.records), loading the facts into the
engine, RESOLVE + CONFLICTS + ITEMS + AGGREGATE (correlation), the regulatory calculations, and
INHERIT (every battery's values with its batch's and model's), collected back as Arrow. Not
covered: staging, passport assembly and checks, Parquet output, issuance.

Baselines in the same run: for DuckDB, reading the same bytes into records without checking them
(the floor of the validation stage); for Spark, the DuckDB figure. The Spark session is started
before the clock runs (its start-up is its own row): a long-running Spark deployment pays it once.
Each figure is one cold run on distinct data (no caches between engines: each run builds its own
facts); BENCH_QUICK=1 uses a 10x smaller data set.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.harness import Row, Stat, quick

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "pipeline"


def _prepare(scale: int):
    import importlib.util

    from pipeline.config import load

    spec = importlib.util.spec_from_file_location("example_generate", EXAMPLE / "generate.py")
    generate = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(generate)
    out = Path(tempfile.mkdtemp(prefix="dbp-bench-pipeline-"))
    generate.generate(out, scale)
    (out / "pipeline.yaml").write_bytes((EXAMPLE / "pipeline.yaml").read_bytes())
    config = load(out / "pipeline.yaml")
    objects = {}
    for source in config.sources:
        if source.kind == "file":
            objects[source.name] = [(source.name, Path(config.location(source)).read_bytes())]
    # the supplier's declarations as the API's one page would carry them
    import orjson

    declarations = orjson.loads((out / "supplier/declarations.json").read_bytes())
    objects["supplier"] = [("supplier", orjson.dumps({"items": declarations["declarations"]}))]
    return config, objects


def _through(config, objects, engine) -> tuple[int, float, dict[str, float]]:
    from pipeline.run import calculate, correlate, inherit, merge_calculated, read_sources
    from pipeline.staging import ObjectStore

    phases = {}
    start = time.perf_counter()
    facts, records, _ = read_sources(config, ObjectStore(tempfile.mkdtemp()), None, "bench",
                                     "2026-01-01T00:00:00Z", objects=objects)  # fmt: skip
    phases["validation"] = time.perf_counter() - start
    mark = time.perf_counter()
    correlated = correlate(config, engine, facts)
    phases["correlation"] = time.perf_counter() - mark
    mark = time.perf_counter()
    calculated, errors = calculate(config, facts, correlated)
    merge_calculated(correlated, calculated)
    assert not errors, errors
    phases["calculation"] = time.perf_counter() - mark
    mark = time.perf_counter()
    effective = inherit(engine, correlated)
    phases["inheritance"] = time.perf_counter() - mark
    assert effective
    return records, time.perf_counter() - start, phases


def _read_only(config, objects) -> tuple[int, float]:
    from pipeline import formats
    from pipeline.run import _records_member

    start = time.perf_counter()
    count = 0
    for source in config.sources:
        for _, data in objects.get(source.name, []):
            count += len(formats.read(data, source.format, records=_records_member(source),
                                      sheet=source.sheet))  # fmt: skip
    return count, time.perf_counter() - start


def run() -> list[Row]:
    from pipeline.engines import DuckDBEngine, SparkEngine

    scale = 4 if quick() else 32
    config, objects = _prepare(scale)
    rows = []
    count, read_s = _read_only(config, objects)
    duck = DuckDBEngine()
    records, duck_s, duck_phases = _through(config, objects, duck)
    duck.close()
    assert records == count
    label = f"{records:,} records"
    duck_rate = Stat.single(records / duck_s, "1/s")
    rows.append(Row("pipeline", f"records/s validate+correlate+calculate, DuckDB ({label})",
                    duck_rate, "read the same bytes only", Stat.single(count / read_s, "1/s"),
                    extra={"phases_s": duck_phases, "records": records}))  # fmt: skip
    started = time.perf_counter()
    spark = SparkEngine()
    spark.spark.range(1).count()  # the JVM and the session are up
    rows.append(Row("pipeline", "Spark local[2] session start (once per process)",
                    Stat.single(time.perf_counter() - started)))  # fmt: skip
    config2, objects2 = config, objects
    records2, spark_s, spark_phases = _through(config2, objects2, spark)
    spark.close()
    rows.append(Row("pipeline", f"records/s validate+correlate+calculate, Spark local ({label})",
                    Stat.single(records2 / spark_s, "1/s"), "DuckDB, same data, same run",
                    duck_rate, extra={"phases_s": spark_phases, "records": records2}))  # fmt: skip
    for name, phases in (("DuckDB", duck_phases), ("Spark", spark_phases)):
        for phase, seconds in phases.items():
            rows.append(Row("pipeline", f"  {name}: {phase}", Stat.single(seconds)))
    return rows
