"""Federated passport search: this instance (in process) asks a real peer instance (uvicorn, its
own database) the same question over the peer's `GET /passports`, with the token the peer gave
an authority, and merges the answers labelled by instance. Peers that are not allowed, do not
answer, hang past the time limit or refuse are shown as such next to the others' rows."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from federation_testkit import add_operator
from portal_testkit import GTIN, Holder, accredit, authority_sign_in, register_many

pytestmark = pytest.mark.slow

OTHER_GTIN = "04012345000016"


def test_search_merges_the_peer_and_labels_every_instance(federated, peer):
    client, urls = federated
    acme = add_operator(client, "acme")
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
        "DBP_AUTHORITY_PEER_INSTANCES",
        "DBP_AUTHORITY_PEER_TIMEOUT_S",
    ):
        assert f"`{name}`" in readme
