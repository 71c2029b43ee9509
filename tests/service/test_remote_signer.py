"""The remote signer (issue 20 item 3): `dbp signer serve` over a SoftHSM2 token, mutual TLS with
certificates made here, and a service with DBP_KEY_BACKEND=remote issuing, verifying, rotating
and anchoring through it. A client without a certificate from the signer's CA gets nowhere."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient
from hsm_testkit import settings_overrides
from server_testkit import free_port
from sqlmodel import Session, select

from anchor import ethlibs
from anchor.tables import AnchorAccount
from anchor.worker import AnchorWorker
from issuer.tables import OperatorKey
from service.db import session_scope

V2 = "https://www.w3.org/ns/credentials/v2"
EXAMPLES = "https://www.w3.org/ns/credentials/examples/v2"

ethlibs.load()


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write(path: Path, key, cert: x509.Certificate) -> None:
    path.with_suffix(".key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.with_suffix(".pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _certificate(subject: str, issuer_name: x509.Name, issuer_key, key, *, ca: bool, server=False):
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def make_pki(directory: Path) -> dict[str, Path]:
    """A CA, the signer's server certificate for 127.0.0.1, a client certificate from the CA,
    and a client certificate from another CA (which the signer must refuse)."""
    out = {}
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("dbp test CA", _name("dbp test CA"), ca_key, ca_key, ca=True)
    _write(directory / "ca", ca_key, ca)
    for role, server in (("server", True), ("client", False)):
        key = ec.generate_private_key(ec.SECP256R1())
        _write(
            directory / role,
            key,
            _certificate(role, ca.subject, ca_key, key, ca=False, server=server),
        )
    rogue_key = ec.generate_private_key(ec.SECP256R1())
    rogue = _certificate("rogue", _name("rogue"), rogue_key, rogue_key, ca=True)
    _write(directory / "rogue", rogue_key, rogue)
    for name in ("ca", "server", "client", "rogue"):
        out[name] = directory / f"{name}.pem"
        out[name + "_key"] = directory / f"{name}.key"
    return out


def client_context(pki: dict[str, Path], cert: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki["ca"]))
    if cert is not None:
        context.load_cert_chain(str(pki[cert]), str(pki[cert + "_key"]))
    return context


@pytest.fixture(scope="module")
def signer(tmp_path_factory):
    """`dbp signer serve` on a free port, its keys in this process's SoftHSM2 token."""
    directory = tmp_path_factory.mktemp("signer")
    pki = make_pki(directory)
    port = free_port()
    token = settings_overrides()  # first: it sets SOFTHSM2_CONF, which the signer inherits
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBP_")}
    env.update({f"DBP_{k.upper()}": v for k, v in token.items()})
    log = open(directory / "signer.log", "wb")  # noqa: SIM115 - closed below
    command = [sys.executable, "-m", "service.cli", "signer", "serve", "--port", str(port),
               "--tls-cert", str(pki["server"]), "--tls-key", str(pki["server_key"]),
               "--client-ca", str(pki["ca"])]  # fmt: skip
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"https://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        with httpx.Client(verify=client_context(pki, "client"), trust_env=False) as http:
            while True:
                assert process.poll() is None, (directory / "signer.log").read_text()
                try:
                    if http.get(url + "/v1/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "the signer did not answer within 90 s"
                time.sleep(0.2)
        yield {"url": url, "pki": pki}
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)
        log.close()


def remote_settings(signer) -> dict[str, str]:
    pki = signer["pki"]
    return {
        "key_backend": "remote",
        "signer_url": signer["url"],
        "signer_client_cert": str(pki["client"]),
        "signer_client_key": str(pki["client_key"]),
        "signer_ca": str(pki["ca"]),
    }


def test_the_signer_refuses_clients_without_a_certificate_from_its_ca(signer):
    for cert in (None, "rogue"):
        with (
            httpx.Client(verify=client_context(signer["pki"], cert), trust_env=False) as http,
            pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)),
        ):
            http.get(signer["url"] + "/v1/health", timeout=5).raise_for_status()


def test_the_signer_interface_and_its_problems(signer):
    with httpx.Client(
        base_url=signer["url"], verify=client_context(signer["pki"], "client"), trust_env=False
    ) as http:
        made = http.post("/v1/keys", json={"algorithm": "Ed25519", "label": "t"})
        assert made.status_code == 201, made.text
        name = made.json()["name"]
        assert http.get(f"/v1/keys/{name}").json() == made.json()
        signed = http.post(f"/v1/keys/{name}/sign", json={"data": "aGVsbG8"})
        assert signed.status_code == 200 and len(signed.json()["signature"]) == 86
        for path, body, status, code in (
            ("/v1/keys/00ff/sign", {"data": "aGVsbG8"}, 404, "unknown-key"),
            ("/v1/keys/not-hex/sign", {"data": "aGVsbG8"}, 404, "unknown-key"),
            ("/v1/keys/00ff%0A/sign", {"data": "aGVsbG8"}, 404, "unknown-key"),
            (f"/v1/keys/{name}/sign", {"data": "a+b/"}, 400, "signer-error"),
            ("/v1/keys", {"algorithm": "RSA"}, 400, "invalid-request"),
        ):
            r = http.post(path, json=body)
            assert r.status_code == status, r.text
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["type"].endswith(code)


@pytest.mark.parametrize("name", ["00ff\n", "not-hex", "0", "00FF"])
def test_a_key_name_is_lower_case_hex_and_nothing_more(name):
    # `$` in a Python regex also matches before a final "\n", which unhexlify then refused
    # with a 500 instead of the signer's 404.
    from service.signer_server import UnknownKey, _key_id

    assert _key_id("00ff") == b"\x00\xff"
    with pytest.raises(UnknownKey):
        _key_id(name)


def test_a_service_signs_everything_through_the_remote_signer(signer, sqlite_url, make_settings):
    from issuer import operators
    from service.app import create_app

    settings = make_settings(
        sqlite_url, anchor_worker="off", anchor_batch_size=100, **remote_settings(signer)
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        rt = client.app.state.runtime
        made = {}
        with session_scope(rt.engine) as session:
            for name, method in (("acme", "web"), ("keyed", "key")):
                op, token = operators.create_operator(
                    session, name=name, did_method=method,
                    did_web_base=rt.settings.did_web_base, master_key=rt.master_key,
                )  # fmt: skip
                made[name] = (op.did, token)
        issued = []
        for did, token in made.values():
            for options in ({}, {"cryptosuite": "eddsa-jcs-2022"}, {"format": "vc+jwt"}):
                body = {
                    "credential": {
                        "@context": [V2, EXAMPLES],
                        "id": f"urn:uuid:{uuid.uuid4()}",
                        "type": ["VerifiableCredential"],
                        "issuer": did,
                        "credentialSubject": {"id": "did:example:battery-1"},
                    },
                    "options": options,
                }
                r = client.post(
                    "/credentials/issue", json=body, headers={"Authorization": f"Bearer {token}"}
                )
                assert r.status_code == 201, r.text
                issued.append(r.json()["verifiableCredential"])
        r = client.post(
            "/operators/me/keys", headers={"Authorization": f"Bearer {made['acme'][1]}"}
        )
        assert r.status_code == 201, r.text
        assert AnchorWorker(rt.anchor).run_once(force=True).confirmed == 1
        for vc in issued:
            r = client.post("/credentials/verify", json={"verifiableCredential": vc})
            assert r.status_code == 200 and r.json()["verified"], r.text
            assert "anchor" in r.json()["checks"]
        assert client.get("/readyz").json()["checks"]["signer"] == "ok"
        assert 'backend="remote"' in client.get("/metrics").text
        with Session(rt.engine) as session:
            keys = session.exec(select(OperatorKey)).all()
            assert keys and all(k.key_ref.startswith("remote:") for k in keys)
            assert all(k.sealed_private is None for k in keys)
            (account,) = session.exec(select(AnchorAccount)).all()
            assert account.key_ref.startswith("remote:") and account.sealed_key is None
    assert not (settings.data_dir / "master.key").exists()


def test_readyz_names_an_unreachable_signer(signer, sqlite_url, make_settings):
    from service.app import create_app

    settings = make_settings(sqlite_url, **remote_settings(signer))
    with TestClient(create_app(settings)) as client:
        from proofs import remote

        config = client.app.state.runtime.master_key.config
        port = free_port()
        gone = remote.RemoteConfig(
            f"https://127.0.0.1:{port}", config.client_cert, config.client_key, config.ca
        )
        client.app.state.runtime.master_key = remote.RemoteKeystore(gone)
        r = client.get("/readyz")
    assert r.status_code == 503
    assert r.json()["checks"]["signer"].startswith(f"remote signer https://127.0.0.1:{port}")
