"""Issue 14 item 5 (GS1 conformant resolver): syntax errors are 400, a trailing slash is
tolerated, linkset answers link their JSON-LD context, OPTIONS carries GET's Link header, a request
naming no link type and no media type is redirected to gs1:defaultLink, URIs above the item level
(and unknown qualifier values) walk up to the model, and Accept chooses among links of one type.
The linkset schema is in test_gs1_linkset_schema.py."""

from __future__ import annotations

import pytest
from resolver_testkit import battery_with_passport

from resolver.api import LINKSET_CONTEXT

LINKSET = "application/linkset+json"


@pytest.fixture
def battery(app_client, operator_token):
    return battery_with_passport(app_client, operator_token("acme"), "SN-0001")


def test_broken_syntax_after_a_valid_item_uri_is_400(app_client, battery):
    # the GS1 suite appends /foo to a working URI and wants 400
    for path in (battery["path"] + "/foo", battery["path"] + "/21/again"):
        r = app_client.get(path, headers={"Accept": "application/json"})
        assert r.status_code == 400, (path, r.text)
        assert r.json()["type"].endswith("/invalid-digital-link")


def test_trailing_slash_answers_like_the_uri_without_it(app_client, battery):
    for headers in ({"Accept": LINKSET}, {"Accept": "application/ld+json"}):
        plain = app_client.get(battery["path"], headers=headers)
        slashed = app_client.get(battery["path"] + "/", headers=headers)
        assert plain.status_code == slashed.status_code == 200
        assert plain.content == slashed.content
    typed = app_client.get(
        battery["path"] + "/?linkType=gs1:sustainabilityInfo", follow_redirects=False
    )
    assert (
        typed.status_code
        == app_client.get(
            battery["path"] + "?linkType=gs1:sustainabilityInfo", follow_redirects=False
        ).status_code
    )


def test_linkset_answers_link_the_json_ld_context(app_client, battery):
    for r in (
        app_client.get(battery["path"], headers={"Accept": LINKSET}),
        app_client.get(battery["path"] + "?linkType=linkset"),
    ):
        assert r.status_code == 200
        link = r.headers["link"]
        assert (
            f'<{LINKSET_CONTEXT}>; rel="http://www.w3.org/ns/json-ld#context"; '
            'type="application/ld+json"'
        ) in link
        assert 'rel="linkset"' in link
    # other representations keep their Link header without it
    page = app_client.get(battery["path"], headers={"Accept": "application/ld+json"})
    assert LINKSET_CONTEXT not in page.headers["link"]


def test_options_carries_the_same_link_header_as_get(app_client, battery):
    get = app_client.get(battery["path"], headers={"Accept": "application/ld+json"})
    options = app_client.options(battery["path"])
    assert options.status_code == 204
    assert options.headers["link"] == get.headers["link"]
    assert "OPTIONS" in options.headers["access-control-allow-methods"]
    # an unknown GTIN or a broken path is still a plain preflight answer, never an error
    for path in ("/01/00000000000017/21/NOT-REGISTERED", battery["path"] + "/foo"):
        r = app_client.options(path)
        assert r.status_code == 204 and "link" not in r.headers
    # a serial not registered here walks up to its model, as GET does
    for path in ("/01/09520123456788/21/NOT-REGISTERED", "/01/09520123456788"):
        options = app_client.options(path)
        get = app_client.get(path, headers={"Accept": LINKSET})
        assert options.headers["link"] in get.headers["link"]
        assert "<http://testserver/01/09520123456788?linkType=linkset>" in options.headers["link"]


def test_typed_link_redirects_pass_the_query_string_on(app_client, battery):
    r = app_client.get(
        battery["path"] + "?foo=bar&linkType=gs1:dpp&lang=en", follow_redirects=False
    )
    assert r.status_code == 307, r.text
    plain = app_client.get(battery["path"] + "?linkType=gs1:dpp", follow_redirects=False)
    # every pair but linkType, which chose the link
    assert r.headers["location"] == plain.headers["location"] + "?foo=bar&lang=en"
    assert 'rel="linkset"' in r.headers["link"]


# --- gs1:defaultLink: GS1 "the resolver SHALL redirect to that URL unless there is information
# supplied within the query to the contrary" ---


def default_link(client, path):
    linkset = client.get(path, headers={"Accept": LINKSET}).json()["linkset"][0]
    (target,) = linkset["https://gs1.org/voc/defaultLink"]
    return target


def test_default_link_is_one_link_with_a_title_only(app_client, battery):
    target = default_link(app_client, battery["path"])
    # GS1: "it SHALL include a title, but SHALL NOT include other attributes"
    assert target == {"href": battery["uri"] + "/page", "title": "Battery passport"}


@pytest.mark.parametrize("accept", [None, "*/*", "*/*;q=0.8"])
def test_no_link_type_and_no_media_type_redirects_to_the_default_link(app_client, battery, accept):
    headers = {"Accept": accept} if accept else {}
    if accept is None:
        app_client.headers.pop("accept", None)
    r = app_client.get(battery["path"] + "?foo=bar", headers=headers, follow_redirects=False)
    assert r.status_code == 307, r.text
    assert r.headers["location"] == default_link(app_client, battery["path"])["href"] + "?foo=bar"
    assert 'rel="linkset"' in r.headers["link"]
    assert r.headers["vary"] == "Accept"
    # the default link is the consumer page, whatever the client accepts
    page = app_client.get(battery["path"], headers=headers)
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.url.path == battery["path"] + "/page"


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        ("text/html,application/xhtml+xml,*/*;q=0.8", "text/html; charset=utf-8"),
        ("application/ld+json", "application/ld+json"),
        ("application/json", "application/json"),
        (LINKSET, LINKSET),
        ("text/*", "text/html; charset=utf-8"),
    ],
)
def test_clients_naming_a_media_type_are_answered_in_place(app_client, battery, accept, media_type):
    r = app_client.get(battery["path"], headers={"Accept": accept}, follow_redirects=False)
    assert r.status_code == 200
    assert r.headers["content-type"] == media_type


def test_the_page_resource_is_the_page_whatever_accept_says(app_client, battery):
    in_place = app_client.get(battery["path"], headers={"Accept": "text/html"})
    for accept in ("*/*", "application/ld+json"):
        page = app_client.get(battery["path"] + "/page", headers={"Accept": accept})
        assert page.status_code == 200
        assert page.content == in_place.content
        assert page.headers["etag"] == in_place.headers["etag"]


# --- typed links: Accept chooses among links of one link type ---


@pytest.mark.parametrize(
    ("accept", "suffix"),
    [("image/png", "/qr.png"), ("image/svg+xml", "/qr.svg"), ("*/*", "/qr.svg"), (None, "/qr.svg")],
)
def test_accept_chooses_the_related_image(app_client, battery, accept, suffix):
    headers = {"Accept": accept} if accept else {}
    r = app_client.get(
        battery["path"] + "?linkType=gs1:relatedImage", headers=headers, follow_redirects=False
    )
    assert r.status_code == 307
    assert r.headers["location"] == battery["uri"] + suffix
    png = app_client.get(battery["path"] + "?linkType=gs1:relatedImage", headers=headers)
    assert png.headers["content-type"] == ("image/png" if suffix == "/qr.png" else "image/svg+xml")


# --- walk-up: GS1 "For each supported primary key, a resolver SHALL support all its key
# qualifiers"; the GS1 suite asks /01/{gtin}/10/KL8G and wants anything but a 404 ---

MODEL = "/01/09520123456788"


@pytest.mark.parametrize(
    "path",
    [
        MODEL,
        MODEL + "/",
        "/01/9520123456788",  # GTIN-13 form
        MODEL + "/10/KL8G",
        MODEL + "/22/V1/10/KL8G",
        MODEL + "/21/NOT-REGISTERED",
        MODEL + "/10/KL8G/21/NOT-REGISTERED",
    ],
)
def test_walk_up_to_the_model(app_client, battery, path):
    linkset = app_client.get(path, headers={"Accept": LINKSET})
    assert linkset.status_code == 200, linkset.text
    assert linkset.headers["content-type"] == LINKSET
    (context,) = linkset.json()["linkset"]
    assert context["anchor"] == "http://testserver" + MODEL
    assert context["itemDescription"] == "Battery model, GTIN 09520123456788"
    assert LINKSET_CONTEXT in linkset.headers["link"]
    default = context["https://gs1.org/voc/defaultLink"]
    assert default == [{"href": "http://testserver" + MODEL + "/page", "title": "Battery model"}]
    r = app_client.get(path + "?x=1", headers={"Accept": "*/*"}, follow_redirects=False)
    assert r.status_code == 307
    assert r.headers["location"] == default[0]["href"] + "?x=1"
    assert f'<http://testserver{MODEL}?linkType=linkset>; rel="linkset"' in r.headers["link"]
    page = app_client.get(path, headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "GTIN <span" in page.text and "09520123456788" in page.text
    as_json = app_client.get(path, headers={"Accept": "application/json"})
    assert as_json.headers["content-type"] == "application/json"
    assert as_json.json() == linkset.json()


def test_the_model_page_says_the_serial_is_unknown(app_client, battery):
    page = app_client.get(MODEL + "/21/NOT-REGISTERED", headers={"Accept": "text/html"})
    assert "No battery with serial number" in page.text and "NOT-REGISTERED" in page.text
    plain = app_client.get(MODEL + "/page")
    assert plain.status_code == 200 and "NOT-REGISTERED" not in plain.text


def test_model_level_typed_links(app_client, battery):
    r = app_client.get(MODEL + "?linkType=gs1:pip", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "http://testserver" + MODEL
    missing = app_client.get(MODEL + "?linkType=gs1:dpp")
    assert missing.status_code == 404
    assert missing.json()["type"].endswith("/no-such-link")
    assert 'rel="linkset"' in missing.headers["link"]
    for query in ("?linkType=linkset", "?linkType=all"):
        assert app_client.get(MODEL + query).headers["content-type"] == LINKSET


def test_walk_up_stops_at_a_gtin_with_no_battery_here(app_client, battery):
    for path, code in (
        ("/01/00000000000017", "unknown-model"),
        ("/01/00000000000017/10/KL8G", "unknown-model"),
        ("/01/00000000000017/21/X", "unknown-battery"),
    ):
        r = app_client.get(path, headers={"Accept": "application/json"})
        assert r.status_code == 404, path
        assert r.json()["type"].endswith("/" + code)
    html = app_client.get("/01/00000000000017", headers={"Accept": "text/html"})
    assert html.status_code == 404 and "text/html" in html.headers["content-type"]


def test_sub_resources_of_an_unknown_serial_do_not_walk_up(app_client, battery):
    for resource in ("passport", "page", "qr.svg"):
        r = app_client.get(f"{MODEL}/21/NOT-REGISTERED/{resource}")
        assert r.status_code in (404,) or resource == "qr.svg", (resource, r.status_code)
    # a model has no such sub-resources: a syntax error
    assert app_client.get(MODEL + "/passport").status_code == 400
