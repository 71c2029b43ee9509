"""Database engine and schema migrations (SQLite by default, PostgreSQL in production)."""

from __future__ import annotations

import importlib
import select
import time
from importlib import resources
from pathlib import Path
from typing import Final

import orjson
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError

from infra.db import POOL_TIMEOUT_S, watch_pool
from infra.db import session_scope as session_scope  # one transaction; lives in infra (re-export)
from infra.files import private_dir, private_file

# Its flush listener invalidates materialized scan answers on every write in this process,
# whichever package writes (resolver.views).
from resolver import views as _resolver_views  # noqa: F401

# Packages that own tables. Each keeps its Alembic revisions in `<package>/migrations/` on a branch
# named after the package, so packages add migrations without touching each other's history.
TABLE_PACKAGES = ("issuer", "resolver", "verifier", "anchor", "portal")


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1].split("?", 1)[0]
        if path and path != ":memory:":
            # the database holds sealed keys and token hashes: only this user reads it (SQLite
            # gives its -wal and -shm files the database file's mode)
            if not Path(path).parent.exists():
                private_dir(Path(path).parent)
            private_file(Path(path))
        # As many connections as anyio's 40 handler threads (SQLAlchemy's default of 5 + 10
        # left 25 of 64 concurrent page requests queueing for one); SQLite connections are cheap.
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            json_serializer=_json_dumps,
            pool_size=20,
            max_overflow=20,
            pool_timeout=POOL_TIMEOUT_S,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        watch_pool(engine)
        return engine
    # Up to 40 connections: one for each of anyio's 40 threadpool threads that run the sync
    # handlers, so no handler thread queues for a connection (at 10+10, 64 concurrent scans
    # left half the threads waiting on the pool). Connections are checked on checkout
    # (`_checked_on_checkout`) instead of with pool_pre_ping: without a check, the first
    # request on each connection after a database restart or failover fails with a 500.
    # A request waits at most POOL_TIMEOUT_S for a connection, then gets a 503 with Retry-After
    # (service/problems.py) rather than hanging (the default is 30 s).
    engine = create_engine(
        url,
        pool_size=20,
        max_overflow=20,
        pool_recycle=1800,
        pool_timeout=POOL_TIMEOUT_S,
        json_serializer=_json_dumps,
    )
    event.listen(engine, "checkin", _returned)
    event.listen(engine, "checkout", _checked_on_checkout)
    watch_pool(engine)
    return engine


# pool_pre_ping sends a `SELECT 1` round trip on every checkout: on a QR scan served from its
# stored bytes that was half of the database work (py-spy under wrk: ~12% of the process's
# samples, plus the server's side of it). A connection that has sat in the pool has nothing to
# read; when the server ends it (restart, failover, pg_terminate_backend) it sends an error and
# closes the socket, which makes the socket readable. So a checkout pings only when the socket
# is readable or the connection has been idle for PING_IDLE_S (where a peer may have vanished
# without a word), and a failed ping makes the pool replace the connection, as pre-ping does.
PING_IDLE_S: Final = 10.0


def _returned(_dbapi_connection, record) -> None:
    record.info["dbp_returned_at"] = time.monotonic()


def _checked_on_checkout(dbapi_connection, record, _proxy) -> None:
    returned_at = record.info.pop("dbp_returned_at", None)
    if returned_at is None:  # just connected
        return
    try:
        # poll, not select: select() refuses descriptors >= 1024 (FD_SETSIZE), which a process
        # with many client sockets has; it reports a hang-up or error too
        poller = select.poll()
        poller.register(dbapi_connection.fileno(), select.POLLIN)
        quiet = not poller.poll(0)
    except Exception:  # noqa: BLE001 - closed already, or no descriptor: the ping decides
        quiet = False
    if quiet and time.monotonic() - returned_at < PING_IDLE_S:
        return
    try:
        _ping(dbapi_connection)
    except Exception as exc:  # noqa: BLE001 - any failure: the pool takes a new connection
        raise DisconnectionError(f"the connection failed its check: {exc}") from exc


def _ping(dbapi_connection) -> None:
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    try:
        dbapi_connection.execute("SELECT 1")
    finally:
        if not dbapi_connection.closed:
            dbapi_connection.autocommit = autocommit


def _json_dumps(value: object) -> str:
    # JSON columns hold signed credentials of several KiB each: orjson writes them ~10x faster
    # than the standard library, with the same result for JSON data.
    return orjson.dumps(value).decode()


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run while the bulk worker writes; foreign keys are off by default in SQLite.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def import_tables() -> None:
    """Import every package's table module so `SQLModel.metadata` knows all tables."""
    for package in TABLE_PACKAGES:
        try:
            importlib.import_module(f"{package}.tables")
        except ModuleNotFoundError as exc:
            if exc.name != f"{package}.tables":
                raise


def _version_locations() -> list[str]:
    locations = []
    for package in TABLE_PACKAGES:
        folder = resources.files(package).joinpath("migrations")
        if folder.is_dir():
            locations.append(str(folder))
    return locations


def alembic_config(engine: Engine | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "service:migrations")
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", ":".join(_version_locations()))
    if engine is not None:
        cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision of every package's branch."""
    command.upgrade(alembic_config(engine), "heads")


class SchemaNotCurrent(Exception):
    """The database schema lags behind this code: run `dbp migrate`."""


def require_current_schema(engine: Engine) -> None:
    """Refuse to run on a schema older than this code (DBP_MIGRATE_ON_START=false, where a
    separate `dbp migrate` step owns migrations)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    wanted = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    missing = wanted - current
    if missing:
        raise SchemaNotCurrent(
            f"the database schema is not current ({len(missing)} migration branch(es) behind: "
            f"{', '.join(sorted(missing))}); run `dbp migrate` first"
        )
