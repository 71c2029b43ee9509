"""Federated passport search: this instance (in process) asks a real peer instance (uvicorn, its
own database) the same question over the peer's `GET /passports`, with the token the peer gave
an authority, and merges the answers labelled by instance. Peers that are not allowed, do not
answer, hang past the time limit or refuse are shown as such next to the others' rows."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from portal_testkit import GTIN, Holder, accredit, authority_sign_in, register_many
from server_testkit import free_port, uvicorn_instance

pytestmark = pytest.mark.slow

OTHER_GTIN = "04012345000016"


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


def _operator(client: TestClient, name: str) -> dict:
    from issuer import operators
    from service.db import session_scope

    rt = client.app.state.runtime
    with session_scope(rt.engine) as session:
        operator, token = operators.create_operator(
            session, name=name, did_method="web", did_web_base=rt.settings.did_web_base,
            master_key=rt.master_key,
        )  # fmt: skip
    return {"name": name, "did": operator.did, "token": token}


def test_search_merges_the_peer_and_labels_every_instance(federated, peer):
    client, urls = federated
    acme = _operator(client, "acme")
    register_many(client, acme, 2, prefix="HERE-")
    holder = Holder()
    assert authority_sign_in(client, holder, accredit(client, holder.did)).status_code == 200

    r = client.get("/passports", params={"gtin": GTIN, "peers": "true"})
    assert r.status_code == 200, r.text
    body = r.json()
    by_instance: dict[str, set[str]] = {}
    for item in body["items"]:
        by_instance.setdefault(item["instance"], set()).add(item["serial"])
    assert by_instance == {
        "http://testserver": {"HERE-000000", "HERE-000001"},
        urls["peer"]: {"PEER-1", "PEER-2", "PEER-3"},
    }
    assert {i["serial"]: i["operator"] for i in body["items"]}["PEER-1"] == peer["operator"]
    states = {i["instance"]: i for i in body["instances"]}
    assert states["http://testserver"]["state"] == "ok"
    assert states[urls["peer"]] == {"instance": urls["peer"], "state": "ok", "count": 3,
                                    "more": False}  # fmt: skip
    assert states[urls["dead"]]["state"] == "unreachable"
    assert states[urls["hanging"]]["state"] == "unreachable"
    assert "longer than 6 s" in states[urls["hanging"]]["error"]
    assert states[urls["not-allowed"]]["state"] == "not-allowed"
    assert "DBP_DID_WEB_ALLOWED_HOSTS" in states[urls["not-allowed"]]["error"]

    # the filters travel: a serial prefix only the peer has, and a GTIN nobody has
    r = client.get("/passports", params={"serial": "PEER-2", "peers": "true"})
    assert [(i["instance"], i["serial"]) for i in r.json()["items"]] == [(urls["peer"], "PEER-2")]
    r = client.get("/passports", params={"gtin": OTHER_GTIN, "peers": "true"})
    assert r.json()["items"] == []
    # without peers=true the API answers for this instance alone, and asks nobody
    r = client.get("/passports", params={"gtin": GTIN})
    assert {i["instance"] for i in r.json()["items"]} == {"http://testserver"}
    assert "instances" not in r.json()

    # the page: rows of both instances, each labelled, and every failing peer named with why
    page = client.get("/authority/search", params={"gtin": GTIN})
    assert page.status_code == 200, page.text
    for serial in ("HERE-000000", "PEER-1", "PEER-3"):
        assert serial in page.text
    assert page.text.count(urls["peer"]) >= 4  # its status line and its three rows
    for label in ("did not answer", "not allowed"):
        assert label in page.text
    assert f'href="{urls["peer"]}/01/{GTIN}/21/PEER-1"' in page.text


def test_a_peer_that_refuses_the_query_is_reported_with_its_reason(peer):
    from infra.fetch import FetchPolicy
    from portal import federation

    policy = FetchPolicy(frozenset({peer["url"]}), 30.0, federation.MAX_PEER_BYTES)
    with httpx.Client(trust_env=False) as client:
        answer = federation.ask(client, policy, peer["url"], {"gtin": GTIN}, None, 10)
        assert answer.state == "refused" and answer.items == []
        assert "HTTP 401" in answer.error and "token" in answer.error
        answer = federation.ask(client, policy, peer["url"], {}, "not-a-token", 10)
        assert answer.state == "refused"
        answer = federation.ask(client, policy, peer["url"], {"gtin": GTIN}, peer["token"], 2)
        assert answer.state == "ok" and len(answer.items) == 2 and answer.more


def test_a_bad_filter_is_refused_before_any_peer_is_asked(federated):
    client, _ = federated
    holder = Holder()
    assert authority_sign_in(client, holder, accredit(client, holder.did)).status_code == 200
    r = client.get("/passports", params={"gtin": "123", "peers": "true"})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert client.get("/authority/search", params={"gtin": "123"}).status_code == 422
    # and nobody signed in gets nothing, here or from the peers
    client.cookies.clear()
    assert client.get("/passports", params={"peers": "true"}).status_code == 401


def test_the_peer_list_must_be_urls(make_settings, sqlite_url):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="absolute http"):
        make_settings(sqlite_url, authority_peers="peer.example")
    settings = make_settings(
        sqlite_url,
        authority_peers="https://a.example/, https://b.example",
        authority_peer_tokens="https://a.example=tok-a",
    )
    assert settings.authority_peer_urls == ("https://a.example", "https://b.example")
    assert settings.authority_peer_token_map == {"https://a.example": "tok-a"}


def test_settings_table_lists_the_new_settings():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for name in (
        "DBP_AUTHORITY_PEERS",
        "DBP_AUTHORITY_PEER_TOKENS",
        "DBP_AUTHORITY_PEER_TIMEOUT_S",
    ):
        assert f"`{name}`" in readme
