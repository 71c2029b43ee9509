"""The pipeline's own state, in one SQLite file in its state directory (`STATE/state.sqlite3`).

Why not tables in the service database: the pipeline is a client of the passport service (it
issues over HTTP with an operator token) and may run on another machine than the service, next to
its staging store, so its state lives with it. Why SQLite and not a DuckDB file: `dbp pipeline
quarantine list` and `lineage` must read while a run writes, which SQLite's WAL allows and
DuckDB's single-writer file lock does not.

Tables: runs; source_objects (which staged objects make up each source's current data);
cursors (incremental HTTP sources); quarantine (bad records with field path and rule, and the
fixes or overrides an operator gave); quarantine_fixes (every fix an operator submitted from the
company portal, accepted or refused: who, when, the values before and after, why); issued (per
battery: its id at the service, the hash of the static passport data and of the dynamic data last
sent: exactly-once); items and lineage (where every value of the last run came from, for
`dbp pipeline lineage`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

SCHEMA = """
create table if not exists runs (
  id text primary key, started_at text not null, finished_at text, state text not null,
  engine text not null, summary text
);
create table if not exists source_objects (
  source text not null, object_key text not null, origin text not null, fetched_at text not null,
  run_id text not null, active integer not null default 1, primary key (source, object_key)
);
create table if not exists cursors (source text primary key, value text not null);
create table if not exists quarantine (
  id text primary key, source text not null, object_key text not null, row integer not null,
  field text not null, path text, rule text not null, message text not null, record text not null,
  first_run text not null, last_run text not null, state text not null, fix text, reason text,
  updated_at text not null
);
create index if not exists quarantine_state on quarantine (state);
create table if not exists quarantine_fixes (
  seq integer primary key autoincrement, at text not null, source text not null,
  object_key text not null, row integer not null, entries text not null, actor text not null,
  channel text not null, changes text not null, reason text, outcome text not null,
  problems text
);
create table if not exists issued (
  gtin text not null, serial text not null, battery_id text not null, passport_id text,
  version integer not null, static_hash text not null, dynamic_hash text, item_uri text,
  run_id text not null, primary key (gtin, serial)
);
create table if not exists items (
  gtin text not null, serial text not null, batch text not null, primary key (gtin, serial)
);
create table if not exists lineage (
  level text not null, gtin text not null, batch text not null, serial text not null,
  path text not null, run_id text not null, origin text not null,
  primary key (level, gtin, batch, serial, path)
);
"""


class State:
    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "state.sqlite3"
        self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("pragma journal_mode=wal")
        self.db.execute("pragma busy_timeout=30000")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("begin immediate")
        try:
            yield self.db
            self.db.execute("commit")
        except BaseException:
            self.db.execute("rollback")
            raise

    def rows(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        return [dict(r) for r in self.db.execute(sql, tuple(params)).fetchall()]

    def one(self, sql: str, params: Iterable[Any] = ()) -> dict[str, Any] | None:
        row = self.db.execute(sql, tuple(params)).fetchone()
        return dict(row) if row is not None else None

    # --- runs ------------------------------------------------------------------------------------

    def start_run(self, run_id: str, started_at: str, engine: str) -> None:
        self.db.execute(
            "insert into runs (id, started_at, state, engine) values (?, ?, 'running', ?)",
            (run_id, started_at, engine),
        )

    def finish_run(self, run_id: str, finished_at: str, state: str, summary: dict) -> None:
        self.db.execute(
            "update runs set finished_at = ?, state = ?, summary = ? where id = ?",
            (finished_at, state, orjson.dumps(summary).decode(), run_id),
        )

    # --- sources ---------------------------------------------------------------------------------

    def objects(self, source: str) -> list[dict[str, Any]]:
        return self.rows(
            "select * from source_objects where source = ? and active = 1 order by fetched_at, "
            "object_key",
            (source,),
        )

    def replace_objects(self, source: str, objects: list[tuple[str, str]], run_id: str, at: str):
        """A file drop: its current files are the source's data; earlier ones become inactive."""
        with self.transaction() as db:
            db.execute("update source_objects set active = 0 where source = ?", (source,))
            for key, origin in objects:
                db.execute(
                    "insert into source_objects (source, object_key, origin, fetched_at, run_id, "
                    "active) values (?, ?, ?, ?, ?, 1) on conflict (source, object_key) do update "
                    "set active = 1, origin = excluded.origin",
                    (source, key, origin, at, run_id),
                )

    def add_objects(self, source: str, objects: list[tuple[str, str]], run_id: str, at: str):
        """Pulled pages and pushed requests accumulate: every one stays part of the source."""
        with self.transaction() as db:
            for key, origin in objects:
                db.execute(
                    "insert into source_objects (source, object_key, origin, fetched_at, run_id) "
                    "values (?, ?, ?, ?, ?) on conflict (source, object_key) do nothing",
                    (source, key, origin, at, run_id),
                )

    def cursor(self, source: str) -> str | None:
        row = self.one("select value from cursors where source = ?", (source,))
        return row["value"] if row else None

    def set_cursor(self, source: str, value: str) -> None:
        self.db.execute(
            "insert into cursors (source, value) values (?, ?) on conflict (source) do update "
            "set value = excluded.value",
            (source, value),
        )
