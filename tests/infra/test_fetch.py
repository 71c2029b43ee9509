"""infra.fetch, the one outbound-fetch function (issue 13 item 9), against real local HTTP and
HTTPS servers: allowed hosts only, public addresses unless an origin is named explicitly, DNS
resolved once and the connection made to the checked address (Host and TLS SNI kept), no
redirects, a size cap and a total time limit."""

from __future__ import annotations

import datetime
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from infra.fetch import (
    FetchFailed,
    FetchPolicy,
    HostNotAllowed,
    PrivateAddress,
    TooLarge,
    fetch,
    system_resolve,
)


class Handler(BaseHTTPRequestHandler):
    seen: list[dict] = []

    def log_message(self, *_args) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        Handler.seen.append({"path": self.path, "host": self.headers.get("Host")})
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/ok")
            self.end_headers()
            return
        if self.path == "/big":
            body = b"x" * 10_000
        elif self.path == "/drip":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            for _ in range(100):  # one byte every 50 ms: each read is quick, the whole is not
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.05)
            return
        else:
            body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _serve(server: ThreadingHTTPServer) -> Iterator[int]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def http_port() -> Iterator[int]:
    Handler.seen.clear()
    yield from _serve(ThreadingHTTPServer(("127.0.0.1", 0), Handler))


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False) as c:
        yield c


def test_an_explicit_origin_is_fetched_with_its_host_header(client, http_port):
    policy = FetchPolicy(frozenset({f"http://localhost:{http_port}"}))
    answer = fetch(client, policy, "GET", f"http://localhost:{http_port}/ok")
    assert (answer.status, answer.body) == (200, b'{"ok": true}')
    assert Handler.seen[-1]["host"] == f"localhost:{http_port}"


def test_dns_is_resolved_once_and_the_connection_goes_to_the_checked_address(client, http_port):
    """`checked.test` exists in no DNS: the request can only reach the server through the
    address the fetch resolved and checked itself."""
    asked = []

    def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["127.0.0.1"]

    policy = FetchPolicy(frozenset({f"http://checked.test:{http_port}"}))
    answer = fetch(client, policy, "GET", f"http://checked.test:{http_port}/ok", resolve=resolve)
    assert answer.status == 200
    assert asked == ["checked.test"]
    assert Handler.seen[-1]["host"] == f"checked.test:{http_port}"


def test_a_host_entry_allows_public_addresses_only(client, http_port):
    policy = FetchPolicy(frozenset({f"localhost:{http_port}"}))
    with pytest.raises(PrivateAddress, match="private address"):
        fetch(client, policy, "GET", f"https://localhost:{http_port}/ok")
    # a name that resolves to a public address and a private one is refused as well
    policy = FetchPolicy(frozenset({"mixed.test"}))
    with pytest.raises(PrivateAddress):
        fetch(
            client,
            policy,
            "GET",
            "https://mixed.test/ok",
            resolve=lambda host, port: ["93.184.215.14", "10.0.0.1"],
        )
    assert Handler.seen == []


@pytest.mark.parametrize(
    "url",
    [
        "http://elsewhere.test/ok",
        "ftp://localhost/ok",
        "http://[/01/x",
        "http://user@localhost:1/ok",
    ],
)
def test_hosts_not_allowed(client, url):
    policy = FetchPolicy(frozenset({"http://localhost:1", "localhost"}))
    with pytest.raises(HostNotAllowed):
        fetch(client, policy, "GET", url)


def test_plain_http_needs_an_http_entry(client, http_port):
    policy = FetchPolicy(frozenset({f"127.0.0.1:{http_port}"}))  # HTTPS only
    with pytest.raises(HostNotAllowed):
        fetch(client, policy, "GET", f"http://127.0.0.1:{http_port}/ok")


def test_redirects_are_not_followed(client, http_port):
    policy = FetchPolicy(frozenset({f"http://127.0.0.1:{http_port}"}))
    answer = fetch(client, policy, "GET", f"http://127.0.0.1:{http_port}/redirect")
    assert answer.status == 302
    assert [s["path"] for s in Handler.seen] == ["/redirect"]


def test_the_size_cap(client, http_port):
    policy = FetchPolicy(frozenset({f"http://127.0.0.1:{http_port}"}), max_bytes=4096)
    with pytest.raises(TooLarge, match="more than 4096 bytes"):
        fetch(client, policy, "GET", f"http://127.0.0.1:{http_port}/big")


def test_the_total_time_limit_holds_against_a_dripping_server(client, http_port):
    policy = FetchPolicy(frozenset({f"http://127.0.0.1:{http_port}"}), timeout_s=0.5)
    with pytest.raises(FetchFailed, match="longer than 0.5 s"):
        fetch(client, policy, "GET", f"http://127.0.0.1:{http_port}/drip")


def test_unresolvable_hosts_fail_cleanly():
    with pytest.raises(FetchFailed, match="cannot resolve"):
        system_resolve("no-such-host.invalid", 443)


# --- HTTPS: SNI and certificate checked against the name, connection to the checked address ----


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_https_keeps_the_name_for_sni_and_the_certificate(tmp_path):
    cert_path, key_path = _self_signed(tmp_path)
    server_names: list[str | None] = []
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    context.sni_callback = lambda _sock, name, _ctx: server_names.append(name)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    Handler.seen.clear()
    trusted = ssl.create_default_context(cafile=str(cert_path))
    for port in _serve(server):
        policy = FetchPolicy(frozenset({f"https://localhost:{port}"}))
        with httpx.Client(verify=trusted, trust_env=False) as client:
            answer = fetch(
                client,
                policy,
                "GET",
                f"https://localhost:{port}/ok",
                resolve=lambda host, p: ["127.0.0.1"],
            )
            assert (answer.status, answer.body) == (200, b'{"ok": true}')
            assert server_names == ["localhost"]
            assert Handler.seen[-1]["host"] == f"localhost:{port}"
            # the certificate names localhost: a client that checks it refuses another name
            policy = FetchPolicy(frozenset({f"https://other.test:{port}"}))
            with pytest.raises(FetchFailed):
                fetch(
                    client,
                    policy,
                    "GET",
                    f"https://other.test:{port}/ok",
                    resolve=lambda host, p: ["127.0.0.1"],
                )
