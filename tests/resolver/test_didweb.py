"""did:web: URL mapping, and fetching foreign documents only under the allow-list rules."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from resolver.didweb import DidWebPolicy, did_web_parts, did_web_path, fetch_did_web
from resolver.errors import DidNotAllowed, DidNotFound, DidResolutionFailed, InvalidDid


@pytest.mark.parametrize(
    ("did", "host", "path"),
    [
        ("did:web:example.com", "example.com", "/.well-known/did.json"),
        ("did:web:example.com%3A8443", "example.com:8443", "/.well-known/did.json"),
        ("did:web:example.com:operators:acme", "example.com", "/operators/acme/did.json"),
        ("did:web:Example.COM:u:b%20c", "example.com", "/u/b%20c/did.json"),
    ],
)
def test_did_web_mapping(did, host, path):
    assert did_web_parts(did)[0] == host
    assert did_web_path(did) == path


@pytest.mark.parametrize(
    "did",
    [
        "did:key:z6Mk",
        "did:web:",
        "did:web:example.com::x",
        "did:web:user%40evil.com",
        "did:web:a%2Fb",
        "did:web:ex ample",
        "did:web:example.com\n",  # `$` in a Python regex matches before a final "\n"
        "did:web:example.com:operators:acme\n",
        "did:web:example.com%0A",  # the host, once unquoted
    ],
)
def test_invalid_did_web(did):
    with pytest.raises(InvalidDid):
        did_web_parts(did)


class _Handler(BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, bytes, float]] = {}

    def do_GET(self):  # noqa: N802 - http.server API
        status, body, delay = self.routes.get(self.path, (404, b"{}", 0))
        time.sleep(delay)
        self.send_response(status)
        if status in (301, 302):
            self.send_header("Location", "http://127.0.0.1:1/did.json")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    _Handler.routes = {}


def _did(server, *path):
    return ":".join([f"did:web:127.0.0.1%3A{server.server_port}", *path])


def _allow_http(server, **kw):
    return DidWebPolicy(frozenset({f"http://127.0.0.1:{server.server_port}"}), **kw)


def test_fetch_allowed_origin(server):
    did = _did(server, "operators", "acme")
    _Handler.routes["/operators/acme/did.json"] = (200, json.dumps({"id": did}).encode(), 0)
    with httpx.Client() as client:
        assert fetch_did_web(did, _allow_http(server), client) == {"id": did}


def test_host_not_allowed(server):
    did = _did(server)
    with (
        httpx.Client() as client,
        pytest.raises(DidNotAllowed, match="not in DBP_DID_WEB_ALLOWED_HOSTS"),
    ):
        fetch_did_web(did, DidWebPolicy(), client)


def test_private_address_refused_without_explicit_http_entry(server):
    did = _did(server)
    policy = DidWebPolicy(frozenset({f"127.0.0.1:{server.server_port}"}))
    with httpx.Client() as client, pytest.raises(DidNotAllowed, match="private address"):
        fetch_did_web(did, policy, client)


@pytest.mark.parametrize(
    ("route", "error", "message"),
    [
        ((200, b'{"id": "did:web:someone.else"}', 0), DidResolutionFailed, "does not describe"),
        ((200, b"not json", 0), DidResolutionFailed, "did not return JSON"),
        ((200, b"{" + b" " * 5000 + b"}", 0), DidResolutionFailed, "more than"),
        ((302, b"", 0), DidResolutionFailed, "HTTP 302"),
        ((500, b"", 0), DidResolutionFailed, "HTTP 500"),
        ((200, b"{}", 2.0), DidResolutionFailed, "failed"),
    ],
)
def test_bad_answers(server, route, error, message):
    did = _did(server)
    _Handler.routes["/.well-known/did.json"] = route
    policy = _allow_http(server, max_bytes=4096, timeout_s=0.5)
    with httpx.Client() as client, pytest.raises(error, match=message):
        fetch_did_web(did, policy, client)


def test_not_found(server):
    with httpx.Client() as client, pytest.raises(DidNotFound):
        fetch_did_web(_did(server, "nobody"), _allow_http(server), client)
