"""GS1 Digital Link resolution over HTTP, on SQLite and PostgreSQL: every representation of an item
URI, typed-link redirects, the Link header, cache validators, and precise errors for bad input."""

from __future__ import annotations

import re

import pytest
from resolver_testkit import GTIN, auth, battery_with_passport

LINKSET = "application/linkset+json"


@pytest.fixture
def acme(operator_token):
    return operator_token("acme")


@pytest.fixture
def battery(app_client, acme):
    """Registered and issued through the issuer's API: the resolver reads the real store."""
    return battery_with_passport(app_client, acme, "SN-0001")


def registered(app_client, operator: dict, serial: str, gtin: str = GTIN) -> dict:
    """A battery registered with `POST /batteries`, no passport issued yet."""
    r = app_client.post("/batteries", json={"gtin": gtin, "serial": serial}, headers=auth(operator))
    assert r.status_code == 201, r.text
    b = r.json()
    return {**b, "path": b["itemUri"].removeprefix("http://testserver")}


def links_by_rel(header: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for href, rel in re.findall(r'<([^>]+)>; rel="([^"]+)"', header):
        out.setdefault(rel, []).append(href)
    return out


def test_linkset_by_accept_and_by_query(app_client, battery):
    uri = battery["uri"]
    by_accept = app_client.get(battery["path"], headers={"Accept": LINKSET})
    by_query = app_client.get(battery["path"] + "?linkType=linkset")
    legacy = app_client.get(battery["path"] + "?linkType=all", headers={"Accept": "text/html"})
    for r in (by_accept, by_query, legacy):
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == LINKSET
    assert by_accept.content == by_query.content == legacy.content
    (context,) = by_accept.json()["linkset"]
    assert context["anchor"] == uri
    passport = [{"href": uri + "/passport", "title": "Public passport credentials",
                 "type": "application/ld+json"}]  # fmt: skip
    for rel in (
        "https://gs1.org/voc/dpp",
        "dpp",
        "https://test.uncefact.org/vocabulary/linkTypes/dpp",
    ):
        assert context[rel] == passport
    # GS1: the default link has a title and no other attribute; it cannot be the item URI,
    # which redirects to it
    assert context["https://gs1.org/voc/defaultLink"] == [
        {"href": uri + "/page", "title": "Battery passport"}
    ]
    assert context["https://gs1.org/voc/pip"][0]["href"] == uri
    assert context["https://gs1.org/voc/pip"][0]["type"] == "text/html"
    assert context["describedby"][0]["href"] == (
        f"http://testserver/batteries/{battery['id']}/did.json"
    )
    access = context["https://w3id.org/dbp/linktypes/restrictedDataAccess"][0]
    assert access["href"] == uri + "/access"
    # GS1's linkset schema has no room for UNTP's `method` and `accessRole`: said in the title
    assert set(access) == {"href", "title", "type"}
    assert "POST" in access["title"] and "legitimate-interest" in access["title"]
    images = context["https://gs1.org/voc/relatedImage"]
    assert [(i["href"], i["type"]) for i in images] == [
        (uri + "/qr.svg", "image/svg+xml"),
        (uri + "/qr.png", "image/png"),
    ]
    # only because the EV example passport has a carbon footprint and a declaration of conformity
    assert context["https://gs1.org/voc/sustainabilityInfo"][0]["href"] == uri + "#carbon-footprint"
    assert context["https://gs1.org/voc/certificationInfo"][0]["href"].endswith(".pdf")


def test_link_header_on_every_representation(app_client, battery):
    uri = battery["uri"]
    for accept in ("text/html", LINKSET, "application/ld+json", "application/json"):
        r = app_client.get(battery["path"], headers={"Accept": accept})
        assert r.status_code == 200, (accept, r.text)
        links = links_by_rel(r.headers["link"])
        assert links["linkset"] == [uri + "?linkType=linkset"]
        # the linkset's own links are in it, not in the header (GS1 resolver 1.0.0 on)
        linkset_rels = {"https://gs1.org/voc/dpp", "dpp", "describedby"}
        assert not linkset_rels & set(links)
        assert r.headers["vary"] == "Accept"
        assert r.headers["access-control-allow-origin"] == "*"
    redirect = app_client.get(battery["path"] + "?linkType=gs1:dpp", follow_redirects=False)
    assert "linkset" in links_by_rel(redirect.headers["link"])
    missing = app_client.get(battery["path"] + "?linkType=gs1:epil")
    assert "linkset" in links_by_rel(missing.headers["link"])
    for kind in ("svg", "png"):
        qr = app_client.get(f"{battery['path']}/qr.{kind}")
        assert links_by_rel(qr.headers["link"])["linkset"] == [uri + "?linkType=linkset"]


@pytest.mark.parametrize(
    ("link_type", "target"),
    [
        ("gs1:dpp", "/passport"),
        ("https://gs1.org/voc/dpp", "/passport"),
        ("https://ref.gs1.org/voc/dpp", "/passport"),
        ("dpp", "/passport"),
        ("untp:dpp", "/passport"),
        ("gs1:pip", ""),
        ("gs1:defaultLink", "/page"),
        ("gs1:sustainabilityInfo", "#carbon-footprint"),
        ("gs1:relatedImage", "/qr.svg"),
        ("dbp:restrictedDataAccess", "/access"),
        ("https://w3id.org/dbp/linktypes/restrictedDataAccess", "/access"),
        ("https://w3id.org/dbp/vocab#restrictedDataAccess", "/access"),  # the IRI before
    ],
)
def test_link_type_redirects(app_client, battery, link_type, target):
    r = app_client.get(battery["path"], params={"linkType": link_type}, follow_redirects=False)
    assert r.status_code == 307, r.text
    assert r.headers["location"] == battery["uri"] + target


def test_link_type_did_document(app_client, battery):
    r = app_client.get(battery["path"] + "?linkType=describedby", follow_redirects=False)
    assert r.headers["location"] == f"http://testserver/batteries/{battery['id']}/did.json"


@pytest.mark.parametrize("link_type", ["gs1:epil", "gs1:nutritionalInfo", "nonsense", ""])
def test_unknown_link_type_is_404(app_client, battery, link_type):
    r = app_client.get(battery["path"], params={"linkType": link_type})
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("/no-such-link")


@pytest.mark.parametrize("accept", ["application/ld+json", "application/json"])
def test_public_credentials(app_client, battery, accept):
    r = app_client.get(battery["path"], headers={"Accept": accept})
    assert r.status_code == 200
    assert r.headers["content-type"] == accept
    body = r.json()
    assert body["type"] == ["VerifiablePresentation"]
    assert body["verifiableCredential"] == [battery["credential"]]
    same = app_client.get(battery["path"] + "/passport", headers={"Accept": "text/html"})
    assert same.headers["content-type"] == "application/ld+json"
    assert same.json() == body


def test_page_is_the_default(app_client, battery):
    for accept in (None, "*/*", "text/html", "text/html,application/xhtml+xml,*/*;q=0.8"):
        headers = {"Accept": accept} if accept else {}
        r = app_client.get(battery["path"], headers=headers)
        assert r.status_code == 200
        assert r.headers["content-type"] == "text/html; charset=utf-8"
        assert '<html lang="en">' in r.text
        assert "Authentic" in r.text


@pytest.mark.parametrize(
    "gtin_form", ["09520123456788", "9520123456788"]
)  # GTIN-14 and GTIN-13 of the same trade item
def test_gtin_13_is_normalised(app_client, battery, gtin_form):
    r = app_client.get(f"/01/{gtin_form}/21/SN-0001", headers={"Accept": LINKSET})
    assert r.status_code == 200
    assert r.json()["linkset"][0]["anchor"] == battery["uri"]
    if gtin_form != GTIN:
        assert links_by_rel(r.headers["link"])["canonical"] == [battery["uri"]]


@pytest.mark.parametrize(
    ("short", "gtin14"),
    [("96385074", "00000096385074"), ("036000291452", "00036000291452")],
)
def test_gtin_8_and_12(app_client, acme, short, gtin14):
    battery = registered(app_client, acme, "S8", gtin=short)
    assert battery["path"] == f"/01/{gtin14}/21/S8"
    for gtin in (short, gtin14):
        r = app_client.get(f"/01/{gtin}/21/S8", headers={"Accept": LINKSET})
        assert r.status_code == 200, r.text
        assert r.json()["linkset"][0]["anchor"] == f"http://testserver/01/{gtin14}/21/S8"


@pytest.mark.parametrize("qualifiers", ["/22/V1", "/10/LOT-7", "/22/V1/10/LOT-7"])
def test_variant_and_batch_qualifiers(app_client, battery, qualifiers):
    path = f"/01/{GTIN}{qualifiers}/21/SN-0001"
    r = app_client.get(path, headers={"Accept": LINKSET})
    assert r.status_code == 200, r.text
    assert r.json()["linkset"][0]["anchor"] == "http://testserver" + path
    page = app_client.get(path, headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "SN-0001" in page.text


def test_serial_with_slash_and_percent(app_client, acme):
    battery = registered(app_client, acme, "A/B%c")
    assert battery["path"] == f"/01/{GTIN}/21/A%2FB%25c"
    r = app_client.get(battery["path"], headers={"Accept": LINKSET})
    assert r.status_code == 200, r.text
    assert r.json()["linkset"][0]["anchor"] == "http://testserver" + battery["path"]


def test_etag_and_304(app_client, battery):
    for accept in ("text/html", LINKSET, "application/ld+json"):
        first = app_client.get(battery["path"], headers={"Accept": accept})
        tag = first.headers["etag"]
        assert re.fullmatch(r'"[A-Za-z0-9_-]{24}"', tag)
        again = app_client.get(battery["path"], headers={"Accept": accept})
        assert again.headers["etag"] == tag  # same bytes, same tag
        cached = app_client.get(
            battery["path"], headers={"Accept": accept, "If-None-Match": f'W/"x", {tag}'}
        )
        assert cached.status_code == 304
        assert cached.content == b""
        assert cached.headers["etag"] == tag
        stale = app_client.get(battery["path"], headers={"Accept": accept, "If-None-Match": '"x"'})
        assert stale.status_code == 200
    page = app_client.get(battery["path"], headers={"Accept": "text/html"})
    assert page.headers["cache-control"] == "no-cache"
    linkset = app_client.get(battery["path"], headers={"Accept": LINKSET})
    assert linkset.headers["cache-control"] == "public, max-age=60"
    assert page.headers["etag"] != linkset.headers["etag"]


def test_head(app_client, battery):
    r = app_client.head(battery["path"], headers={"Accept": LINKSET})
    assert r.status_code == 200
    assert "linkset" in links_by_rel(r.headers["link"])


def test_cors_preflight(app_client, battery):
    r = app_client.options(
        battery["path"],
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET"},
    )
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "*"
    assert "If-None-Match" in r.headers["access-control-allow-headers"]
    assert "Link" in r.headers["access-control-expose-headers"]


def test_resolver_description(app_client):
    for path in ("/.well-known/gs1resolver", "/.well-known/resolver"):
        r = app_client.get(path)
        assert r.status_code == 200
        body = r.json()
        assert body["resolverRoot"] == "http://testserver"
        assert body["supportedPrimaryKeys"] == ["01"]
        assert {"namespace": "https://gs1.org/voc/", "prefix": "gs1:"} in body["supportedLinkType"]
        active = body["activeLinkTypes"]["en"]
        assert active["gs1:dpp"]["url"] == "https://gs1.org/voc/dpp"
        assert "untp:dpp" in active and "dpp" in active
        assert r.headers["etag"]


# --- bad input: each a precise 4xx problem naming what is wrong, never a 500 ---


@pytest.mark.parametrize(
    ("path", "status", "code", "field"),
    [
        ("/01/0952012345678X/21/SN-0001", 400, "invalid-gs1-key", "gtin"),  # malformed GTIN
        ("/01/12345/21/SN-0001", 400, "invalid-gs1-key", "gtin"),  # wrong length
        ("/01/09520123456789/21/SN-0001", 400, "invalid-gs1-key", "gtin"),  # check digit
        ("/01/09520123456788/21/" + "S" * 21, 400, "invalid-gs1-key", "serial"),  # too long
        ("/01/09520123456788/21/a%20b", 400, "invalid-gs1-key", "serial"),  # not CSet 82
        ("/01/09520123456788/10/" + "L" * 21 + "/21/S", 400, "invalid-gs1-key", "batch"),
        # a GTIN with no battery here (a known one walks up to its model: GS1 conformance)
        ("/01/00000000000017/21/NOT-REGISTERED", 404, "unknown-battery", None),
        ("/01/00000000000017", 404, "unknown-model", None),
        # GS1: syntax errors are 400 (issue 14 item 5)
        ("/01/09520123456788/21/SN-0001/nope", 400, "invalid-digital-link", None),
    ],
)
def test_bad_item_requests(app_client, battery, path, status, code, field):
    r = app_client.get(path, headers={"Accept": "application/json"})
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"] == f"https://w3id.org/dbp/problems/{code}"
    assert body["status"] == status
    if field:
        assert body["field"] == field
        assert body["detail"].startswith(field + ":")


@pytest.mark.parametrize(
    "accept", ["application/xml", "image/png", "text/plain", "application/did+json"]
)
def test_unsupported_accept_is_406(app_client, battery, accept):
    r = app_client.get(battery["path"], headers={"Accept": accept})
    assert r.status_code == 406
    body = r.json()
    assert body["type"].endswith("/not-acceptable")
    assert "application/linkset+json" in body["supported"]
    assert "linkset" in links_by_rel(r.headers["link"])


def test_oversized_accept_is_400(app_client, battery):
    r = app_client.get(battery["path"], headers={"Accept": "text/html," * 600})
    assert r.status_code == 400
    assert r.json()["field"] == "Accept"


def test_browsers_get_error_pages(app_client, battery):
    unknown = app_client.get(
        "/01/00000000000017/21/NOT-REGISTERED", headers={"Accept": "text/html"}
    )
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "text/html; charset=utf-8"
    assert "<h1>Battery not found</h1>" in unknown.text
    bad = app_client.get("/01/09520123456789/21/X", headers={"Accept": "text/html"})
    assert bad.status_code == 400
    assert "check digit" in bad.text


def test_no_public_passport_yet(app_client, acme):
    battery = registered(app_client, acme, "EMPTY")
    r = app_client.get(battery["path"], headers={"Accept": "application/ld+json"})
    assert r.status_code == 404
    assert r.json()["type"].endswith("/no-public-passport")
    linkset = app_client.get(battery["path"] + "?linkType=linkset").json()["linkset"][0]
    assert "dpp" not in linkset
    assert "https://gs1.org/voc/sustainabilityInfo" not in linkset
    assert app_client.get(battery["path"] + "?linkType=dpp").status_code == 404
    page = app_client.get(battery["path"], headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "No public passport yet" in page.text


def test_access_point_takes_post(app_client, battery):
    r = app_client.get(battery["path"] + "/access")
    assert r.status_code == 405
    assert r.headers["allow"] == "POST"
