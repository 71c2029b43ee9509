"""The push API's storage: `POST /ingest/{source}` bodies are staged as they arrived, with a
receipt per Idempotency-Key (`push/<source>/receipts/<sha256 of operator and key>.json`): the same
key with the same body answers with the same receipt, the same key with another body is refused.
The next `dbp pipeline run` reads every pushed body of the source (pipeline.connectors).
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from pipeline.config import PipelineConfig
from pipeline.errors import IdempotencyKeyMissing, IdempotencyKeyReused, IngestInvalid
from pipeline.staging import ObjectStore, digest

MAX_RECORDS = 100_000


def receive(
    config: PipelineConfig,
    store: ObjectStore,
    source_name: str,
    body: Any,
    raw: bytes,
    idempotency_key: str | None,
    operator: str,
    received_at: str,
) -> tuple[dict[str, Any], bool]:
    """(receipt, created)."""
    source = config.source(source_name)
    if source.kind != "push":
        raise IngestInvalid("source", f"source {source_name!r} is a {source.kind} source, not push")
    if not idempotency_key:
        raise IdempotencyKeyMissing(
            "the Idempotency-Key header is required, so that a retried push is not taken twice"
        )
    if len(idempotency_key) > 255:
        raise IngestInvalid("Idempotency-Key", "must be at most 255 characters", "maximum")
    if not isinstance(body, dict):
        raise IngestInvalid("", 'the body is a JSON object {"records": [...]}')
    member = source.records or "records"
    records = body.get(member)
    extra = sorted(set(body) - {member})
    if extra:
        raise IngestInvalid(extra[0], f'unknown member; the body is {{"{member}": [...]}}',
                            "unknown-field")  # fmt: skip
    if not isinstance(records, list) or not records:
        raise IngestInvalid(member, "must be a non-empty list of records", "required")
    if len(records) > MAX_RECORDS:
        raise IngestInvalid(member, f"at most {MAX_RECORDS} records per request", "maximum")
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise IngestInvalid(f"{member}[{i}]", "a record is a JSON object")
    request_hash = digest(orjson.dumps(body, option=orjson.OPT_SORT_KEYS))
    who = hashlib.sha256(f"{operator}\x00{idempotency_key}".encode()).hexdigest()
    receipt_key = f"push/{source_name}/receipts/{who}.json"
    if store.exists(receipt_key):
        existing = store.get_json(receipt_key)
        if existing["requestHash"] != request_hash:
            raise IdempotencyKeyReused(
                f"Idempotency-Key {idempotency_key!r} was used for another body; use a new key"
            )
        return existing, False
    object_key = store.put(raw, ".json")
    receipt = {
        "receiptId": digest(receipt_key.encode())[:16],
        "source": source_name,
        "object": object_key,
        "records": len(records),
        "requestHash": request_hash,
        "operator": operator,
        "receivedAt": received_at,
    }
    store.put_json_at(receipt_key, receipt)
    return receipt, True


def receipts(store: ObjectStore, source_name: str) -> list[dict[str, Any]]:
    keys = store.list(f"push/{source_name}/receipts")
    found = [store.get_json(k) for k in keys if k.endswith(".json")]
    return sorted(found, key=lambda r: (r["receivedAt"], r["object"]))
