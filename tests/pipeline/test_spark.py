"""`--engine spark`: the same transformations (the SQL of pipeline.transforms, transpiled by
sqlglot) give the same passports as DuckDB. Slow: the JVM starts (kept to one test)."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest
from example_testkit import DELIBERATE_ERRORS, copy_example, supplier_api

from pipeline import quarantine
from pipeline.config import load
from pipeline.engines import to_spark_sql
from pipeline.run import RunOptions, run
from pipeline.state import State
from pipeline.transforms import INHERIT, resolve_sql


def test_the_sql_is_transpiled_not_copied():
    spark_sql = to_spark_sql(resolve_sql("priority"))
    assert "ROW_NUMBER() OVER" in spark_sql and "COALESCE" in spark_sql
    assert "UNION ALL" in to_spark_sql(INHERIT)


@pytest.mark.slow
def test_spark_gives_identical_passports(tmp_path, monkeypatch):
    yaml = copy_example(tmp_path / "example")
    outcomes = {}
    with supplier_api() as url:
        monkeypatch.setenv("SUPPLIER_API_URL", url)
        for engine in ("duckdb", "spark"):
            monkeypatch.setenv("DBP_DATA_DIR", str(tmp_path / engine))
            outcomes[engine] = run(load(yaml), RunOptions(engine=engine))
            state = State(load(yaml).state_dir)
            entries = quarantine.entries(state)
            state.close()
            assert {(e["source"], e["field"], e["rule"]) for e in entries} == DELIBERATE_ERRORS

    def passports(out: str) -> dict:
        table = pq.read_table(f"{out}/passports.parquet").to_pylist()
        return {(r["gtin"], r["serial"]): (r["complete"], r["passport"], r["condition"])
                for r in table}  # fmt: skip

    duck, spark = outcomes["duckdb"], outcomes["spark"]
    assert spark.engine == "spark" and len(spark.complete) == len(duck.complete) == 1040
    assert passports(spark.output) == passports(duck.output)
    assert [c["path"] for c in spark.conflicts] == [c["path"] for c in duck.conflicts]


def test_duckdb_never_loads_an_extension_by_itself():
    from pipeline.engines import DuckDBEngine

    engine = DuckDBEngine()
    try:
        settings = engine.query(
            "SELECT current_setting('autoinstall_known_extensions') AS install, "
            "current_setting('autoload_known_extensions') AS load"
        ).to_pylist()
    finally:
        engine.close()
    assert settings == [{"install": False, "load": False}]
