"""Linkset JSON and Link header serialisation, link type names, and Accept negotiation."""

from __future__ import annotations

import pytest

from resolver import linktypes as lt
from resolver.linkset import Linkset, Target, link_header, link_value
from resolver.negotiation import InvalidAccept, NotAcceptable, choose, parse_accept, prefers_html

ANCHOR = "https://dpp.example.com/01/09520123456788/21/SN1"


def test_linkset_json_is_rfc9264_shape():
    links = Linkset(ANCHOR, "EV battery")
    links.add(lt.PIP, Target(ANCHOR, "text/html", "Battery passport", ("en",)))
    links.add(lt.GS1_DPP, Target(ANCHOR + "/passport", "application/ld+json"))
    links.add(lt.GS1_DPP, Target(ANCHOR + "/other", "application/ld+json"))
    doc = links.as_json()
    assert list(doc) == ["linkset"]
    (context,) = doc["linkset"]
    assert context["anchor"] == ANCHOR
    assert context["itemDescription"] == "EV battery"
    # relation types are keys; targets are arrays of target objects (RFC 9264 section 4.2)
    assert context["https://gs1.org/voc/pip"] == [
        {"href": ANCHOR, "title": "Battery passport", "type": "text/html", "hreflang": ["en"]}
    ]
    assert [t["href"] for t in context["https://gs1.org/voc/dpp"]] == [
        ANCHOR + "/passport",
        ANCHOR + "/other",
    ]


def test_link_serialisation():
    value = link_value(ANCHOR, "https://gs1.org/voc/pip", Target(ANCHOR, "text/html", 'Say "hi"\\'))
    assert value == f'<{ANCHOR}>; rel="https://gs1.org/voc/pip"; type="text/html"; ' + (
        'title="Say \\"hi\\"\\\\"'
    )


def test_the_link_header_points_to_the_linkset_and_lists_none_of_its_links():
    # GS1-Conformant resolver 1.0.0 deprecated every link in the Link header (legacyLinkHeaders)
    linkset_link = f'<{ANCHOR}?linkType=linkset>; rel="linkset"; type="application/linkset+json"'
    assert link_header(linkset_url=ANCHOR + "?linkType=linkset") == linkset_link
    canonical = link_value(ANCHOR, "canonical")
    header = link_header(linkset_url=ANCHOR + "?linkType=linkset", extra=(canonical,))
    assert header == f'{linkset_link}, <{ANCHOR}>; rel="canonical"'


def test_non_ascii_parameters_use_rfc8187():
    value = link_value(ANCHOR, "https://gs1.org/voc/pip", title="Batteriepass für Akku")
    assert "title*=UTF-8''Batteriepass%20f%C3%BCr%20Akku" in value
    assert value.isascii()


def test_extension_attributes_stay_in_json():
    target = Target(ANCHOR + "/access", extensions=(("method", ["POST"]),))
    assert target.as_json()["method"] == ["POST"]
    assert "method" not in link_value(target.href, "x", target)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("gs1:dpp", lt.GS1_DPP),
        ("https://gs1.org/voc/dpp", lt.GS1_DPP),
        ("https://ref.gs1.org/voc/dpp", lt.GS1_DPP),
        ("dpp", lt.DPP),
        ("untp:dpp", lt.UNTP_DPP),
        ("https://test.uncefact.org/vocabulary/linkTypes/dpp", lt.UNTP_DPP),
        ("gs1:pip", lt.PIP),
        ("describedby", lt.DESCRIBED_BY),
        ("gs1:nutritionalInfo", None),
        ("GS1:DPP", None),
    ],
)
def test_link_type_names(value, expected):
    assert lt.lookup(value) == expected


OFFERS = ("text/html", "application/linkset+json", "application/ld+json", "application/json")


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, "text/html"),
        ("", "text/html"),
        ("*/*", "text/html"),
        ("application/linkset+json", "application/linkset+json"),
        ("application/ld+json", "application/ld+json"),
        ("application/json", "application/json"),
        ("application/*", "application/linkset+json"),
        # a browser
        (
            "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8",
            "text/html",
        ),
        # q-values rank; the most specific range decides an offer's q
        ("text/html;q=0.5, application/json", "application/json"),
        ("*/*;q=0.1, application/ld+json;q=0.2", "application/ld+json"),
        ("application/*;q=0.9, application/json;q=0.1", "application/linkset+json"),
        ("text/html;q=0, */*", "application/linkset+json"),
        ("APPLICATION/LD+JSON", "application/ld+json"),
        ("nonsense, application/json", "application/json"),
    ],
)
def test_choose(accept, chosen):
    assert choose(accept, OFFERS) == chosen


@pytest.mark.parametrize(
    "accept", ["application/xml", "image/png", "text/html;q=0", "garbage", "text/*;level=1"]
)
def test_not_acceptable(accept):
    with pytest.raises(NotAcceptable) as info:
        choose(accept, OFFERS)
    assert info.value.status == 406
    assert info.value.problem_extensions["supported"] == list(OFFERS)


def test_parameters_must_match():
    offers = ('application/ld+json;profile="https://w3id.org/did-resolution"', "application/json")
    accept = 'application/ld+json;profile="https://w3id.org/did-resolution"'
    assert choose(accept, offers) == offers[0]
    with pytest.raises(NotAcceptable):
        choose('application/ld+json;profile="other"', offers)


def test_oversized_accept_is_400():
    with pytest.raises(InvalidAccept):
        parse_accept("text/html," * 1000)
    with pytest.raises(InvalidAccept):
        parse_accept(",".join(["text/html"] * 100))


def test_prefers_html():
    assert prefers_html("text/html,*/*;q=0.8")
    assert not prefers_html("*/*")
    assert not prefers_html(None)
    assert not prefers_html("text/html;q=0")
    assert not prefers_html("application/json")
