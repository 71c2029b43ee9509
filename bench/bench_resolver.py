"""Issues 8 (2) and 16: QR scans under load, against a bare uvicorn endpoint serving the same bytes.

The service runs as deployed, by `dbp serve` (uvicorn, its JSON request log at info), on
PostgreSQL (one worker, as does the ceiling app, bench/ceiling.py); wrk (Debian) drives 8 and
64 connections from one thread on loopback, a few seconds per measurement, each repeated and
alternated with the ceiling. Every request asks for a uniformly random battery among the
distinct targets, for the linkset, the JSON passport and the consumer page. At 64 connections
a third server is alternated with them: the read floor
(bench/ceiling_read.py), bare uvicorn doing the one indexed read of the stored answer per request
and nothing else, put to the same aims, so a missed aim says whether the read alone misses it;
and the ceiling app again under the HTTP protocol the service runs with (service.http_protocol,
a response in one write), so the gain that protocol brings is not read as the service's own.

Data: one battery is registered and issued over HTTP (all four tiers, status entries, anchor
leaves), then cloned with set-based SQL (INSERT ... SELECT generate_series) into the rows the
read path touches: battery_routes, batteries, passports and the public-tier issued_credentials row.
The first TARGETS clones (100,000; 10,000 with BENCH_QUICK) are request targets, each with its own
public credential: the original's content about that battery (its serial, ids and item URI),
with its own id, signed by the operator's key (eddsa-jcs-2022: ~1 ms a signature, where
eddsa-rdfc-2022 takes ~16 ms, which would make seeding 100,000 take half an hour), so no two
scans verify the same bytes. Other clones up to 1,000,000 carry a stub document (a real one is
~9 KiB, 9 GB for a million) while the tables and their indexes hold every row. Before measuring,
each target is scanned once (the first scan after a change builds the battery's answers,
resolver.views); that warm-up is timed and reported.

Read path per scan: battery_routes by (gtin, serial) joined with resolver_views by primary key
(checked below with EXPLAIN), so the cost should not grow with the registry.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from bench.harness import Row, Stat, Target, quick, skipped
from bench.services import (
    Process,
    Run,
    Unavailable,
    create_operator,
    deployed_http,
    free_port,
    pg_database,
    service,
    service_env,
    uvicorn,
    wrk,
    wrk_binary,
    wrk_on,
)
from vocab.examples import load_example

SECTION = "resolver"
GTIN = "09520123456788"
LINKSET = "application/linkset+json"
JSON_LD = "application/ld+json"
KINDS = {"linkset": LINKSET, "JSON passport": JSON_LD, "HTML page": "text/html"}
CONNECTIONS = (8, 64)
# Aims of issue 16 at 64 connections: share of the ceiling's requests/s, p99.
TARGETS_BY_KIND = {
    "linkset": (0.30, 0.025),
    "HTML page": (0.15, 0.050),
}


def targets() -> int:
    """Batteries with distinct issued credentials that requests pick from (BENCH_RESOLVER_TARGETS
    overrides, e.g. for a smoke run)."""
    if os.environ.get("BENCH_RESOLVER_TARGETS"):
        return int(os.environ["BENCH_RESOLVER_TARGETS"])
    return 10_000 if quick() else 100_000


def serial(g: int) -> str:
    return f"BN{g:08d}"


def _issue_one(url: str, token: str) -> dict:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        battery = client.post("/batteries", json={"gtin": GTIN, "serial": serial(0)})
        battery.raise_for_status()
        battery = battery.json()
        passport = load_example("ev")
        for key in ("batteryIdentifier", "passportId", "passportVersion"):
            passport.pop(key, None)
        issued = client.post(f"/batteries/{battery['id']}/passport", json=passport)
        issued.raise_for_status()
    return battery


def _columns(conn, table: str) -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            text(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = :t ORDER BY ordinal_position"
            ),
            {"t": table},
        )
    ]


def _clone(conn, table: str, where: str, overrides: dict[str, str], lo: int, hi: int) -> None:
    """INSERT one copy of the row `where` selects per g in [lo, hi], columns as `overrides` say."""
    cols = _columns(conn, table)
    select = ", ".join(overrides.get(c, f"o.{c}") for c in cols)
    conn.execute(
        text(
            f"INSERT INTO {table} ({', '.join(cols)}) SELECT {select} "
            f"FROM {table} o CROSS JOIN generate_series(CAST(:lo AS integer), "
            f"CAST(:hi AS integer)) AS g WHERE {where}"
        ),
        {"lo": lo, "hi": hi},
    )


# Clone ids in g order (valid UUIDv4 text): index inserts then append at the right edge of each
# B-tree instead of touching random pages of indexes far larger than shared_buffers, which made
# seeding a million take several minutes. Lookups are the same depth either way.
def _id(prefix: str, g: str) -> str:
    return f"'00000000-0000-4000-{prefix}-' || lpad({g}::text, 12, '0')"


def battery_id(g: int) -> str:
    return f"00000000-0000-4000-8000-{g:012d}"


def passport_id(g: int) -> str:
    return f"urn:uuid:00000000-0000-4000-9000-{g:012d}"


def seed(database_url: str, original: str, lo: int, hi: int, real_below: int) -> float:
    """Clone the issued battery as batteries g = lo..hi; targets (g < real_below) get a copy of
    the real public credential (re-signed per battery by `sign_targets`), the others a stub.
    Returns seconds taken."""
    started = time.monotonic()
    bid = _id("8000", "g")
    pid = "'urn:uuid:' || " + _id("9000", "g")
    cid = _id("a000", "g")
    ser = "'BN' || lpad(g::text, 8, '0')"
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL synchronous_commit = off"))
        # Clones of rows that satisfy the foreign keys already: skip the per-row FK triggers.
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        for table, where, overrides in (
            ("battery_routes", f"o.id = '{original}'",
             {"id": bid, "serial": ser, "did": f"replace(o.did, o.id, {bid})"}),
            ("batteries", f"o.id = '{original}'",
             {"id": bid, "serial": ser, "did": f"replace(o.did, o.id, {bid})",
              "item_uri": f"replace(o.item_uri, '/21/' || o.serial, '/21/' || {ser})",
              "passport_id": pid}),
            ("passports", f"o.battery_id = '{original}'", {"id": pid, "battery_id": bid}),
            ("issued_credentials",
             f"o.battery_id = '{original}' AND o.kind = 'passport-tier' AND o.tier = 'public'",
             {"id": cid, "credential_id": "'urn:uuid:' || " + cid,
              "battery_id": bid, "passport_id": pid,
              "document": f"CASE WHEN g < {real_below} THEN o.document "
                          "ELSE '{\"stub\": true}'::json END"}),
        ):  # fmt: skip
            _clone(conn, table, where, overrides, lo, hi)
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.execute(text("VACUUM ANALYZE"))
        # The load's dirty pages written now, not by a checkpoint spread over the next minutes
        # of measurement (up to a million rows and their vacuum: past max_wal_size).
        conn.execute(text("CHECKPOINT"))
    engine.dispose()
    return time.monotonic() - started


def sign_targets(database_url: str, original: str, lo: int, hi: int) -> float:
    """Give each target g = lo..hi its own public credential: the original's content with the
    original battery's serial, ids and item URI replaced by the clone's, its own credential id,
    signed anew with the operator's key (eddsa-jcs-2022). Returns seconds taken."""
    import base64

    import orjson

    from bench.services import MASTER_KEY
    from issuer import operators
    from issuer.tables import Battery, IssuedCredential, Operator
    from proofs import dataintegrity
    from service.db import make_engine, session_scope

    started = time.monotonic()
    engine = make_engine(database_url)
    with session_scope(engine) as session:
        row = session.execute(
            text(
                "SELECT id FROM issued_credentials WHERE battery_id = :b "
                "AND kind = 'passport-tier' AND tier = 'public'"
            ),
            {"b": original},
        ).one()
        credential = session.get(IssuedCredential, row[0])
        battery = session.get(Battery, original)
        operator = session.get(Operator, credential.operator_id)
        signing = operators.signing_key(session, operator, base64.b64decode(MASTER_KEY))
        template = {k: v for k, v in credential.document.items() if k != "proof"}
        text_template = orjson.dumps(template).decode()
        names = (battery.serial, original, battery.passport_id, credential.credential_id)
    update = text("UPDATE issued_credentials SET document = CAST(:doc AS json) WHERE id = :id")
    chunk: list[dict] = []
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL synchronous_commit = off"))
        for g in range(lo, hi + 1):
            cid = f"00000000-0000-4000-a000-{g:012d}"
            swapped = text_template
            for old, new in zip(
                names, (serial(g), battery_id(g), passport_id(g), f"urn:uuid:{cid}"), strict=True
            ):
                swapped = swapped.replace(old, new)
            document = orjson.loads(swapped)
            document["id"] = f"urn:uuid:{cid}"
            signed = dataintegrity.create_proof(
                document,
                signing.key,
                signing.verification_method,
                cryptosuite="eddsa-jcs-2022",
                proof_purpose="assertionMethod",
            )
            chunk.append({"id": cid, "doc": orjson.dumps(signed).decode()})
            if len(chunk) == 2_000:
                conn.execute(update, chunk)
                chunk = []
        if chunk:
            conn.execute(update, chunk)
    engine.dispose()
    return time.monotonic() - started


def warm(url: str, lo: int, hi: int) -> float:
    """Scan each target once (the first scan after a change builds its answers); 8 at a time.
    Returns seconds taken."""
    from concurrent.futures import ThreadPoolExecutor

    started = time.monotonic()

    def scan(gs: range) -> None:
        with httpx.Client(base_url=url, timeout=120) as client:
            for g in gs:
                r = client.get(f"/01/{GTIN}/21/{serial(g)}", headers={"Accept": "text/html"})
                r.raise_for_status()

    step = 8
    with ThreadPoolExecutor(step) as pool:
        list(pool.map(scan, [range(lo + i, hi + 1, step) for i in range(step)]))
    return time.monotonic() - started


def check_plans(database_url: str) -> list[str]:
    """The read path's queries must use indexes: any sequential scan is named here."""
    engine = create_engine(database_url)
    queries = [
        "SELECT * FROM battery_routes r LEFT OUTER JOIN resolver_views v "
        f"ON v.battery_id = r.id WHERE r.gtin = '{GTIN}' AND r.serial = '{serial(100)}'",
    ]
    seq = []
    with engine.connect() as conn:
        for q in queries:
            plan = "\n".join(r[0] for r in conn.execute(text("EXPLAIN " + q)))
            if "Seq Scan" in plan:
                seq.append(q.split(" WHERE")[0] + ": " + plan.splitlines()[0])
    engine.dispose()
    return seq


def _script(tmp: Path, accept: str, how_many: int) -> Path:
    path = tmp / f"{accept.replace('/', '_').replace('+', '_')}-{how_many}.lua"
    path.write_text(
        f"""
math.randomseed(os.time())
wrk.headers["Accept"] = "{accept}"
request = function()
  local g = math.random(0, {how_many - 1})
  return wrk.format("GET", string.format("/01/{GTIN}/21/BN%08d", g))
end
"""
    )
    return path


def _measure(servers: tuple[Process, ...], script: Path, connections: int) -> tuple[list[Run], ...]:
    """Alternating runs of each of `servers` (ours, the ceiling, maybe the read floor)."""
    seconds = 2 if quick() else 4
    for server in servers:  # warm-up: connections, pools
        wrk(server.url, script, seconds=1, connections=connections)
    results: tuple[list[Run], ...] = tuple([] for _ in servers)
    for _ in range(2 if quick() else 3):
        for server, found in zip(servers, results, strict=True):
            found.append(wrk_on(server, script, seconds=seconds, connections=connections))
    return results


def _stats(results: list[Run]) -> tuple[Stat, Stat, Stat]:
    return (
        Stat.of([r.load.requests_per_s for r in results], "1/s"),
        Stat.of([r.load.p50_s for r in results]),
        Stat.of([r.load.p99_s for r in results]),
    )


def _cpu(results: list[Run]) -> Stat:
    return Stat.of([r.cpu_s for r in results])


def _rows(
    kind: str,
    size: int,
    connections: int,
    ours: list[Run],
    base: list[Run],
    floor: list[Run] | None = None,
    whole: list[Run] | None = None,
) -> tuple[list[Row], tuple[Stat, Stat, Stat]]:
    errors = sum(r.load.errors for r in ours)
    (rps, p50, p99), (brps, bp50, bp99) = _stats(ours), _stats(base)
    label = f"{kind}, {size:,} batteries, {connections} connections"
    note = f"{errors} errors" if errors else ""
    aims = TARGETS_BY_KIND.get(kind) if connections == 64 else None
    share = Target(f">= {aims[0]:.0%} of the ceiling", "ratio", ">=", aims[0]) if aims else None
    tail = Target(f"p99 < {aims[1] * 1e3:.0f} ms", "value", "<=", aims[1]) if aims else None
    extra = {"growth": "resolver", "kind": kind, "batteries": size, "connections": connections,
             "p50_ms": p50.median * 1e3, "p99_ms": p99.median * 1e3}  # fmt: skip
    base_name = "bare uvicorn, same bytes"
    rows = [
        Row(SECTION, f"{label}: requests/s", rps, base_name, brps, share, note, extra),
        Row(SECTION, f"{label}: p50 latency", p50, base_name, bp50),
        Row(SECTION, f"{label}: p99 latency", p99, base_name, bp99, tail),
        # what a scan costs the server, whatever else the machine was doing meanwhile
        Row(SECTION, f"{label}: CPU per request", _cpu(ours), base_name, _cpu(base)),
    ]
    if floor:
        # The same aims put to bench/ceiling_read.py: what any copy that reads each scan's answer
        # from the database gets here, before doing anything else a scan needs.
        frps, _, fp99 = _stats(floor)
        name = f"{label}, read floor (bare uvicorn + the one indexed read)"
        rows += [
            Row(SECTION, f"{name}: requests/s", frps, base_name, brps, share),
            Row(SECTION, f"{name}: p99 latency", fp99, base_name, bp99, tail),
            Row(SECTION, f"{name}: CPU per request", _cpu(floor), base_name, _cpu(base)),
        ]
    if whole:
        # The service runs under service.http_protocol (a response in one write); the aims are
        # the issue's, against uvicorn's own protocol: this is the ceiling on the service's.
        wrps, _, wp99 = _stats(whole)
        name = "bare uvicorn on the service's HTTP protocol (one write per response)"
        rows += [
            Row(SECTION, f"{label}: requests/s vs {name}", rps, name, wrps),
            Row(SECTION, f"{label}: p99 latency vs {name}", p99, name, wp99),
        ]
    return rows, (rps, p50, p99)


def run() -> list[Row]:
    try:
        wrk_binary()
    except Unavailable as exc:
        return [skipped(SECTION, "resolver under load", str(exc))]
    sizes = (10_000, 100_000) if quick() else (10_000, 100_000, 1_000_000)
    rows: list[Row] = []
    tmp = Path(tempfile.mkdtemp(prefix="dbp-bench-resolver-"))
    # Views are kept for a day: warming 100,000 targets takes longer than the default hour.
    with (
        pg_database("resolver") as db,
        service(db, DBP_BULK_WORKER="false", DBP_RESOLVER_VIEW_MAX_AGE_S="86400") as svc,
    ):
        did, token = create_operator(db, svc.url)
        battery = _issue_one(svc.url, token)
        path = f"/01/{GTIN}/21/{serial(0)}"
        with httpx.Client(base_url=svc.url, timeout=60) as client:
            for name, accept in (
                ("linkset.json", LINKSET),
                ("passport.json", JSON_LD),
                ("page.html", "text/html"),
            ):
                answer = client.get(path, headers={"Accept": accept})
                answer.raise_for_status()
                (tmp / name).write_bytes(answer.content)
        port = free_port()
        env = service_env(db, tmp, f"http://127.0.0.1:{port}", BENCH_CEILING_DIR=str(tmp))
        floor_port = free_port()
        floor_env = service_env(db, tmp, f"http://127.0.0.1:{floor_port}")
        with (
            uvicorn("bench.ceiling:app", env, port=port, log=tmp / "ceiling.log") as ceiling,
            uvicorn(
                "bench.ceiling_read:app", floor_env, port=floor_port, log=tmp / "floor.log"
            ) as floor,
            uvicorn(
                "bench.ceiling:app", env, port=free_port(), log=tmp / "whole.log",
                http=deployed_http(),
            ) as whole,
        ):  # fmt: skip
            done, real = 1, 1
            by_size: dict[int, dict[str, tuple]] = {}
            for size in sizes:
                now_real = min(size, targets())
                took = seed(db, battery["id"], done, size - 1, now_real)
                done = size
                print(f"  seeded {size:,} batteries ({took:.0f} s)", flush=True)
                if now_real > real:
                    took = sign_targets(db, battery["id"], real, now_real - 1)
                    print(f"  signed {now_real - real:,} distinct credentials ({took:.0f} s)")
                    took = warm(svc.url, real, now_real - 1)
                    print(f"  first scans of {now_real - real:,} targets ({took:.0f} s)")
                    rows.append(
                        Row(SECTION, "first scan after a change (builds the answers), 8 at once",
                            Stat.single(took / (now_real - real)), note=f"{now_real - real:,} "
                            "distinct batteries")
                    )  # fmt: skip
                    real = now_real
                slow = check_plans(db)
                if slow:
                    print(f"  sequential scans on the read path: {slow}", flush=True)
                by_size[size] = {}
                for kind, accept in KINDS.items():
                    for connections in CONNECTIONS:
                        # the read floor and the one-write ceiling at the aims' 64 connections
                        more = (floor, whole) if connections == 64 else ()
                        script = _script(tmp, accept, real)
                        ours, base, *floors = _measure((svc, ceiling, *more), script, connections)
                        found, stats = _rows(kind, size, connections, ours, base, *floors)
                        rows += found
                        by_size[size][(kind, connections)] = stats
            small = sizes[0]
            for large in sizes[1:]:
                for kind in KINDS:
                    now, then = by_size[large][(kind, 64)], by_size[small][(kind, 64)]
                    rows += [
                        Row(SECTION, f"{kind}: requests/s at {large:,} vs {small:,} batteries",
                            now[0], f"same at {small:,}", then[0],
                            Target("flat: >= 0.8x the 10,000 figure", "ratio", ">=", 0.8)),
                        Row(SECTION, f"{kind}: p99 at {large:,} vs {small:,} batteries",
                            now[2], f"same at {small:,}", then[2],
                            Target("flat: <= 1.25x the 10,000 figure", "ratio", "<=", 1.25)),
                    ]  # fmt: skip
    del did
    return rows
