"""Fixtures of the federated-search tests (a real peer instance, this instance configured with
peers that answer, refuse, hang or are not allowed); tests/portal/conftest.py makes them
available to every portal test."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from fastapi.testclient import TestClient
from portal_testkit import GTIN, Holder
from server_testkit import free_port, uvicorn_instance


@contextmanager
def hanging_server() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


def _anchor():
    from proofs.didkey import did_key, did_key_verification_method_id
    from proofs.keys import Ed25519Key

    key = Ed25519Key.generate()
    did = did_key(key.public)
    return key, did, did_key_verification_method_id(did)


def _peer_token(url: str, anchor, holder: Holder) -> str:
    """An authority token at the peer: an AuthorityCredential from the peer's trust anchor,
    presented over a challenge of the peer (POST /challenges, POST /authority/tokens)."""
    from proofs import dataintegrity
    from verifier.accreditation import role_credential

    key, did, vm = anchor
    credential = role_credential(issuer=did, subject=holder.did, roles=["market-surveillance"])
    signed = dataintegrity.create_proof(credential, key, vm, proof_purpose="assertionMethod")
    with httpx.Client(base_url=url, timeout=60) as client:
        challenge = client.post("/challenges", json={}).json()
        vp = holder.present([signed], challenge["challenge"], challenge["domain"])
        r = client.post("/authority/tokens", json={"verifiablePresentation": vp})
        assert r.status_code == 201, r.text
        return r.json()["token"]


@pytest.fixture(scope="module")
def peer(tmp_path_factory) -> Iterator[dict]:
    """A real dbp instance with one operator and three registered batteries, trusting a did:key
    anchor for authority credentials."""
    from issuer import operators
    from service.db import make_engine, session_scope
    from service.settings import Settings

    tmp = tmp_path_factory.mktemp("peer")
    anchor = _anchor()
    registry = tmp / "trust.json"
    registry.write_text(
        json.dumps({"trustAnchors": [{"id": anchor[1], "accredits": ["market-surveillance"]}]})
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    database_url = f"sqlite:///{tmp / 'peer.sqlite3'}"
    env = {
        **os.environ,
        "DBP_DATA_DIR": str(tmp / "var"),
        "DBP_PUBLIC_URL": url,
        "DBP_DATABASE_URL": database_url,
        "DBP_TRUST_REGISTRY": str(registry),
        "DBP_BULK_WORKER": "false",
        "DBP_ANCHOR_WORKER": "off",
    }
    settings = Settings(data_dir=tmp / "var", public_url=url, database_url=database_url)
    with uvicorn_instance(url, port, env, tmp / "peer.log"):
        engine = make_engine(settings.resolved_database_url)
        try:
            with session_scope(engine) as session:
                operator, token = operators.create_operator(
                    session, name="peer-op", did_method="web",
                    did_web_base=settings.did_web_base, master_key=settings.load_master_key(),
                )  # fmt: skip
                did = operator.did
        finally:
            engine.dispose()
        with httpx.Client(base_url=url, timeout=60) as client:
            for serial in ("PEER-1", "PEER-2", "PEER-3"):
                r = client.post(
                    "/batteries",
                    json={"gtin": GTIN, "serial": serial},
                    headers={"Authorization": f"Bearer {token}"},
                )
                assert r.status_code == 201, r.text
        yield {
            "url": url,
            "port": port,
            "operator": did,
            "token": _peer_token(url, anchor, Holder()),
        }


@pytest.fixture
def federated(peer, sqlite_url, make_settings) -> Iterator[tuple[TestClient, dict]]:
    """This instance, configured with four peers: the real one (with its token), one allowed
    that does not listen, one allowed that hangs, and one that is not allowed at all."""
    from service.app import create_app

    dead, hanging_ctx = free_port(), hanging_server()
    with hanging_ctx as hanging:
        urls = {
            "peer": peer["url"],
            "dead": f"http://127.0.0.1:{dead}",
            "hanging": f"http://127.0.0.1:{hanging}",
            "not-allowed": "http://127.0.0.2:9",
        }
        allowed = [urls[k] for k in ("peer", "dead", "hanging")]
        settings = make_settings(
            sqlite_url,
            did_web_allowed_hosts=",".join(allowed),
            authority_peers=",".join(urls.values()),
            authority_peer_tokens=f"{peer['url']}={peer['token']}",
            authority_peer_timeout_s=6,
        )
        with TestClient(create_app(settings), raise_server_exceptions=False) as client:
            yield client, urls


def add_operator(client: TestClient, name: str) -> dict:
    from issuer import operators
    from service.db import session_scope

    rt = client.app.state.runtime
    with session_scope(rt.engine) as session:
        operator, token = operators.create_operator(
            session, name=name, did_method="web", did_web_base=rt.settings.did_web_base,
            master_key=rt.master_key,
        )  # fmt: skip
    return {"name": name, "did": operator.did, "token": token}
