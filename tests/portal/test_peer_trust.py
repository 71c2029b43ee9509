"""Lasting peer trust for the federated search: two real instances on their own ports and
databases. A (this instance, in process and served by uvicorn so that B can resolve its
did:web) has an authority signed in by presentation; B (a uvicorn subprocess) lists A's DID in
DBP_AUTHORITY_PEER_INSTANCES and trusts A's instance as the anchor of AuthorityCredentials.
A vouches for the authority per query with its AuthorityCredential in a presentation A signs over
a fresh challenge of B, bound to B's origin: no token that expires. Refused: an instance B does
not trust, a replayed challenge, another domain, a revoked credential; never a 500."""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Iterator
from datetime import timedelta

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from portal_testkit import GTIN, Holder, accredit, authority_sign_in
from quarantine_testkit import _wait_for
from server_testkit import free_port, uvicorn_instance

pytestmark = pytest.mark.slow


def _did_web(url: str) -> str:
    return "did:web:" + url.removeprefix("http://").replace(":", "%3A")


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> Iterator[dict]:
    import uvicorn

    from issuer import operators
    from service.app import create_app
    from service.db import make_engine, session_scope
    from service.settings import Settings

    tmp = tmp_path_factory.mktemp("peer-trust")
    port_a, port_b = free_port(), free_port()
    url_a, url_b = f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"
    did_a = _did_web(url_a)
    registry = tmp / "trust-b.json"
    registry.write_text(
        json.dumps({"trustAnchors": [{"id": did_a, "accredits": ["market-surveillance"]}]})
    )
    db_b = f"sqlite:///{tmp / 'b.sqlite3'}"
    env_b = {
        **os.environ,
        "DBP_DATA_DIR": str(tmp / "var-b"),
        "DBP_PUBLIC_URL": url_b,
        "DBP_DATABASE_URL": db_b,
        "DBP_TRUST_REGISTRY": str(registry),
        "DBP_DID_WEB_ALLOWED_HOSTS": url_a,
        "DBP_AUTHORITY_PEER_INSTANCES": did_a,
        "DBP_BULK_WORKER": "false",
        "DBP_ANCHOR_WORKER": "off",
    }
    settings_a = Settings(
        data_dir=tmp / "var-a", database_url=f"sqlite:///{tmp / 'a.sqlite3'}", public_url=url_a,
        did_web_allowed_hosts=url_b, authority_peers=url_b, authority_peer_timeout_s=30,
    )  # fmt: skip
    assert settings_a.did_web_base == did_a
    app = create_app(settings_a)
    with TestClient(app, raise_server_exceptions=False) as client:
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port_a, log_level="warning", lifespan="off")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            _wait_for(url_a)
            with uvicorn_instance(url_b, port_b, env_b, tmp / "b.log"):
                settings_b = Settings(data_dir=tmp / "var-b", public_url=url_b, database_url=db_b)
                engine_b = make_engine(settings_b.resolved_database_url)
                with session_scope(engine_b) as session:
                    _, token = operators.create_operator(
                        session, name="b-op", did_method="web",
                        did_web_base=settings_b.did_web_base,
                        master_key=settings_b.load_master_key(),
                    )  # fmt: skip
                for serial in ("B-1", "B-2"):
                    r = httpx.post(
                        f"{url_b}/batteries", json={"gtin": GTIN, "serial": serial},
                        headers={"Authorization": f"Bearer {token}"}, timeout=60,
                    )  # fmt: skip
                    assert r.status_code == 201, r.text
                try:
                    yield {"a": client, "url_a": url_a, "url_b": url_b, "did_a": did_a,
                           "engine_b": engine_b}  # fmt: skip
                finally:
                    engine_b.dispose()
        finally:
            server.should_exit = True
            thread.join(timeout=15)


def _peer_state(client: TestClient, url_b: str) -> dict:
    r = client.get("/passports", params={"gtin": GTIN, "peers": "true"})
    assert r.status_code == 200, r.text
    return {i["instance"]: i for i in r.json()["instances"]}[url_b]


def _log_b(pair: dict) -> list:
    from sqlmodel import Session

    from verifier import audit

    with Session(pair["engine_b"]) as session:
        return [r for r in audit.entries(session, limit=10_000) if r.action == "federated-search"]


def _forwarded(pair: dict, credentials: list[dict], *, domain: str | None = None,
               signer: Holder | None = None) -> str:  # fmt: skip
    """A DBP-Peer-Presentation header for B: over a fresh challenge of B, signed by A's instance
    (or by `signer`), bound to B's origin (or `domain`)."""
    from issuer.instance import present_as_instance
    from service.db import session_scope

    url_b = pair["url_b"]
    challenge = httpx.post(f"{url_b}/challenges", json={"domain": url_b}).json()["challenge"]
    if signer is not None:
        vp = signer.present(credentials, challenge, domain or url_b)
    else:
        rt = pair["a"].app.state.runtime
        with session_scope(rt.engine) as session:
            vp = present_as_instance(session, rt.master_key, credentials, challenge=challenge,
                                     domain=domain or url_b)  # fmt: skip
    return base64.urlsafe_b64encode(orjson.dumps(vp)).decode().rstrip("=")


def _ask_b(pair: dict, header: str) -> httpx.Response:
    return httpx.get(f"{pair['url_b']}/passports", params={"gtin": GTIN},
                     headers={"DBP-Peer-Presentation": header}, timeout=60)  # fmt: skip


def test_lasting_trust_outlives_the_peer_token(pair):
    from sqlalchemy import update
    from sqlmodel import Session

    from infra.fetch import FetchPolicy
    from portal import federation
    from portal.tables import PortalSession
    from vocab.datetimes import utcnow

    client, url_b = pair["a"], pair["url_b"]
    client.cookies.clear()  # the module's client: no sign-in of another test
    holder = Holder()
    credential = accredit(client, holder.did)
    # the token path: B issues the authority a token, and it expires with B's session lifetime
    challenge = httpx.post(f"{url_b}/challenges", json={}).json()
    vp = holder.present([credential], challenge["challenge"], challenge["domain"])
    r = httpx.post(f"{url_b}/authority/tokens", json={"verifiablePresentation": vp})
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    policy = FetchPolicy(frozenset({url_b}), 30.0, federation.MAX_PEER_BYTES)
    with httpx.Client(trust_env=False) as http:
        assert federation.ask(http, policy, url_b, {"gtin": GTIN}, token, 10).state == "ok"
        with Session(pair["engine_b"]) as session:
            session.execute(update(PortalSession).values(expires_at=utcnow() - timedelta(1)))
            session.commit()
        expired = federation.ask(http, policy, url_b, {"gtin": GTIN}, token, 10)
        assert expired.state == "refused" and "HTTP 401" in expired.error

    # the lasting path: signed in here by presentation, A vouches for the authority at B
    assert authority_sign_in(client, holder, credential).status_code == 200
    before = len(_log_b(pair))
    for _ in range(2):  # a fresh challenge each time: asking again is no replay
        state = _peer_state(client, url_b)
        assert state["state"] == "ok" and state["count"] == 2, state
    r = client.get("/passports", params={"gtin": GTIN, "peers": "true"})
    assert {i["serial"] for i in r.json()["items"] if i["instance"] == url_b} == {"B-1", "B-2"}
    page = client.get("/authority/search", params={"gtin": GTIN})
    assert page.status_code == 200 and "B-1" in page.text and "B-2" in page.text
    # B's access log names the authority and the instance that forwarded its query
    rows = _log_b(pair)[before:]
    assert len(rows) == 4 and {r.outcome for r in rows} == {"released"}
    assert {(r.requester, r.reason) for r in rows} == {
        (holder.did, f"forwarded by {pair['did_a']}")
    }
    assert all("market-surveillance" in (r.role or "") for r in rows), [r.role for r in rows]


def test_b_refuses_what_it_should(pair):
    client = pair["a"]
    holder = Holder()
    credential = accredit(client, holder.did)
    assert _ask_b(pair, _forwarded(pair, [credential])).status_code == 200

    # an instance B does not list: refused (403), whatever it presents
    r = _ask_b(pair, _forwarded(pair, [credential], signer=Holder()))
    assert r.status_code == 403, r.text
    assert r.json()["type"].endswith("untrusted-instance")
    assert "DBP_AUTHORITY_PEER_INSTANCES" in r.json()["detail"]

    # the same presentation twice: the challenge is spent by the first
    header = _forwarded(pair, [credential])
    assert _ask_b(pair, header).status_code == 200
    r = _ask_b(pair, header)
    assert r.status_code == 401 and r.json()["type"].endswith("challenge-replayed"), r.text

    # bound to another domain than B's origin
    r = _ask_b(pair, _forwarded(pair, [credential], domain="https://elsewhere.example"))
    assert r.status_code == 401 and r.json()["type"].endswith("domain-mismatch"), r.text

    # not an AuthorityCredential's presentation at all, or not a presentation
    r = _ask_b(pair, _forwarded(pair, []))
    assert r.status_code == 403 and "role credentials" in r.json()["detail"], r.text
    for garbage in ("!!!", base64.urlsafe_b64encode(b"[1, 2]").decode(), "x" * 70_000):
        r = _ask_b(pair, garbage)
        assert r.status_code in (401, 431), r.text
    # refusals are in B's log too, with their reason
    reasons = {r.reason for r in _log_b(pair) if r.outcome == "refused"}
    assert {"untrusted-instance", "challenge-replayed", "domain-mismatch"} <= reasons


def test_a_revoked_authority_credential_is_refused_by_the_peer(pair):
    from service.db import session_scope

    client, url_b = pair["a"], pair["url_b"]
    client.cookies.clear()  # the module's client: no sign-in of another test
    holder = Holder()
    credential = accredit(client, holder.did)
    assert authority_sign_in(client, holder, credential).status_code == 200
    assert _peer_state(client, url_b)["state"] == "ok"
    rt = client.app.state.runtime
    with session_scope(rt.engine) as session:
        rt.change_instance_credential_status(session, credential["id"], "revocation", True)
    # A's session still stands, but B checks the credential itself, each time
    state = _peer_state(client, url_b)
    assert state["state"] == "refused" and "revoked" in state["error"], state
    assert "DBP_AUTHORITY_PEER_INSTANCES" in state["error"]
    r = _ask_b(pair, _forwarded(pair, [credential]))
    assert r.status_code == 403 and r.json()["type"].endswith("credential-revoked"), r.text
