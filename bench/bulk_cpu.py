"""CPU per bulk passport, by process: the bulk worker (claim, plan, group commit), its signing
processes and the PostgreSQL backends of its database (issue 15). The machine is shared, so
wall-clock rates swing 2-4x; CPU milliseconds per passport hardly do.

    .venv/bin/python -m bench.bulk_cpu [N=300] [PROCESSES=2] [prof]

Runs one warm-up job of N ev passports, then times `BulkWorker.run_once` over a second job of N
on a fresh PostgreSQL database (bench.services.pg_database). Prints CPU ms per passport per
process kind, wall ms per passport in the worker's main steps, items/s and SQL statements per
passport; `prof` adds a cProfile of the worker thread with a CPU clock. To compare with another
commit, run this file from a checkout of it (PYTHONPATH=that checkout)."""

import collections
import concurrent.futures as cf
import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path


def main():
    from sqlalchemy import event
    from sqlmodel import func, select

    from bench.services import pg_database
    from issuer import bulk, operators
    from issuer import passports as pmod
    from issuer.config import IssuerConfig
    from issuer.tables import BulkItem
    from issuer.worker import BulkWorker
    from service.db import make_engine, migrate, session_scope
    from service.settings import Settings
    from vocab.examples import load_example

    N = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    P = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    prof = len(sys.argv) > 3
    tmp = Path(tempfile.mkdtemp())
    with pg_database("bulkcpu") as url:
        engine = make_engine(url)
        migrate(engine)
        settings = Settings(data_dir=tmp / "var", database_url=url, public_url="http://127.0.0.1:9")
        mk = settings.load_keystore()
        with session_scope(engine) as s:
            operators.ensure_instance(s, did_web_base=settings.did_web_base, master_key=mk)
            op, _ = operators.create_operator(
                s, name="acme", did_method="web", did_web_base=settings.did_web_base, master_key=mk
            )
            opid, optype = op.id, type(op)
        pp = load_example("ev")
        for k in ("batteryIdentifier", "passportId", "passportVersion"):
            pp.pop(k, None)

        def job(tag):
            with session_scope(engine) as s:
                bulk.submit(
                    s,
                    s.get(optype, opid),
                    tag,
                    {
                        "items": [
                            {"gtin": "09520123456788", "serial": f"{tag}{i}", "passport": pp}
                            for i in range(N)
                        ]
                    },
                )

        w = BulkWorker(
            engine, IssuerConfig(settings.public_url, settings.did_web_base, mk), processes=P
        )
        job("warm")
        w.run_once()
        stmts = [0]
        event.listen(
            engine, "before_cursor_execute", lambda *a, **k: stmts.__setitem__(0, stmts[0] + 1)
        )
        spent = collections.Counter()

        def timed(owner, name):
            f = getattr(owner, name, None)
            if f is None:
                return

            def g(*a, **k):
                t0 = time.perf_counter()
                try:
                    return f(*a, **k)
                finally:
                    spent[name] += time.perf_counter() - t0

            setattr(owner, name, g)

        for name in ("commit_group", "commit_item", "plan_item", "claim", "finish_jobs"):
            timed(bulk, name)
        timed(cf.Future, "result")
        timed(pmod.store, "anchor_leaves")
        from sqlalchemy.orm import Session as OrmSession

        from issuer.dppregistry import outbox as rout

        for owner, name in [
            (bulk, "_mark_done"),
            (pmod, "_stage"),
            (rout, "register_batteries"),
            (rout, "register_battery"),
            (OrmSession, "commit"),
            (OrmSession, "flush"),
            (bulk, "plan_items"),
            (pmod, "commit"),
            (bulk.batteries, "register"),
        ]:
            timed(owner, name)
        job("run")
        import os

        from sqlalchemy import text

        tick = os.sysconf("SC_CLK_TCK")

        def cpu(pid):
            try:
                f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                return (int(f[11]) + int(f[12])) / tick
            except FileNotFoundError:
                return 0.0

        def pg_pids():
            with engine.connect() as c:
                return [
                    r[0]
                    for r in c.execute(
                        text("select pid from pg_stat_activity where datname = current_database()")
                    )
                ]

        pool_pids = list(getattr(w._pool, "_processes", {}) or {})
        before_pg = {p: cpu(p) for p in pg_pids()}
        before_pool = {p: cpu(p) for p in pool_pids}
        before_main = sum(os.times()[:2])
        pr = cProfile.Profile(time.process_time) if prof else None
        t = time.perf_counter()
        if pr:
            pr.enable()
        w.run_once()
        if pr:
            pr.disable()
        el = time.perf_counter() - t
        main_cpu = sum(os.times()[:2]) - before_main
        pool_cpu = sum(cpu(p) - before_pool.get(p, 0.0) for p in pool_pids)
        pg_cpu = sum(cpu(p) - before_pg.get(p, 0.0) for p in set(pg_pids()) | set(before_pg))
        print(
            f"CPU ms per item: worker process {main_cpu / N * 1e3:.1f}, signing processes "
            f"{pool_cpu / N * 1e3:.1f}, PostgreSQL backends {pg_cpu / N * 1e3:.1f}, "
            f"total {(main_cpu + pool_cpu + pg_cpu) / N * 1e3:.1f}"
        )
        print("main thread ms per item:", {k: round(v / N * 1e3, 2) for k, v in spent.items()})
        print(
            f"{N} items, {P} processes: {el:.2f} s, {N / el:.1f} items/s, "
            f"{stmts[0] / N:.1f} SQL statements per item"
        )
        with session_scope(engine) as s:
            print(dict(s.exec(select(BulkItem.state, func.count()).group_by(BulkItem.state)).all()))
        w.stop()
        engine.dispose()
        if pr:
            st = pstats.Stats(pr)
            st.sort_stats("cumulative").print_stats(45)
            st.sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
