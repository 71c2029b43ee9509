"""HTTP routes of the pipeline (issuer role): the push API of push sources and the conformance
check of any passport.

The router is built by `make_router` with what the composition root (service/app.py) hands in:
how a request's operator is authenticated and where the pipeline configuration is, so this
package does not import the service or the issuer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import Response

from infra.openapi import content, json_body, merge, problems
from infra.responses import json_response
from pipeline import conformance, push
from pipeline.config import PipelineConfig, load
from pipeline.errors import BodyInvalid, NoPipeline
from pipeline.staging import ObjectStore
from vocab.datetimes import format_datetime, utcnow

MAX_INGEST_BYTES = 16 * 1024 * 1024


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise BodyInvalid(f"member {key!r} appears twice in one object", "duplicate-key")
        out[key] = value
    return out


async def _body(request: Request) -> tuple[Any, bytes]:
    raw = await request.body()
    if len(raw) > MAX_INGEST_BYTES:
        raise BodyInvalid(f"the body is larger than {MAX_INGEST_BYTES} bytes", "maximum")
    try:
        return json.loads(raw, object_pairs_hook=_no_duplicates), raw
    except BodyInvalid:
        raise
    except (ValueError, UnicodeDecodeError) as exc:
        raise BodyInvalid(f"the body is not JSON: {exc}") from None


@lru_cache(maxsize=8)
def _load(path: str, mtime: float) -> PipelineConfig:
    return load(path)


def _pipeline(path: Path | None) -> PipelineConfig:
    if path is None:
        raise NoPipeline(
            "this instance has no pipeline configuration (DBP_PIPELINE_CONFIG), so it takes no "
            "pushed records"
        )
    return _load(str(path), path.stat().st_mtime if path.exists() else 0.0)


def make_router(
    authenticate: Callable[..., str], config_path: Callable[..., Path | None]
) -> APIRouter:
    """`authenticate`: a FastAPI dependency answering the calling operator's DID (or raising);
    `config_path`: a dependency answering the pipeline YAML's path, or None."""
    router = APIRouter()

    @router.post(
        "/ingest/{source}",
        status_code=202,
        responses=merge(
            content(200, "application/json", description="Already received (Idempotency-Key)."),
            problems(400, 404, 413, 422),
        ),
        openapi_extra=json_body({"type": "object", "properties": {"records": {"type": "array"}}}),
        tags=["pipeline"],
        summary="Push records to a push source of the pipeline (Idempotency-Key required)",
    )
    def ingest(
        source: str,
        body: tuple[Any, bytes] = Depends(_body),
        operator: str = Depends(authenticate),
        path: Path | None = Depends(config_path),
        idempotency_key: str | None = Header(default=None),
    ) -> Response:
        config = _pipeline(path)
        store = ObjectStore(config.staging_url, config.storage_options)
        receipt, created = push.receive(
            config, store, source, body[0], body[1], idempotency_key, operator,
            format_datetime(utcnow()),
        )  # fmt: skip
        public = {k: v for k, v in receipt.items() if k != "requestHash"}
        return json_response(public, status=202 if created else 200)

    @router.post(
        "/conformance/check",
        responses=problems(400, 413, 422),
        openapi_extra=json_body({"type": "object"}),
        tags=["pipeline"],
        summary="Check any passport: schema, mandatory attributes per category, units, "
        "consistency, regulation rules",
    )
    def check(body: tuple[Any, bytes] = Depends(_body)) -> Response:
        return json_response(conformance.check(body[0]))

    return router
