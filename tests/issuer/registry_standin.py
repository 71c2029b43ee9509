"""A stand-in for the EU DPP registry, built from what is known of it (see
../shared/reference/eu-registry/README.md): the CIRPASS-2 mock registry's interface
(`POST /metadata/v1/registerDPP`, `POST /metadata/v1`, `GET /schema/v1/current`), validating with
the same JSON Schema as the client, the MODIFY update strategy (a UPI registered again keeps its
entry and registry id), an `eo` bearer token, and a 90-day proof of registration.

For tests it keeps entries in a SQLite file (so that it survives kill -9 and a restart), counts
every write, refuses commodity codes outside chapter 85 as the registry's automated checks would,
and fails on demand: `POST /_standin/fail {"status": 503, "times": N}`.

Run: python tests/issuer/registry_standin.py --port P --db FILE --token T
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from issuer.dppregistry.client import metadata_validator  # noqa: E402

PROOF_DAYS = 90


def make_app(db_path: str, token: str) -> FastAPI:
    app = FastAPI()
    lock = threading.Lock()
    conn = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
    conn.execute(
        "CREATE TABLE IF NOT EXISTS entries (upi TEXT PRIMARY KEY, registry_id TEXT NOT NULL, "
        "metadata TEXT NOT NULL, writes INTEGER NOT NULL, updated_at TEXT NOT NULL)"
    )
    conn.execute("CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, n INTEGER)")
    failures = {"status": 0, "times": 0}

    def count(name: str) -> None:
        conn.execute(
            "INSERT INTO counters VALUES (?, 1) ON CONFLICT(name) DO UPDATE SET n = n + 1",
            (name,),
        )

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok"}

    @app.get("/schema/v1/current")
    def schema() -> dict:
        return metadata_validator().schema

    def register(body: object, authorization: str | None) -> JSONResponse:
        if authorization != f"Bearer {token}":
            return JSONResponse({"title": "Unauthorized"}, status_code=401)
        with lock:
            if failures["times"] > 0:
                failures["times"] -= 1
                count("failed")
                return JSONResponse({"title": "Injected failure"}, status_code=failures["status"])
        if not isinstance(body, dict):
            return JSONResponse({"title": "Invalid payload"}, status_code=400)
        errors = [
            {"property": "/" + "/".join(str(p) for p in e.absolute_path), "message": e.message}
            for e in metadata_validator().iter_errors(body)
        ]
        if errors:
            return JSONResponse(
                {"title": "Schema validation failed", "invalidProperties": errors},
                status_code=400,
            )
        if not str(body["commodityCode"]).startswith("85"):
            return JSONResponse(
                {
                    "title": "Commodity code check failed",
                    "invalidProperties": [
                        {
                            "property": "/commodityCode",
                            "message": f"{body['commodityCode']} is not a battery (chapter 85)",
                        }
                    ],
                },
                status_code=422,
            )
        now = datetime.now(UTC)
        with lock:
            conn.execute("BEGIN IMMEDIATE")
            row = conn.execute(
                "SELECT registry_id FROM entries WHERE upi = ?", (body["upi"],)
            ).fetchone()
            if row is None:
                registry_id = str(uuid.uuid4())
                conn.execute(
                    "INSERT INTO entries VALUES (?, ?, ?, 1, ?)",
                    (body["upi"], registry_id, json.dumps(body), now.isoformat()),
                )
                count("created")
                status = 201
            else:
                registry_id = row[0]
                conn.execute(
                    "UPDATE entries SET metadata = ?, writes = writes + 1, updated_at = ? "
                    "WHERE upi = ?",
                    (json.dumps(body), now.isoformat(), body["upi"]),
                )
                count("modified")
                status = 200
            conn.execute("COMMIT")
        valid_until = now + timedelta(days=PROOF_DAYS)
        return JSONResponse(
            {
                "registryId": registry_id,
                "metadata": body,
                "proofOfRegistration": {
                    "issuedAt": now.isoformat().replace("+00:00", "Z"),
                    "validUntil": valid_until.isoformat().replace("+00:00", "Z"),
                },
            },
            status_code=status,
        )

    @app.post("/metadata/v1/registerDPP")
    async def register_dpp(request: Request) -> JSONResponse:
        return await _register(request)

    @app.post("/metadata/v1")
    async def register_v1(request: Request) -> JSONResponse:
        return await _register(request)

    async def _register(request: Request) -> JSONResponse:
        try:
            body = json.loads(await request.body())
        except ValueError:
            return JSONResponse({"title": "Invalid JSON"}, status_code=400)
        return register(body, request.headers.get("authorization"))

    @app.post("/_standin/fail")
    async def fail(request: Request) -> dict:
        spec = json.loads(await request.body())
        with lock:
            failures.update(status=int(spec["status"]), times=int(spec["times"]))
        return failures

    @app.get("/_standin/entries")
    def entries() -> list[dict]:
        return [
            {"upi": u, "registryId": r, "metadata": json.loads(m), "writes": w}
            for u, r, m, w in conn.execute("SELECT upi, registry_id, metadata, writes FROM entries")
        ]

    @app.get("/_standin/stats")
    def stats() -> dict:
        counters = dict(conn.execute("SELECT name, n FROM counters").fetchall())
        n = conn.execute("SELECT count(*) FROM entries").fetchone()[0]
        return {"entries": n, **counters}

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--token", required=True)
    args = parser.parse_args()
    uvicorn.run(
        make_app(args.db, args.token), host="127.0.0.1", port=args.port, log_level="warning"
    )


if __name__ == "__main__":
    main()
