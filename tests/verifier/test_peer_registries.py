"""Issue 13 item 6: trust registries name peer registries. A peer's registry is fetched from an
allowed host over real HTTP (a local registry server), kept with its ETag, re-validated after
the refresh interval (a controlled clock, no sleeps) and kept when the peer fails; only the
peer's own anchors are taken, limited to the roles allowed for that peer."""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from server_testkit import free_port

from infra.fetch import FetchPolicy
from verifier.peer_registries import PeerAnchors, http_fetcher
from verifier.trust import RegistrySource, TrustRegistryInvalid, parse_registry

SELF = "did:web:b.example"
A = "did:web:a.example"
C = "did:web:c.example"


class Peer:
    """A trust registry served over HTTP with an ETag, as GET /trust-registry serves it."""

    def __init__(self) -> None:
        self.body = b""
        self.status = 200
        self.requests: list[str | None] = []  # the If-None-Match of each request
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                peer.requests.append(self.headers.get("If-None-Match"))
                etag = '"' + hashlib.sha256(peer.body).hexdigest()[:16] + '"'
                if peer.status != 200:
                    self.send_response(peer.status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(peer.body)))
                self.end_headers()
                self.wfile.write(peer.body)

            def log_message(self, *args) -> None:
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.port}/trust-registry"

    def serve(self, anchors: list[dict]) -> None:
        self.body = json.dumps({"trustAnchors": anchors, "issuers": {}}).encode()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def peer():
    served = Peer()
    yield served
    served.close()


@pytest.fixture
def client():
    with httpx.Client(trust_env=False) as c:
        yield c


def source_for(tmp_path, peer: Peer, client, *, allowed: str | None = None, **entry):
    now = [1000.0]
    policy = FetchPolicy(frozenset({allowed or f"http://127.0.0.1:{peer.port}"}), 5.0, 65_536)
    anchors = PeerAnchors(http_fetcher(client, policy), refresh_s=60, clock=lambda: now[0])
    path = tmp_path / "trust.json"
    path.write_text(
        json.dumps(
            {
                "trustAnchors": [{"id": "self", "accredits": ["notified-body"]}],
                "peerRegistries": [{"url": peer.url, "name": "instance A", **entry}],
            }
        )
    )
    return RegistrySource(path, SELF, anchors.anchors), anchors, now


def test_a_peers_own_anchors_are_trusted_for_the_roles_allowed(tmp_path, peer, client):
    peer.serve(
        [
            {"id": A, "accredits": ["recycling", "commission"], "name": "this dbp instance"},
            {"id": C, "accredits": ["recycling"], "via": "https://c.example/trust-registry"},
        ]
    )
    source, anchors, now = source_for(tmp_path, peer, client, accredits=["recycling", "repair"])
    registry = source.current()
    assert registry.accredits(A, ["recycling"])
    assert not registry.accredits(A, ["commission"])  # not allowed for this peer
    assert not registry.accredits(C, ["recycling"])  # the peer's peer: not transitive
    assert registry.accredits(SELF, ["notified-body"])  # the file's own anchors stay
    [from_peer] = [a for a in registry.anchors if a.via]
    assert from_peer.as_json() == {
        "id": A,
        "accredits": ["recycling"],
        "name": "this dbp instance",
        "via": peer.url,
    }
    assert peer.requests == [None]

    source.current()  # within the refresh interval: nothing fetched
    assert len(peer.requests) == 1
    now[0] += 60
    assert source.current().accredits(A, ["recycling"])
    assert len(peer.requests) == 2 and peer.requests[1] is not None  # If-None-Match -> 304

    # the peer changes; the next refresh brings it, without a restart
    peer.serve([{"id": A, "accredits": ["recycling", "repair"]}])
    now[0] += 60
    assert source.current().accredits(A, ["recycling", "repair"])

    # the peer fails: the last good anchors stay, the error is reported
    peer.status = 503
    now[0] += 60
    assert source.current().accredits(A, ["repair"])
    [report] = anchors.report(source.current().peers)
    assert report["url"] == peer.url and report["anchors"] == 1
    assert "HTTP 503" in report["error"] and report["fetched"].endswith("Z")


def test_a_peer_on_a_host_not_allowed_gives_no_anchors(tmp_path, peer, client):
    peer.serve([{"id": A, "accredits": ["recycling"]}])
    source, anchors, _ = source_for(tmp_path, peer, client, allowed="http://127.0.0.1:1")
    registry = source.current()
    assert not registry.accredits(A, ["recycling"])
    assert peer.requests == []
    [report] = anchors.report(registry.peers)
    assert "DBP_DID_WEB_ALLOWED_HOSTS" in report["error"] and "fetched" not in report


@pytest.mark.parametrize(
    ("peers", "message"),
    [
        ([{"url": "ftp://a.example/x"}], "URL of a trust registry"),
        ([{"url": "https://a.example/t", "accredits": ["hacking"]}], "unknown role"),
        ([{"url": "https://a.example/t", "x": 1}], "unknown member"),
        ([{"url": "https://a.example/t"}, {"url": "https://a.example/t"}], "twice"),
    ],
)
def test_bad_peer_entries_name_the_problem(peers, message):
    with pytest.raises(TrustRegistryInvalid, match=message):
        parse_registry({"peerRegistries": peers}, SELF)
