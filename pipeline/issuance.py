"""Handing finished passports to the passport service over HTTP, with an operator's token:
new batteries through `POST /batteries:bulk` (Idempotency-Key = hash of the body, so a retried or
resumed run gets the same job, never a second one), a changed static passport through
`POST /batteries/{id}/passport` (the next version), changed dynamic data through
`POST /batteries/{id}/events` (a BatteryEventCredential).

The pipeline never imports the issuer: the service is reached as any client reaches it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson

from pipeline.errors import ServiceRefused


def bulk_key(body: dict[str, Any]) -> str:
    """The Idempotency-Key of a bulk submission: the hash of its body, so the same batteries sent
    again (a retried or resumed run, or the company portal issuing a fixed record) find the job
    that already registered them instead of starting a second one."""
    digest = hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return "dbp-pipeline-" + digest


class ServiceClient:
    def __init__(self, url: str, token: str, *, timeout_s: float = 120.0) -> None:
        self.url = url.rstrip("/")
        self.http = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout_s,
        )

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, *, body: Any = None, headers=None) -> dict:
        content = orjson.dumps(body) if body is not None else None
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        try:
            response = self.http.request(method, path, content=content, headers=hdrs)
        except httpx.HTTPError as exc:
            raise ServiceRefused(f"{method} {self.url}{path}: {exc}") from None
        if response.status_code >= 400:
            try:
                detail = response.json()
            except ValueError:
                detail = {"detail": response.text[:300]}
            message = detail.get("detail") or detail.get("title") or response.reason_phrase
            error = ServiceRefused(f"{method} {path}: {response.status_code} {message}")
            error.problem_extensions = {"upstream": detail, "upstreamStatus": response.status_code}
            raise error
        return response.json()

    def submit_bulk(self, items: list[dict[str, Any]]) -> str:
        body = {"items": items}
        key = bulk_key(body)
        return self._call("POST", "/batteries:bulk", body=body, headers={"Idempotency-Key": key})[
            "jobId"
        ]

    def job(self, job_id: str, offset: int = 0, limit: int = 10_000) -> dict[str, Any]:
        return self._call("GET", f"/jobs/{job_id}?offset={offset}&limit={limit}")

    def wait(
        self,
        job_id: str,
        on_progress: Callable[[int], None] | None = None,
        *,
        poll_s: float = 0.5,
        timeout_s: float = 3600.0,
    ) -> dict[str, Any]:
        """Poll the job until it finished; returns the report with every item."""
        deadline = time.monotonic() + timeout_s
        while True:
            report = self.job(job_id, limit=1)
            if on_progress is not None:
                on_progress(report["done"] + report["failed"])
            if report["state"] == "finished":
                break
            if time.monotonic() > deadline:
                raise ServiceRefused(f"bulk job {job_id} did not finish within {timeout_s} s")
            time.sleep(poll_s)
        items: list[dict[str, Any]] = []
        while len(items) < report["total"]:
            page = self.job(job_id, offset=len(items))
            if not page["items"]:
                break
            items.extend(page["items"])
        report["items"] = items
        return report

    def issue_version(self, battery_id: str, passport: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", f"/batteries/{battery_id}/passport", body=passport)

    def operator(self) -> dict[str, Any]:
        """The operator the token belongs to (name, DID)."""
        return self._call("GET", "/operators/me")

    def post_event(self, battery_id: str, event: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", f"/batteries/{battery_id}/events", body=event)
