"""Issue 14 item 5 (GS1 conformant resolver), the parts done: syntax errors are 400, a trailing
slash is tolerated, and linkset answers link their JSON-LD context."""

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
    # an unknown battery or a broken path is still a plain preflight answer, never an error
    for path in ("/01/09520123456788/21/NOT-REGISTERED", battery["path"] + "/foo"):
        r = app_client.options(path)
        assert r.status_code == 204 and "link" not in r.headers


def test_typed_link_redirects_pass_the_query_string_on(app_client, battery):
    r = app_client.get(
        battery["path"] + "?foo=bar&linkType=gs1:dpp&lang=en", follow_redirects=False
    )
    assert r.status_code == 307, r.text
    plain = app_client.get(battery["path"] + "?linkType=gs1:dpp", follow_redirects=False)
    # every pair but linkType, which chose the link
    assert r.headers["location"] == plain.headers["location"] + "?foo=bar&lang=en"
    assert 'rel="linkset"' in r.headers["link"]
