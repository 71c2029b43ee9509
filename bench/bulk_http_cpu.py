"""Bulk issuance over HTTP as bench_issuer runs it (uvicorn, PostgreSQL, the ev passport), with
the CPU per passport of the uvicorn process, its signing processes and the PostgreSQL backends
of its database (issue 15): on a shared machine the rate swings 2-4x, the CPU per passport
hardly does.

    .venv/bin/python -m bench.bulk_http_cpu [N=300]

One warm-up job of N (it starts the signing pool), then a measured job of N."""

import contextlib
import os
import sys
import time
from pathlib import Path

import httpx


def cpu_tree(pid: int) -> dict[int, float]:
    """CPU seconds of a process and of its children (any of its threads may have spawned them)."""
    tick = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError):
            pids.extend(int(c) for c in (task / "children").read_text().split())
    per = {}
    for p in pids:
        with contextlib.suppress(FileNotFoundError):
            f = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            per[p] = (int(f[11]) + int(f[12])) / tick
    return per


def main():
    import psycopg

    from bench.bench_issuer import GTIN, _passport
    from bench.services import create_operator, pg_database, service

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    with pg_database("svccpu") as db, service(db) as svc:
        _, token = create_operator(db, svc.url)
        pid = svc.process.pid
        c = httpx.Client(
            base_url=svc.url, headers={"Authorization": f"Bearer {token}"}, timeout=120
        )
        pp = _passport()

        def job(tag):
            body = {
                "items": [{"gtin": GTIN, "serial": f"{tag}{i}", "passport": pp} for i in range(n)]
            }
            t = time.perf_counter()
            r = c.post("/batteries:bulk", json=body, headers={"Idempotency-Key": tag})
            r.raise_for_status()
            loc = f"/jobs/{r.json()['jobId']}"
            while c.get(loc, params={"limit": 1}).json()["state"] != "finished":
                time.sleep(0.1)
            return time.perf_counter() - t

        job("warm")
        conn = psycopg.connect(db.replace("postgresql+psycopg", "postgresql"), autocommit=True)
        pg = [
            r[0]
            for r in conn.execute(
                "select pid from pg_stat_activity"
                " where datname = current_database() and pid <> pg_backend_pid()"
            )
        ]
        b_tree = cpu_tree(pid)
        b_pg = {p: sum(cpu_tree(p).values()) for p in pg}
        el = job("run")
        a_tree = cpu_tree(pid)
        a_pg = {p: sum(cpu_tree(p).values()) for p in pg}
        web = a_tree.get(pid, 0) - b_tree.get(pid, 0)
        kids = sum(v - b_tree.get(p, 0) for p, v in a_tree.items() if p != pid)
        pgc = sum(a_pg[p] - b_pg[p] for p in pg)
        print(
            f"{n} items: {n / el:.1f}/s; CPU ms per passport: uvicorn process {web / n * 1e3:.1f}, "
            f"signing processes {kids / n * 1e3:.1f}, PG backends {pgc / n * 1e3:.1f}"
        )


if __name__ == "__main__":
    main()
