"""Issuing a fixed quarantined record at once, for the operator signed in to the company portal.

The portal holds a session, not the operator's bearer token, so it cannot call the service over
HTTP the way `dbp pipeline run` does. `LocalService` has the pipeline's client methods
(`pipeline.issuance.ServiceClient`) and does in this process what the issuer's routes do for an
authenticated operator: `POST /batteries:bulk` (bulk.submit with the same Idempotency-Key, the
hash of the body, processed by the bulk worker), `GET /jobs/{id}`, `POST
/batteries/{id}/passport` and `POST /batteries/{id}/events`, each in its own transaction with
the same retry rule (issuer.transactions.commit_with_retry).

`issue_now` then runs the pipeline itself (`pipeline.run.run`, on the data already staged): the
corrected values are applied, validated, correlated and issued by the same code and with the
same exactly-once state (`issued`) as every run. The fix was committed (entries `retry`) before
the run starts, so a crash in between loses nothing (the next run, from here or the command
line, issues it), and a crash after the bulk job was submitted cannot issue twice: the next run
sends the same body, gets the same Idempotency-Key and so the same job."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.engine import Engine
from sqlmodel import Session

from issuer import bulk, events, newlife
from issuer.config import IssuerConfig
from issuer.errors import IssuerError
from issuer.tables import Operator
from issuer.transactions import commit_with_retry
from pipeline.errors import PipelineError, ServiceRefused
from pipeline.formats import member
from vocab.errors import VocabError

log = logging.getLogger("dbp.portal")

# how long the page waits for the bulk job of the fixed record (one battery: seconds)
WAIT_S = 120.0
POLL_S = 0.2


class Runtime(Protocol):
    """What issuing in process needs of the service's runtime."""

    @property
    def engine(self) -> Engine: ...

    @property
    def issuer_config(self) -> IssuerConfig: ...

    @property
    def bulk_worker(self) -> Any: ...


class LocalService:
    """ServiceClient's methods, done in process for `operator` (see the module docstring)."""

    def __init__(
        self, rt: Runtime, operator: Operator, notify: Callable[[str, dict], None] | None = None
    ) -> None:
        self.rt = rt
        self.operator_id = operator.id
        self.url = rt.issuer_config.public_url
        self.notify = notify

    def close(self) -> None:
        pass

    def _in_transaction(self, work: Callable[[Session, Operator], Any]) -> Any:
        with Session(self.rt.engine) as session:
            operator = session.get(Operator, self.operator_id)
            if operator is None or operator.removed_at is not None:
                raise ServiceRefused("the signed-in operator has been removed")
            try:
                return commit_with_retry(session, lambda: work(session, operator))
            except (IssuerError, VocabError) as exc:
                # as the HTTP client would see it: a refusal of this one call, not a crash
                raise ServiceRefused(f"{type(exc).__name__}: {exc}") from None

    def submit_bulk(self, items: list[dict[str, Any]]) -> str:
        from pipeline.issuance import bulk_key

        body = {"items": items}

        def submit(session: Session, operator: Operator) -> tuple[str, bool]:
            job, created = bulk.submit(session, operator, bulk_key(body), body)
            return job.id, created  # the id, read while the session is open

        job_id, created = self._in_transaction(submit)
        if created and self.rt.bulk_worker is not None:
            self.rt.bulk_worker.wake()
        return job_id

    def job(self, job_id: str, offset: int = 0, limit: int = 10_000) -> dict[str, Any]:
        config = self.rt.issuer_config
        return self._in_transaction(
            lambda session, operator: bulk.report(
                session, operator, job_id, config, offset=offset, limit=limit
            )
        )

    def wait(
        self, job_id: str, on_progress: Callable[[int], None] | None = None, *,
        poll_s: float = POLL_S, timeout_s: float = WAIT_S,
    ) -> dict[str, Any]:  # fmt: skip
        deadline = time.monotonic() + timeout_s
        while True:
            report = self.job(job_id, limit=1)
            if on_progress is not None:
                on_progress(report["done"] + report["failed"])
            if report["state"] == bulk.FINISHED:
                break
            if time.monotonic() > deadline:
                raise ServiceRefused(
                    f"bulk job {job_id} did not finish within {timeout_s:.0f} s; the next "
                    "pipeline run picks it up (same job, nothing issued twice)"
                )
            time.sleep(poll_s)
        report = self.job(job_id, limit=10_000)
        return report

    def issue_version(self, battery_id: str, passport: dict[str, Any]) -> dict[str, Any]:
        config = self.rt.issuer_config
        issued = self._in_transaction(
            lambda session, operator: newlife.issue(
                session, config, operator, battery_id, passport, notify=self.notify
            )
        )
        return {"batteryId": issued.battery_id, "passportId": issued.passport_id,
                "version": issued.version}  # fmt: skip

    def post_event(self, battery_id: str, event: dict[str, Any]) -> dict[str, Any]:
        config = self.rt.issuer_config
        signed = self._in_transaction(
            lambda session, operator: events.post(session, config, operator, battery_id, event)
        )
        return {"verifiableCredential": signed}


@dataclass
class Issued:
    """What issuing a fixed record came to, for the page."""

    state: str  # issued | unchanged | incomplete | quarantined | failed
    run_id: str | None = None
    batteries: list[dict[str, Any]] = field(default_factory=list)  # gtin, serial, batteryId
    reasons: list[str] = field(default_factory=list)


def _keys(config: Any, source_name: str, record: dict[str, Any]) -> dict[str, str]:
    """The battery keys (gtin, batch, serial) the corrected record names."""
    source = next((s for s in config.sources if s.name == source_name), None)
    if source is None:
        return {}
    out = {}
    for key, fieldname in source.keys.items():
        value = member(record, fieldname)
        if value is not None:
            out[key] = str(value)
    return out


def _matches(keys: dict[str, str], gtin: str, serial: str, batch: str) -> bool:
    have = {"gtin": gtin, "serial": serial, "batch": batch}
    return bool(keys) and all(have.get(k) == v for k, v in keys.items())


def issue_now(
    rt: Runtime, config: Any, operator: Operator, source: str, object_key: str, row: int,
    record: dict[str, Any], notify: Callable[[str, dict], None] | None = None,
) -> Issued:  # fmt: skip
    """Run the pipeline on the staged data now, issuing as `operator`, and say what became of
    the battery (or batteries) the corrected `record` is about."""
    from pipeline import quarantine
    from pipeline.run import RunOptions, run
    from pipeline.state import State

    client = LocalService(rt, operator, notify)
    try:
        outcome = run(config, RunOptions(client=client, fetch=False))
    except PipelineError as exc:
        return Issued("failed", reasons=[f"the pipeline run failed: {exc}"])
    except Exception as exc:  # the fix is kept whatever broke: say so rather than answer 500
        log.exception("the pipeline run for a fixed quarantined record failed")
        return Issued("failed", reasons=[f"the pipeline run failed ({type(exc).__name__}): {exc}"])
    keys = _keys(config, source, record)
    state = State(config.state_dir)
    try:
        still = [
            e for e in quarantine.entries(state)
            if (e["source"], e["object"], e["row"]) == (source, object_key, row)
        ]  # fmt: skip
        issued = {
            (r["gtin"], r["serial"]): r
            for r in state.rows("select * from issued where run_id = ?", (outcome.run_id,))
        }
        known = {(r["gtin"], r["serial"]): r for r in state.rows("select * from issued")}
    finally:
        state.close()
    result = Issued("unchanged", outcome.run_id)
    if still:
        result.state = "quarantined"
        result.reasons = [f"{e['field'] or '(record)'}: {e['message']} (rule {e['rule']})"
                          for e in still]  # fmt: skip
        return result
    mine = [b for b in outcome.batteries if _matches(keys, b.gtin, b.serial, b.batch)]
    # a failure names gtin and serial only: match on those keys (a lot-level record: the GTIN)
    item_keys = {k: v for k, v in keys.items() if k != "batch"}
    failed = [f for f in outcome.failed if _matches(item_keys, f["gtin"], f["serial"], "")]
    if failed:
        result.state = "failed"
        for f in failed:
            error = f.get("error")
            detail = error.get("detail") if isinstance(error, dict) else error
            reason = detail or "refused by the service"
            result.reasons.append(f"{f['gtin']} {f['serial']}: {reason}")
        return result
    incomplete = [b for b in mine if not b.complete]
    for b in mine:
        row_ = issued.get((b.gtin, b.serial)) or known.get((b.gtin, b.serial))
        if b.complete and row_ is not None:
            result.batteries.append({"gtin": b.gtin, "serial": b.serial,
                                     "batteryId": row_["battery_id"],
                                     "new": (b.gtin, b.serial) in issued})  # fmt: skip
    if any(b["new"] for b in result.batteries):
        result.state = "issued"
    elif incomplete:
        result.state = "incomplete"
        for b in incomplete:
            for e in (b.report.get("errors") or [])[:10]:
                result.reasons.append(f"{b.gtin} {b.serial}: {e.get('message')}")
            for e in (b.report.get("conditionErrors") or [])[:5]:
                result.reasons.append(f"{b.gtin} {b.serial}: {e}")
    return result
