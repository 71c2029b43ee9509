"""Issue 8 (2): QR resolution under load, against a bare uvicorn endpoint returning the same bytes.

The service runs under uvicorn on PostgreSQL (one worker, as does the ceiling app,
bench/ceiling.py); wrk (Debian) drives 64 connections from one thread on loopback, a few seconds
per measurement, each repeated and alternated with the ceiling. Every request asks for a random
battery among 10,000 targets, so the index lookups, not one cached row, are measured.

Data: one battery is registered and issued over HTTP (all four tiers, status entries, anchor
leaves), then cloned with set-based SQL (INSERT ... SELECT generate_series) into the rows the
read path touches: battery_routes, batteries, passports and the public-tier issued_credentials row.
The 10,000 request targets carry the real public credential; the other clones of the 1,000,000
carry a stub document, which keeps seeding within about a minute (a real document is ~9 KiB, 9 GB
for a million) while the tables and their indexes hold every row. Read path per request:
battery_routes by (gtin, serial), batteries and operators by primary key, passports by
(id, version), issued_credentials by (passport_id, passport_version): all unique or indexed
(checked below with EXPLAIN), so the cost should not grow with the registry.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from bench.harness import Row, Stat, Target, quick, skipped
from bench.services import (
    LoadResult,
    Unavailable,
    create_operator,
    free_port,
    pg_database,
    service,
    service_env,
    uvicorn,
    wrk,
    wrk_binary,
)
from vocab.examples import load_example

SECTION = "resolver"
GTIN = "09520123456788"
TARGETS = 10_000
LINKSET = "application/linkset+json"
KINDS = {"linkset": LINKSET, "HTML page": "text/html"}


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


def seed(database_url: str, original: str, lo: int, hi: int, stride: int) -> float:
    """Clone the issued battery as batteries g = lo..hi; targets (g % stride = 0) get the real
    public credential, the others a stub. Returns seconds taken."""
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
              "document": f"CASE WHEN g % {stride} = 0 THEN o.document "
                          "ELSE '{\"stub\": true}'::json END"}),
        ):  # fmt: skip
            _clone(conn, table, where, overrides, lo, hi)
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return time.monotonic() - started


def check_plans(database_url: str) -> list[str]:
    """The read path's queries must use indexes: any sequential scan is named here."""
    engine = create_engine(database_url)
    queries = [
        f"SELECT * FROM battery_routes WHERE gtin = '{GTIN}' AND serial = '{serial(100)}'",
        f"SELECT * FROM batteries WHERE id = '{battery_id(100)}'",
        f"SELECT * FROM passports WHERE id = '{passport_id(100)}' ORDER BY version DESC LIMIT 1",
        f"SELECT * FROM issued_credentials WHERE passport_id = '{passport_id(100)}' "
        "AND passport_version = 1 AND kind = 'passport-tier'",
    ]
    seq = []
    with engine.connect() as conn:
        for q in queries:
            plan = "\n".join(r[0] for r in conn.execute(text("EXPLAIN " + q)))
            if "Seq Scan" in plan:
                seq.append(q.split(" WHERE")[0] + ": " + plan.splitlines()[0])
    engine.dispose()
    return seq


def _script(tmp: Path, accept: str, stride: int) -> Path:
    path = tmp / f"{accept.replace('/', '_').replace('+', '_')}-{stride}.lua"
    path.write_text(
        f"""
math.randomseed(os.time())
wrk.headers["Accept"] = "{accept}"
request = function()
  local g = math.random(0, {TARGETS - 1}) * {stride}
  return wrk.format("GET", string.format("/01/{GTIN}/21/BN%08d", g))
end
"""
    )
    return path


def _measure(ours_url: str, ceiling_url: str, script: Path, *, slow: bool) -> tuple[list, list]:
    """Alternating runs of ours and the ceiling. The page verifies its credentials on every
    request (~100x the linkset's work), so at 64 connections a request waits seconds in the
    queue: its runs are longer, so that enough requests complete inside each run."""
    seconds = (2 if quick() else 4) * (3 if slow else 1)
    wrk(ours_url, script, seconds=1)  # warm-up: connections, pools, caches
    wrk(ceiling_url, script, seconds=1)
    ours, ceiling = [], []
    for _ in range(2 if quick() or slow else 3):
        ours.append(wrk(ours_url, script, seconds=seconds))
        ceiling.append(wrk(ceiling_url, script, seconds=2 if quick() else 4))
    return ours, ceiling


def _stats(results: list[LoadResult]) -> tuple[Stat, Stat, Stat]:
    return (
        Stat.of([r.requests_per_s for r in results], "1/s"),
        Stat.of([r.p50_s for r in results]),
        Stat.of([r.p99_s for r in results]),
    )


def run() -> list[Row]:
    try:
        wrk_binary()
    except Unavailable as exc:
        return [skipped(SECTION, "resolver under load", str(exc))]
    sizes = (10_000, 100_000) if quick() else (10_000, 1_000_000)
    rows: list[Row] = []
    tmp = Path(tempfile.mkdtemp(prefix="dbp-bench-resolver-"))
    with pg_database("resolver") as db, service(db, DBP_BULK_WORKER="false") as svc:
        did, token = create_operator(db, svc.url)
        battery = _issue_one(svc.url, token)
        path = f"/01/{GTIN}/21/{serial(0)}"
        bodies = {}
        with httpx.Client(base_url=svc.url, timeout=60) as client:
            for name, accept in (("linkset.json", LINKSET), ("page.html", "text/html")):
                answer = client.get(path, headers={"Accept": accept})
                answer.raise_for_status()
                bodies[name] = answer.content
                (tmp / name).write_bytes(answer.content)
        port = free_port()
        env = service_env(db, tmp, f"http://127.0.0.1:{port}", BENCH_CEILING_DIR=str(tmp))
        with uvicorn("bench.ceiling:app", env, port=port, log=tmp / "ceiling.log") as ceiling:
            done = 1
            by_size: dict[int, dict[str, tuple]] = {}
            for size in sizes:
                stride = max(1, size // TARGETS)
                took = seed(db, battery["id"], done, size - 1, stride)
                done = size
                print(f"  seeded {size:,} batteries ({took:.0f} s)", flush=True)
                slow = check_plans(db)
                if slow:
                    print(f"  sequential scans on the read path: {slow}", flush=True)
                with httpx.Client(base_url=svc.url, timeout=60) as client:  # a clone resolves
                    probe = client.get(f"/01/{GTIN}/21/{serial(stride * 7)}", headers={
                        "Accept": LINKSET})  # fmt: skip
                    probe.raise_for_status()
                by_size[size] = {}
                for kind, accept in KINDS.items():
                    ours, base = _measure(
                        svc.url, ceiling.url, _script(tmp, accept, stride), slow=kind != "linkset"
                    )
                    errors = sum(r.errors for r in ours)
                    (rps, p50, p99), (brps, bp50, bp99) = _stats(ours), _stats(base)
                    by_size[size][kind] = (rps, p50, p99)
                    label = f"{kind}, {size:,} batteries"
                    note = f"{errors} errors" if errors else ""
                    extra = {"growth": "resolver", "kind": kind, "batteries": size,
                             "p50_ms": p50.median * 1e3, "p99_ms": p99.median * 1e3}  # fmt: skip
                    rows += [
                        Row(SECTION, f"{label}: requests/s", rps, "bare uvicorn, same bytes",
                            brps, Target(">= 80% of the ceiling", "ratio", ">=", 0.8), note,
                            extra),
                        Row(SECTION, f"{label}: p50 latency", p50, "bare uvicorn, same bytes",
                            bp50),
                        Row(SECTION, f"{label}: p99 latency", p99, "bare uvicorn, same bytes",
                            bp99, Target("p99 < 20 ms", "value", "<=", 0.020)),
                    ]  # fmt: skip
            small, large = sizes
            for kind in KINDS:
                rows.append(
                    Row(
                        SECTION,
                        f"{kind}: requests/s at {large:,} vs {small:,} batteries",
                        by_size[large][kind][0],
                        f"same at {small:,}",
                        by_size[small][kind][0],
                        Target("flat: >= 0.8x the 10,000 figure", "ratio", ">=", 0.8),
                    )  # fmt: skip
                )
                rows.append(
                    Row(
                        SECTION,
                        f"{kind}: p99 at {large:,} vs {small:,} batteries",
                        by_size[large][kind][2],
                        f"same at {small:,}",
                        by_size[small][kind][2],
                        Target("flat: <= 1.25x the 10,000 figure", "ratio", "<=", 1.25),
                    )  # fmt: skip
                )
    del did
    return rows
