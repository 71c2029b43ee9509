"""Prometheus metrics at `GET /metrics` (text exposition format).

Counters live per process, which is what Prometheus expects when every process (each copy of a
role) is scraped as its own target; run one uvicorn worker per container and scale containers.
The anchor queue depth is read from the outbox at scrape time, so every process reports the
same, current number.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, event, func
from sqlmodel import Session, col, select

from anchor.tables import CONFIRMED, AnchorBatch, AnchorLeaf
from issuer.tables import IssuedCredential
from proofs.signer import add_sign_observer

log = logging.getLogger("dbp.metrics")

CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"

REGISTRY: Final = CollectorRegistry(auto_describe=True)

REQUESTS: Final = Counter(
    "dbp_http_requests",
    "HTTP requests answered, by method, route template and status.",
    ("method", "route", "status"),
    registry=REGISTRY,
)
LATENCY: Final = Histogram(
    "dbp_http_request_duration_seconds",
    "Time to answer an HTTP request, by method, route template and status.",
    ("method", "route", "status"),
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
ISSUED: Final = Counter(
    "dbp_credentials_issued",
    "Credentials this process signed and committed, by kind (passport-tier, event, vc-api).",
    ("kind",),
    registry=REGISTRY,
)

SIGNING: Final = Histogram(
    "dbp_signing_duration_seconds",
    "Time to make one signature through the key store, by backend (sealed, pkcs11) and "
    "algorithm (ed25519, secp256k1). Sealed Ed25519 keys sign in memory and are not timed.",
    ("backend", "algorithm"),
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1),
    registry=REGISTRY,
)


def _observe_signing(backend: str, algorithm: str, seconds: float) -> None:
    SIGNING.labels(backend, algorithm).observe(seconds)


add_sign_observer(_observe_signing)

_PENDING_KEY: Final = "dbp_metrics_issued"


# The children of REQUESTS and LATENCY by (method, route, status): `labels()` validates and
# locks on every call, ~4% of a QR scan's CPU under wrk (py-spy); the children it returns are the
# same objects each time, so they are kept here. Routes are templates and statuses few: bounded.
_children: dict[tuple[str, str, int], tuple] = {}


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    key = (method, route, status)
    children = _children.get(key)
    if children is None:
        labels = (method, route, str(status))
        children = _children[key] = (REQUESTS.labels(*labels), LATENCY.labels(*labels))
    children[0].inc()
    children[1].observe(seconds)


# Issued credentials are counted when their transaction commits, wherever they are signed (an
# HTTP handler, the bulk worker): rows added and rolled back never count.
def _before_flush(session: Session, _context, _instances) -> None:
    kinds = [o.kind for o in session.new if isinstance(o, IssuedCredential)]
    if kinds:
        session.info.setdefault(_PENDING_KEY, []).extend(kinds)


def _after_commit(session: Session) -> None:
    for kind in session.info.pop(_PENDING_KEY, ()):
        ISSUED.labels(kind).inc()


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)


def _listen() -> None:
    from sqlalchemy.orm import Session as OrmSession

    if event.contains(OrmSession, "before_flush", _before_flush):
        return
    event.listen(OrmSession, "before_flush", _before_flush)
    event.listen(OrmSession, "after_commit", _after_commit)
    event.listen(OrmSession, "after_rollback", _after_rollback)


_listen()


class OutboxCollector(Collector):
    """Anchor queue depth (leaves waiting for a batch) and batches not yet confirmed, by state,
    read from the database at each scrape."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        queued = GaugeMetricFamily(
            "dbp_anchor_queue_depth", "Credential digests waiting for an anchor batch."
        )
        batches = GaugeMetricFamily(
            "dbp_anchor_batches_open",
            "Anchor batches closed but not yet confirmed on chain, by state.",
            labels=("state",),
        )
        try:
            with Session(self.engine) as session:
                depth = session.exec(
                    select(func.count())
                    .select_from(AnchorLeaf)
                    .where(col(AnchorLeaf.batch_id).is_(None))
                ).one()
                states = session.exec(
                    select(AnchorBatch.state, func.count())
                    .where(AnchorBatch.state != CONFIRMED)
                    .group_by(AnchorBatch.state)
                ).all()
        except Exception as exc:  # noqa: BLE001 - a scrape reports what it can; /readyz says why
            log.warning("anchor queue depth unavailable: %s", exc)
            return
        queued.add_metric([], depth)
        yield queued
        for state, count in states:
            batches.add_metric([state], count)
        yield batches


def exposition(engine: Engine) -> bytes:
    """This process's counters and the database gauges, in the text format."""
    gauges = CollectorRegistry(auto_describe=False)
    gauges.register(OutboxCollector(engine))
    return generate_latest(REGISTRY) + generate_latest(gauges)
