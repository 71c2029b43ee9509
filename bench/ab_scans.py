"""A/B of the QR scan read path (issue 16), in one run on one seeded database: the service with
DBP_RESOLVER_ASYNC_SCANS=false (worker thread + SQLAlchemy) and =true (async psycopg in the event
loop) run side by side on the same PostgreSQL database, with the bare ceiling (bench/ceiling.py),
and are measured alternately with wrk (64 connections, a uniformly random target per request).
CPU per request is the uvicorn process's user+system time over the run divided by its requests.

    .venv/bin/python -m bench.ab_scans            # BENCH_AB_TARGETS (2000), BENCH_AB_ROUNDS (3)

BENCH_AB_WORKERS (1) runs the new copy and the ceiling with that many uvicorn workers each (the
old copy keeps one); CPU is then summed over the workers.

BENCH_AB_BASE=DIR makes the old copy another source tree (a checkout of main, say: `git worktree
add /tmp/base main`) with async scans too, named `base`: a before/after of a change in one run.
BENCH_AB_SERVERS (uvicorn) lists the servers (bench.services.SERVERS) the new copy and the
ceiling each run under, e.g. `uvicorn,granian` (granian: `pip install granian`); each copy's
share is of the ceiling under its own server.

Not part of `make bench`: it compares two settings of this tree; bench_resolver gives the
figures of record."""

from __future__ import annotations

import os
import statistics
import tempfile
from contextlib import ExitStack
from pathlib import Path

import httpx

from bench import bench_resolver as br
from bench.services import (
    Process,
    create_operator,
    free_port,
    pg_database,
    service,
    service_env,
    uvicorn,
    wrk,
    wrk_on,
)


def _run(server: Process, script: Path, seconds: float) -> tuple[float, float, float]:
    run = wrk_on(server, script, seconds=seconds, connections=64)
    assert run.load.errors == 0, f"{run.load.errors} errors at {server.url}"
    return run.load.requests_per_s, run.load.p99_s, run.cpu_s


def main() -> None:
    targets = int(os.environ.get("BENCH_AB_TARGETS", "2000"))
    rounds = int(os.environ.get("BENCH_AB_ROUNDS", "3"))
    seconds = float(os.environ.get("BENCH_AB_SECONDS", "4"))
    workers = int(os.environ.get("BENCH_AB_WORKERS", "1"))
    base = os.environ.get("BENCH_AB_BASE")
    servers = [s.strip() for s in os.environ.get("BENCH_AB_SERVERS", "uvicorn").split(",")]
    if "uvicorn" not in servers:  # the old copy's ceiling
        servers.insert(0, "uvicorn")
    tmp = Path(tempfile.mkdtemp(prefix="dbp-bench-ab-"))
    extra = {"DBP_BULK_WORKER": "false", "DBP_RESOLVER_VIEW_MAX_AGE_S": "86400"}
    with ExitStack() as stack:
        db = stack.enter_context(pg_database("resolver_ab"))
        if base:
            old_name = "base"
            old = stack.enter_context(
                service(db, tree=Path(base).resolve(), DBP_RESOLVER_ASYNC_SCANS="true", **extra)
            )
        else:
            old_name = "old"
            old = stack.enter_context(service(db, DBP_RESOLVER_ASYNC_SCANS="false", **extra))
        _did, token = create_operator(db, old.url)
        battery = br._issue_one(old.url, token)
        path = f"/01/{br.GTIN}/21/{br.serial(0)}"
        with httpx.Client(base_url=old.url, timeout=60) as client:
            for name, accept in (("linkset.json", br.LINKSET), ("page.html", "text/html"),
                                 ("passport.json", br.JSON_LD)):  # fmt: skip
                answer = client.get(path, headers={"Accept": accept})
                answer.raise_for_status()
                (tmp / name).write_bytes(answer.content)
        br.seed(db, battery["id"], 1, targets - 1, targets)
        br.sign_targets(db, battery["id"], 1, targets - 1)
        br.warm(old.url, 1, targets - 1)
        # the new path serves the same public URL's views: same DBP_PUBLIC_URL as the old copy
        runs = {old_name: (old, "uvicorn")}
        for server in servers:
            at = "" if server == "uvicorn" else f"@{server}"
            new = stack.enter_context(
                service(
                    db,
                    workers=workers,
                    server=server,
                    DBP_RESOLVER_ASYNC_SCANS="true",
                    DBP_PUBLIC_URL=old.url,
                    **extra,
                )
            )
            port = free_port()
            env = service_env(db, tmp, f"http://127.0.0.1:{port}", BENCH_CEILING_DIR=str(tmp))
            ceiling = stack.enter_context(
                uvicorn(
                    "bench.ceiling:app",
                    env,
                    port=port,
                    workers=workers,
                    log=tmp / f"ceiling{at}.log",
                    server=server,
                )
            )
            runs[f"new{at}"] = (new, server)
            runs[f"ceiling{at}"] = (ceiling, server)
        for kind, accept in (("linkset", br.LINKSET), ("page", "text/html")):
            script = br._script(tmp, accept, targets)
            for copy, _server in runs.values():
                wrk(copy.url, script, seconds=1, connections=64)  # warm-up: connections, pools
            got: dict[str, list[tuple[float, float, float]]] = {k: [] for k in runs}
            for _ in range(rounds):
                for name, (copy, _server) in runs.items():
                    got[name].append(_run(copy, script, seconds))
            for name, results in got.items():
                at = "" if runs[name][1] == "uvicorn" else f"@{runs[name][1]}"
                ceiling_rps = statistics.median(r[0] for r in got[f"ceiling{at}"])
                rps = [r[0] for r in results]
                print(
                    f"{kind:8} {name:16} req/s {' '.join(f'{x:7.0f}' for x in rps)}"
                    f"  median {statistics.median(rps):7.0f}"
                    f" ({statistics.median(rps) / ceiling_rps:6.1%} of ceiling{at})"
                    f"  p99 ms {' '.join(f'{r[1] * 1e3:6.1f}' for r in results)}"
                    f"  CPU ms/req {' '.join(f'{r[2] * 1e3:5.3f}' for r in results)}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
