"""The backup role's own routes: the primary pushes snapshots here; a restore reads them back.

The router takes what it needs from `request.app.state.runtime` (its `engine`, `settings` and
`document_store()`), which the composition root sets; it imports nothing from `service`.

* `POST /backup/snapshots`: a signed envelope (issuer.backup.snapshot). 201 when kept, 200 when
  the same snapshot is held already, 409 `snapshot-stale` (with `latestSequence`) when a
  different one with that sequence or a newer one is held, 403 for an untrusted key or a wrong
  push token, 422 for a bad signature or proof.
* `GET /backup/snapshots`: the versions held, newest first.
* `GET /backup/snapshots/latest`, `GET /backup/snapshots/{sequence}`: an envelope as pushed. It is
  safe to hand out: its public part is public, its restricted part is ciphertext, and anyone can
  check its signature.
"""

from __future__ import annotations

import hmac
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from infra.openapi import content, merge, problems
from issuer.backup import snapshot as snap
from issuer.backup import store
from issuer.backup.errors import SnapshotUntrusted

router = APIRouter(tags=["backup"])


def _json(body: object, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _runtime(request: Request) -> Any:
    return request.app.state.runtime


def _check_token(request: Request, expected: str | None) -> None:
    if not expected:
        return
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip(), expected):
        raise SnapshotUntrusted("a push needs the backup's push token (DBP_BACKUP_PUSH_TOKEN)")


@router.post(
    "/backup/snapshots",
    summary="Take a signed snapshot pushed by the primary (idempotent by digest and sequence)",
    response_class=Response,
    responses=merge(content(201, "application/json"), problems(403, 409, 413, 422)),
)
async def push_snapshot(request: Request) -> Response:
    rt = _runtime(request)
    settings = rt.settings
    token = settings.backup_push_token.get_secret_value() if settings.backup_push_token else None
    _check_token(request, token)
    raw = await request.body()

    def work() -> store.Accepted:
        with Session(rt.engine, expire_on_commit=False) as session:
            return store.accept(
                session,
                raw,
                snap.parse_trusted_keys(settings.backup_trusted_keys),
                source=settings.public_url,
                documents=rt.document_store,
            )

    accepted = await run_in_threadpool(work)
    return _json(accepted.as_json(), status=200 if accepted.duplicate else 201)


@router.get(
    "/backup/snapshots",
    summary="The snapshot versions this backup holds, newest first",
    response_class=Response,
    responses=content(200, "application/json"),
)
def list_snapshots(request: Request) -> Response:
    with Session(_runtime(request).engine) as session:
        return _json({"snapshots": [store.describe(r) for r in store.versions(session)]})


@router.get(
    "/backup/snapshots/{which}",
    summary="A snapshot envelope as pushed: `latest` or a sequence number",
    response_class=Response,
    responses=merge(content(200, "application/json"), problems(404)),
)
def get_snapshot(request: Request, which: str) -> Response:
    sequence = None if which == "latest" else (int(which) if which.isdigit() else -1)
    with Session(_runtime(request).engine) as session:
        row = store.envelope_of(session, sequence)
        return Response(
            row.envelope,
            media_type="application/json",
            headers={"X-Backup-Sequence": str(row.sequence), "X-Backup-Digest": row.digest},
        )
