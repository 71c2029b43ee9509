"""The two engines the transformations run on: DuckDB embedded (default) and Apache Spark
(`--engine spark`, local mode unless SPARK_MASTER / spark.master says otherwise).

The SQL of `pipeline.transforms` is written once in DuckDB's dialect; the Spark engine transpiles
it with sqlglot, so there is one definition of each transformation, not two copies.

No engine extension is ever downloaded: DuckDB starts with extension auto-install and auto-load
off (source files are read by pyarrow and openpyxl, never by DuckDB extensions), and the Spark
session is built without `spark.jars.packages`.
"""

from __future__ import annotations

import os
import shutil
from functools import cache
from typing import Protocol

import pyarrow as pa

from pipeline.errors import EngineUnavailable


class Engine(Protocol):
    name: str

    def load(self, name: str, table: pa.Table) -> None: ...

    def query(self, sql: str) -> pa.Table: ...

    def close(self) -> None: ...


class DuckDBEngine:
    name = "duckdb"

    def __init__(self) -> None:
        import duckdb

        self.con = duckdb.connect(
            ":memory:",
            config={
                "autoinstall_known_extensions": False,
                "autoload_known_extensions": False,
                "threads": max(1, os.cpu_count() or 1),
            },
        )
        self._tables: dict[str, pa.Table] = {}

    def load(self, name: str, table: pa.Table) -> None:
        self._tables[name] = table  # keep it alive: DuckDB reads the Arrow buffers in place
        self.con.register(name, table)

    def query(self, sql: str) -> pa.Table:
        relation = self.con.sql(sql)
        # DuckDB >= 1.4 names it to_arrow_table(); older releases arrow()
        return (
            relation.to_arrow_table() if hasattr(relation, "to_arrow_table") else relation.arrow()
        )

    def close(self) -> None:
        self.con.close()


def to_spark_sql(sql: str) -> str:
    import sqlglot

    [out] = sqlglot.transpile(sql, read="duckdb", write="spark")
    return out


@cache
def _spark_session():
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise EngineUnavailable(
            "--engine spark needs a Java runtime (Debian: apt-get install default-jre-headless)"
        )
    try:
        from pyspark.sql import SparkSession
    except ImportError:  # pragma: no cover - pyspark is the `spark` extra
        raise EngineUnavailable(
            "--engine spark needs pyspark: pip install 'dbp[spark]' (and a Java runtime)"
        ) from None
    builder = (
        SparkSession.builder.appName("dbp-pipeline")
        .master(os.environ.get("SPARK_MASTER", "local[2]"))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", os.environ.get("DBP_SPARK_PARTITIONS", "4"))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.driver.memory", os.environ.get("DBP_SPARK_DRIVER_MEMORY", "2g"))
        .config("spark.sql.ansi.enabled", "true")
    )
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


class SparkEngine:
    name = "spark"

    def __init__(self) -> None:
        self.spark = _spark_session()
        self._views: list[str] = []

    def load(self, name: str, table: pa.Table) -> None:
        frame = self.spark.createDataFrame(table)
        frame.createOrReplaceTempView(name)
        self._views.append(name)

    def query(self, sql: str) -> pa.Table:
        return self.spark.sql(to_spark_sql(sql)).toArrow()

    def close(self) -> None:
        for name in self._views:
            self.spark.catalog.dropTempView(name)
        self._views.clear()


def make_engine(name: str) -> Engine:
    if name == "duckdb":
        return DuckDBEngine()
    if name == "spark":
        return SparkEngine()
    raise EngineUnavailable(f"unknown engine {name!r}: duckdb or spark")
