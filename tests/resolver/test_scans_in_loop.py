"""QR scans served in the event loop on PostgreSQL (issue 16, service.scans): the async psycopg
read (resolver.stored_reads) gives the same answers byte for byte as the worker-thread read
through SQLAlchemy and as the router, answers 503 with Retry-After when its pool stays busy, and
sees a revocation on the very next scan."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pg_testkit import create_database
from resolver_testkit import issued_battery, issued_public_credential, set_status

from resolver import api, stored_reads
from service.scans import ItemScans

# Headers that differ between any two answers whatever served them.
VOLATILE = {"date", "x-request-id", "server-timing"}


@pytest.fixture
def pg_client(make_settings, request) -> Iterator[TestClient]:
    from service.app import create_app

    url, drop = create_database()
    overrides = getattr(request, "param", {})
    try:
        app = create_app(make_settings(url, **overrides))
        with TestClient(app, raise_server_exceptions=False) as client:
            yield client
    finally:
        drop()


@pytest.fixture
def acme(pg_client):
    from issuer import operators
    from service.db import session_scope

    rt = pg_client.app.state.runtime
    with session_scope(rt.engine) as session:
        operator, token = operators.create_operator(
            session,
            name="acme",
            did_method="web",
            did_web_base=rt.settings.did_web_base,
            master_key=rt.master_key,
        )
        return {"name": operator.name, "did": operator.did, "token": token}


@pytest.fixture
def reads(monkeypatch) -> list[frozenset[str]]:
    """The event loop's reads, by the answers they asked for (the real read, counted)."""
    calls: list[frozenset[str]] = []
    real = stored_reads.lookup_stored

    async def counted(pool, gtin, serial, wanted):
        calls.append(wanted)
        return await real(pool, gtin, serial, wanted)

    monkeypatch.setattr(stored_reads, "lookup_stored", counted)
    return calls


def _answer(response) -> tuple:
    headers = sorted((k, v) for k, v in response.headers.items() if k not in VOLATILE)
    return response.status_code, headers, response.content


def _scans(path: str, etag: str) -> list[tuple[str, str, dict[str, str]]]:
    """(method, url, headers) of scans that the stored bytes answer, and of some they do not."""
    gtin13 = path.replace("/01/0", "/01/", 1)  # a GTIN-13 form: a canonical link is added
    return [
        ("GET", path, {"Accept": "text/html"}),
        ("GET", path, {"Accept": "application/linkset+json"}),
        ("GET", path, {"Accept": "application/ld+json"}),
        ("GET", path, {"Accept": "application/json"}),
        ("GET", path, {"Accept": "*/*"}),
        ("GET", path, {}),
        ("GET", path + "?linkType=linkset", {}),
        ("GET", path + "?linkType=gs1:pip", {"Accept": "text/html"}),
        ("GET", path + "/passport", {}),
        ("GET", path + "/qr.svg", {}),
        ("GET", path, {"Accept": "image/avif"}),
        ("GET", path, {"Accept": "text/html", "If-None-Match": etag}),
        ("HEAD", path, {"Accept": "text/html"}),
        ("GET", gtin13, {"Accept": "application/linkset+json"}),
        ("GET", path[:-1] + "X", {"Accept": "text/html"}),
        ("GET", path[:-1] + "X", {"Accept": "application/json"}),
    ]


@pytest.mark.postgres
def test_answers_match_the_thread_path_and_the_router(pg_client, acme, reads, monkeypatch):
    app = pg_client.app
    assert app.state.scan_pool is not None, "no event loop pool on PostgreSQL"
    battery = issued_battery(pg_client, acme, "LOOP-1")
    first = pg_client.get(battery["path"], headers={"Accept": "text/html"})  # builds the views
    assert first.status_code == 200
    scans = _scans(battery["path"], first.headers["etag"])

    def answers() -> list[tuple]:
        return [
            _answer(pg_client.request(m, u, headers=h, follow_redirects=False)) for m, u, h in scans
        ]

    reads.clear()
    in_loop = answers()
    # all but the QR image (drawn in a worker thread, not in the loop)
    assert len(reads) == len(scans) - 1, "a scan did not go through the event loop's read"
    assert frozenset({"linkset"}) in reads and frozenset({"page"}) in reads

    front = app.scans
    app.scans = None  # the same read inside the middleware stack (ItemScans), not ahead of it
    try:
        reads.clear()
        assert answers() == in_loop
        assert len(reads) == len(scans) - 1
    finally:
        app.scans = front

    pool = app.state.scan_pool
    app.state.scan_pool = None  # the worker-thread read through SQLAlchemy
    try:
        reads.clear()
        assert answers() == in_loop
        assert not reads
    finally:
        app.state.scan_pool = pool

    async def router_only(self, scope, receive, send):
        await self.app(scope, receive, send)

    monkeypatch.setattr(ItemScans, "__call__", router_only)  # resolve_item, as before issue 16
    monkeypatch.setattr(app, "scans", None)  # and no front ahead of the middleware
    assert answers() == in_loop
    assert not reads


@pytest.mark.postgres
@pytest.mark.parametrize(
    "pg_client", [{"resolver_scan_connections": 1, "resolver_scan_wait_s": 0.2}], indirect=True
)
def test_a_busy_scan_pool_answers_503_with_retry_after(pg_client, acme, monkeypatch):
    battery = issued_battery(pg_client, acme, "LOOP-2")
    page = {"Accept": "text/html"}
    assert pg_client.get(battery["path"], headers=page).status_code == 200
    pool = pg_client.app.state.scan_pool
    called: list[object] = []
    monkeypatch.setattr(api, "stored_scan", lambda *a: called.append(a))  # no thread fallback
    held = pg_client.portal.call(pool.getconn)  # the pool's only connection, in the app's loop
    try:
        busy = pg_client.get(battery["path"], headers=page)
    finally:
        pg_client.portal.call(pool.putconn, held)
    assert busy.status_code == 503
    assert busy.headers["retry-after"] == "1"
    assert busy.headers["content-type"].startswith("application/problem+json")
    assert not called
    assert pg_client.get(battery["path"], headers=page).status_code == 200


@pytest.mark.postgres
def test_a_revocation_is_seen_by_the_next_scan_in_the_loop(pg_client, acme, reads):
    battery = issued_battery(pg_client, acme, "LOOP-3")
    page = {"Accept": "text/html"}
    assert 'class="verdict verdict-ok"' in pg_client.get(battery["path"], headers=page).text
    reads.clear()
    assert 'class="verdict verdict-ok"' in pg_client.get(battery["path"], headers=page).text
    assert reads, "the stored page was not read in the event loop"
    credential = issued_public_credential(battery)["id"]
    assert set_status(pg_client, acme, credential, "revocation", True).status_code == 200
    revoked = pg_client.get(battery["path"], headers=page).text
    assert 'class="verdict verdict-bad"' in revoked and "Revoked" in revoked
    reads.clear()
    again = pg_client.get(battery["path"], headers=page).text  # now from the rebuilt view
    assert again == revoked and reads


@pytest.mark.postgres
def test_the_front_keeps_request_ids_metrics_and_the_log_line(
    pg_client, acme, reads, caplog, monkeypatch
):
    from service import metrics

    battery = issued_battery(pg_client, acme, "LOOP-4")
    page = {"Accept": "text/html"}
    assert pg_client.get(battery["path"], headers=page).status_code == 200  # builds the views
    stack_reads: list[object] = []
    monkeypatch.setattr(ItemScans, "_in_loop", lambda *a: stack_reads.append(a))
    labels = ("GET", "/01/{item_path:path}", "200")
    before = metrics.REQUESTS.labels(*labels)._value.get()
    reads.clear()
    with caplog.at_level("INFO", logger="dbp.request"):
        echoed = pg_client.get(battery["path"], headers={**page, "X-Request-ID": "scan-42"})
        fresh = pg_client.get(battery["path"], headers=page)
    assert len(reads) == 2, "the scans were not read in the event loop"
    assert not stack_reads, "the middleware stack's read answered, not the front"
    assert echoed.headers["x-request-id"] == "scan-42"
    assert len(fresh.headers["x-request-id"]) == 32
    assert echoed.headers["content-security-policy"].startswith("default-src 'none'; style-src")
    assert metrics.REQUESTS.labels(*labels)._value.get() == before + 2
    lines = [r for r in caplog.records if r.name == "dbp.request"]
    assert [(r.request_id, r.route, r.status) for r in lines] == [
        ("scan-42", "/01/{item_path:path}", 200),
        (fresh.headers["x-request-id"], "/01/{item_path:path}", 200),
    ]


@pytest.mark.postgres
def test_one_batch_reads_each_key_its_own_row(pg_client, acme):
    """Scans arriving together share a statement, their keys joined into two texts: keys with
    the characters of GS1 character set 82 that a list syntax would split on come back as
    their own batteries, an unknown key and a key holding the separator as None."""
    serials = ["B,1", "B\"2'%", "B(3);", "B-4"]
    batteries = {s: issued_battery(pg_client, acme, s) for s in serials}
    for battery in batteries.values():
        assert pg_client.get(battery["path"], headers={"Accept": "text/html"}).status_code == 200
    pool = pg_client.app.state.scan_pool
    gtin = batteries["B-4"]["gtin"]
    asked = ["B" + stored_reads.SEPARATOR + "1", *serials, "B-404"]  # first: it would shift

    async def together():
        wanted = frozenset({"linkset"})
        return await asyncio.gather(
            *(stored_reads.lookup_stored(pool, gtin, s, wanted) for s in asked)
        )

    found = pg_client.portal.call(together)
    assert found[0] is None and found[-1] is None
    for serial, (route, view) in zip(serials, found[1:-1], strict=True):
        assert route.id == batteries[serial]["id"]
        assert view.linkset.startswith(b'{"linkset"') and view.page is stored_reads.NOT_LOADED


@pytest.mark.postgres
def test_large_answers_are_read_a_few_keys_a_statement(pg_client, acme, monkeypatch):
    """Consumer pages (~31 KB each) go at most LIMITS' keys a statement; every scan still gets
    its own row, and linksets batch whole."""
    serials = [f"L-{i}" for i in range(11)]
    batteries = {s: issued_battery(pg_client, acme, s) for s in serials}
    for battery in batteries.values():
        assert pg_client.get(battery["path"], headers={"Accept": "text/html"}).status_code == 200
    pool = pg_client.app.state.scan_pool
    gtin = batteries["L-0"]["gtin"]
    statements: list[tuple[frozenset[str], int]] = []
    real = stored_reads._Batch._rows

    async def counted(self, pool, batch):
        statements.append((self.wanted, len(batch)))
        return await real(self, pool, batch)

    monkeypatch.setattr(stored_reads._Batch, "_rows", counted)

    async def together(blob: str):
        wanted = frozenset({blob})
        return await asyncio.gather(
            *(stored_reads.lookup_stored(pool, gtin, s, wanted) for s in serials)
        )

    pages = pg_client.portal.call(together, "page")
    assert [route.id for route, _ in pages] == [batteries[s]["id"] for s in serials]
    assert all(view.page.startswith(b"<!doctype html") for _, view in pages)
    keys, _ = stored_reads.LIMITS["page"]
    sizes = [n for wanted, n in statements]
    assert sum(sizes) == len(serials) and max(sizes) <= keys and len(sizes) >= 2
    statements.clear()
    pg_client.portal.call(together, "linkset")
    assert sum(n for _, n in statements) == len(serials)
    assert max(n for _, n in statements) > keys  # no limit: whatever was waiting


def test_sqlite_keeps_the_thread_path(make_settings, sqlite_url):
    from service.app import create_app

    with TestClient(create_app(make_settings(sqlite_url))) as client:
        assert client.app.state.scan_pool is None


def _raw_answers(port: int, requests: list[bytes]) -> list[bytes]:
    """Each request's whole answer as the socket gave it, over one kept-alive connection (the
    date line left out: it may tick between two runs)."""
    import re
    import socket

    answers = []
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        for request in requests:
            sock.sendall(request)
            data = b""
            while b"\r\n\r\n" not in data:
                data += sock.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            length = re.search(rb"\r\ncontent-length: (\d+)", head)
            size = int(length.group(1)) if length and not request.startswith(b"HEAD") else 0
            while len(body) < size:
                body += sock.recv(65536)
            answers.append(re.sub(rb"\r\ndate: [^\r]*", b"", head) + b"\r\n\r\n" + body)
    return answers


@pytest.mark.postgres
def test_a_real_server_writes_the_fronts_answers_whole_and_the_same(
    pg_client, acme, make_settings, monkeypatch
):
    """Under uvicorn with service.http_protocol, the front writes a stored 200 at once
    (WholeHeadCycle.respond): byte for byte what its two ASGI messages make uvicorn write."""
    import threading

    import uvicorn
    from server_testkit import free_port, wait_for_health

    from service.app import create_app
    from service.http_protocol import WholeHeadCycle, WholeResponses
    from service.scans import ScanFront

    battery = issued_battery(pg_client, acme, "LOOP-WHOLE")
    path = battery["path"]
    first = pg_client.get(path, headers={"Accept": "text/html"})  # builds the views
    assert first.status_code == 200
    settings = pg_client.app.state.runtime.settings
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(make_settings(settings.database_url)),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,  # as `dbp serve` runs it
            http=WholeResponses,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()

    class Alive:
        returncode = None

        def poll(self):
            return None if thread.is_alive() else 1

    def get(target: str, *headers: str, method: str = "GET") -> bytes:
        lines = [f"{method} {target} HTTP/1.1", "Host: testserver", "X-Request-ID: whole-1"]
        return ("\r\n".join([*lines, *headers]) + "\r\n\r\n").encode()

    requests = [
        get(path, "Accept: application/linkset+json"),
        get(path, "Accept: text/html"),
        get(path, "Accept: application/ld+json"),
        get(path + "/passport"),
        get(path, "Accept: text/html", f"If-None-Match: {first.headers['etag']}"),  # a 304
        get(path, "Accept: text/html", method="HEAD"),
        get(path.replace("/01/0", "/01/", 1), "Accept: application/linkset+json"),  # canonical
        get(path),  # a redirect to the default link
    ]
    whole: list[int] = []
    real = WholeHeadCycle.respond

    def counted(self, status, lines, body):
        done = real(self, status, lines, body)
        whole.append(done)
        return done

    try:
        wait_for_health(f"http://127.0.0.1:{port}", Alive())
        monkeypatch.setattr(WholeHeadCycle, "respond", counted)
        at_once = _raw_answers(port, requests)
        # the four 200s and the canonical one whole; HEAD declined (uvicorn's messages send it)
        assert whole == [True] * 4 + [False, True], "the stored 200 answers were not written whole"
        monkeypatch.setattr(ScanFront, "_respond", lambda *a: False)
        assert _raw_answers(port, requests) == at_once
    finally:
        server.should_exit = True
        thread.join(timeout=15)
    assert at_once[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nx-request-id: whole-1\r\n" in at_once[0]
    assert at_once[4].startswith(b"HTTP/1.1 304 ")
