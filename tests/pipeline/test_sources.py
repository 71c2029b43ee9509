"""Sources and staging against real servers: the example supplier API over HTTP (bearer token,
paging, incremental by timestamp, retries with backoff) and S3 staging on moto's S3 server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from example_testkit import copy_example, supplier_api

from pipeline import connectors
from pipeline.config import load, parse
from pipeline.errors import SourceUnavailable
from pipeline.run import RunOptions, run
from pipeline.staging import ObjectStore
from pipeline.state import State


def http_source(url: str, token: str = "example-supplier-token", **extra):
    data = {
        "name": "t",
        "sources": [
            {"name": "erp", "location": "x.csv", "level": "item", "registers_items": True,
             "keys": {"gtin": "gtin", "serial": "serial"}},
            {"name": "supplier", "kind": "http", "format": "json", "location": url,
             "auth": {"type": "bearer", "token": token}, "level": "model", "keys": {"gtin": "gtin"},
             "paging": {"items": "items", "next_cursor": "next_cursor", "cursor_param": "cursor",
                        "page_size_param": "limit", "page_size": 2},
             "incremental": {"mode": "timestamp", "param": "updated_since", "field": "declared_at"},
             "backoff_s": 0.01, **extra},
        ],
    }  # fmt: skip
    return parse(data, Path(".")).sources[1]


def test_http_pull_pages_incrementally_and_retries(tmp_path):
    store, state = ObjectStore(str(tmp_path / "staging")), State(tmp_path / "state")
    waits: list[float] = []
    with supplier_api(fail_first=2) as url:
        source = http_source(url)
        staged = connectors.pull_http(source, store, state, sleep=waits.append)
        # three declarations, two per page -> two pages; two 503s waited out, doubling
        assert len(staged) == 2 and waits == [0.01, 0.02]
        records = [r for key, _ in staged for r in json.loads(store.get(key))["items"]]
        assert len(records) == 3
        assert state.cursor("supplier") == "2026-01-04T10:00:00Z"
        # nothing newer: the next pull stages nothing and keeps the cursor
        assert connectors.pull_http(source, store, state, sleep=waits.append) == []
        assert state.cursor("supplier") == "2026-01-04T10:00:00Z"
        with pytest.raises(SourceUnavailable, match="401"):
            connectors.pull_http(http_source(url, token="wrong"), store, state)
    with supplier_api(fail_first=10) as url, pytest.raises(SourceUnavailable, match="503"):
        connectors.pull_http(http_source(url, retries=2), store, state, sleep=waits.append)
    state.close()


def test_staging_is_content_addressed_and_keeps_everything(tmp_path):
    store = ObjectStore(str(tmp_path / "s"))
    a = store.put(b"one", ".csv")
    assert store.put(b"one", ".csv") == a and store.get(a) == b"one"
    b = store.put(b"two", ".csv")
    assert a != b and store.list("objects") == sorted([a, b])


@pytest.fixture
def s3(tmp_path):
    from moto.server import ThreadedMotoServer
    from server_testkit import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    options = {"endpoint_url": f"http://127.0.0.1:{port}", "key": "testing", "secret": "testing",
               "client_kwargs": {"region_name": "eu-central-1"}}  # fmt: skip
    import s3fs

    fs = s3fs.S3FileSystem(**options)
    fs.mkdir("dpp-staging")
    try:
        yield options, fs
    finally:
        server.stop()


def test_a_run_stages_raw_inputs_and_writes_parquet_to_s3(tmp_path, s3, monkeypatch):
    options, fs = s3
    yaml_path = copy_example(tmp_path / "example")
    text = yaml_path.read_text().replace(
        "name: example\n",
        "name: example\nstaging: s3://dpp-staging/raw\noutput: s3://dpp-staging/processed\n"
        f"storage_options: {json.dumps(options)}\n",
    )
    yaml_path.write_text(text)
    monkeypatch.setenv("DBP_DATA_DIR", str(tmp_path / "var"))
    with supplier_api() as url:
        monkeypatch.setenv("SUPPLIER_API_URL", url)
        config = load(yaml_path)
        first = run(config, RunOptions())
        objects = sorted(fs.find("dpp-staging/raw/objects"))
        # the seven files, and the supplier's two pages: each kept as it arrived
        assert len(objects) == 9
        erp = (tmp_path / "example/erp/batteries.csv").read_bytes()
        assert any(fs.cat(o) == erp for o in objects)
        second = run(load(yaml_path), RunOptions())
    assert sorted(fs.find("dpp-staging/raw/objects")) == objects  # nothing new, nothing deleted
    assert first.records == second.records and len(first.complete) == 1040
    assert fs.exists(f"dpp-staging/processed/runs/{first.run_id}/passports.parquet")


def test_lineage_events_go_to_a_lineage_server_by_configuration(tmp_path):
    """The http transport POSTs each OpenLineage event (here to a small local server)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from openlineage.client.event_v2 import RunState
    from server_testkit import free_port

    from pipeline.lineage import Emitter, new_run_id

    received: list[tuple[str, dict, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            return

        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, json.loads(body), self.headers.get("Authorization", "")))
            self.send_response(201)
            self.end_headers()

    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        config = parse({
            "name": "t", "state": str(tmp_path / "state"),
            "lineage": {"transport": "http", "url": f"http://127.0.0.1:{port}",
                        "api_key": "lineage-key"},
            "sources": [{"name": "erp", "location": "x.csv", "level": "item",
                         "registers_items": True, "keys": {"gtin": "g", "serial": "s"}}],
        }, Path("."))  # fmt: skip
        run_id = new_run_id()
        Emitter(config).emit(RunState.START, run_id, "2026-01-01T00:00:00Z")
    finally:
        server.shutdown()
        server.server_close()
    [(path, event, auth)] = received
    assert path == "/api/v1/lineage" and auth == "Bearer lineage-key"
    assert event["eventType"] == "START" and event["run"]["runId"] == run_id
    assert event["job"]["namespace"] == "dbp-pipeline" and event["job"]["name"] == "t"
    assert not (tmp_path / "state" / "lineage.jsonl").exists()
