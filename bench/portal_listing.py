"""How fast the company portal's battery list pages over a large registry (issue 18: "paging
over 1M rows stays fast"): `python -m bench.portal_listing [N]` (default 1,000,000).

A new PostgreSQL database (127.0.0.1:5432, trust; BENCH_PG overrides), migrated; one operator
with N batteries and a second one with N/10, inserted set-based (generate_series); then the
median of 9 calls of `issuer.listing.batteries` (50 rows) for: the first page, the page after a
cursor half-way down, a serial-prefix search, a model search; and the baseline, a bare
`SELECT ... ORDER BY created_at DESC, id DESC LIMIT 50` on the same table. Prints seconds and
the EXPLAIN of a page after a cursor (it must use ix_batteries_operator_created)."""

from __future__ import annotations

import os
import statistics
import sys
import time
import uuid

from sqlalchemy import create_engine, text
from sqlmodel import Session

ADMIN = os.environ.get("BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _median(call, repeats: int = 9) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _seed(conn, operator_id: str, count: int, prefix: str) -> None:
    conn.execute(
        text(
            "INSERT INTO batteries (id, gtin, serial, item_uri, did, operator_id, passport_id, "
            "category, status, model, chemistry, created_at, updated_at) "
            "SELECT gen_random_uuid()::text, '09520123456788', :p || lpad(g::text, 9, '0'), "
            "'https://x/01/09520123456788/21/' || :p || g, 'did:web:x:batteries:' || :p || g, "
            ":op, 'urn:uuid:' || gen_random_uuid()::text, 'ev', 'original', "
            "CASE WHEN g % 100 = 0 THEN 'VX99' ELSE 'VX75' END, 'NMC811', "
            "now() - make_interval(secs => g), now() FROM generate_series(1, :n) AS g"
        ),
        {"p": prefix, "op": operator_id, "n": count},
    )


def main(count: int) -> None:
    from issuer import listing
    from service.db import make_engine, migrate

    admin = create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    name = f"dbp_bench_portal_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = ADMIN.rsplit("/", 1)[0] + f"/{name}"
    engine = make_engine(url)
    try:
        migrate(engine)
        with engine.begin() as conn:
            for op in ("acme", "other"):
                conn.execute(
                    text(
                        "INSERT INTO operators (id, name, did, did_method, kind, created_at) "
                        "VALUES (:id, :n, :did, 'web', 'operator', now())"
                    ),
                    {"id": op, "n": op, "did": f"did:web:x:operators:{op}"},
                )
            started = time.monotonic()
            _seed(conn, "acme", count, "A")
            _seed(conn, "other", count // 10, "O")
            conn.execute(text("ANALYZE batteries"))
            print(f"seeded {count + count // 10} batteries in {time.monotonic() - started:.1f} s")
        acme = listing.Filters(operator_did="did:web:x:operators:acme")
        with Session(engine) as session:
            # a cursor half-way down: the row at position count/2
            row = session.execute(
                text(
                    "SELECT created_at, id FROM batteries WHERE operator_id = 'acme' "
                    "ORDER BY created_at DESC, id DESC OFFSET :o LIMIT 1"
                ),
                {"o": count // 2},
            ).one()
            figures = {
                "first page": lambda: listing.batteries(session, acme, limit=50),
                "page after a cursor half-way": lambda: listing.batteries(
                    session, acme, after=(row[0], row[1]), limit=50
                ),
                "serial prefix search": lambda: listing.batteries(
                    session,
                    listing.Filters(operator_did=acme.operator_did, serial="A000123"),
                    limit=50,
                ),
                "model search (1 % of rows)": lambda: listing.batteries(
                    session,
                    listing.Filters(operator_did=acme.operator_did, model="VX99"),
                    limit=50,
                ),
                "baseline: bare SELECT of 50 rows": lambda: session.execute(
                    text(
                        "SELECT * FROM batteries WHERE operator_id = 'acme' "
                        "ORDER BY created_at DESC, id DESC LIMIT 50"
                    )
                ).all(),
            }
            for label, call in figures.items():
                print(f"{label:36s} {_median(call) * 1000:8.2f} ms (median of 9)")
            plan = session.execute(
                text(
                    "EXPLAIN SELECT * FROM batteries WHERE operator_id = 'acme' AND "
                    "(created_at, id) < (now() - interval '6 days', 'z') "
                    "ORDER BY created_at DESC, id DESC LIMIT 51"
                )
            ).all()
            print("\n".join(r[0] for r in plan))
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
