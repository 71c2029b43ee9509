"""Reading GS1 Digital Link item paths from raw request paths."""

from __future__ import annotations

import pytest

from resolver.digital_link import MalformedItemPath, NotAnItemPath, parse_item_path
from vocab.gs1 import InvalidGs1Key


@pytest.mark.parametrize(
    ("path", "gtin", "serial", "variant", "batch", "resource"),
    [
        ("/01/09520123456788/21/SN1", "09520123456788", "SN1", None, None, None),
        ("/01/9520123456788/21/SN1", "09520123456788", "SN1", None, None, None),
        ("/01/036000291452/21/SN1", "00036000291452", "SN1", None, None, None),
        ("/01/96385074/21/SN1", "00000096385074", "SN1", None, None, None),
        ("/01/09520123456788/22/V2/21/SN1", "09520123456788", "SN1", "V2", None, None),
        ("/01/09520123456788/10/B7/21/SN1", "09520123456788", "SN1", None, "B7", None),
        ("/01/09520123456788/22/V/10/B/21/S/qr.png", "09520123456788", "S", "V", "B", "qr.png"),
        ("/01/09520123456788/21/A%2FB", "09520123456788", "A/B", None, None, None),
        ("/01/09520123456788/21/x%25y/passport", "09520123456788", "x%y", None, None, "passport"),
    ],
)
def test_item_paths(path, gtin, serial, variant, batch, resource):
    request = parse_item_path(path)
    assert (request.key.gtin, request.key.serial) == (gtin, serial)
    assert (request.key.variant, request.key.batch, request.resource) == (variant, batch, resource)


def test_canonical_path_writes_gtin_14():
    assert parse_item_path("/01/96385074/10/B/21/A%2FB").canonical_path == (
        "/01/00000096385074/10/B/21/A%2FB"
    )


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/01/09520123456789/21/SN1", "gtin"),  # check digit
        ("/01/0952012345678X/21/SN1", "gtin"),
        ("/01/12345/21/SN1", "gtin"),
        ("/01/09520123456788/21/" + "x" * 21, "serial"),
        ("/01/09520123456788/21/a%20b", "serial"),
        ("/01/09520123456788/10/" + "b" * 21 + "/21/x", "batch"),
        ("/01/09520123456788/22/%C3%A9/21/x", "variant"),
    ],
)
def test_bad_values_name_their_field(path, field):
    with pytest.raises(InvalidGs1Key) as info:
        parse_item_path(path)
    assert info.value.field == field
    assert info.value.status == 400


@pytest.mark.parametrize(
    "path",
    ["/01/09520123456788", "/01/09520123456788/10/B1", "/414/9520123456788"],
)
def test_not_item_paths(path):
    with pytest.raises(NotAnItemPath):
        parse_item_path(path)


@pytest.mark.parametrize(
    "path",
    [
        "/01/09520123456788/21/S/unknown",
        "/01/09520123456788/21/S/qr.png/x",
        "/01/09520123456788/10/B/22/V/21/S",  # 22 must come before 10
        "/01/09520123456788/21/S/21/T",
        "/01/09520123456788/21",
        "/01/09520123456788/10/B1/foo",
        "/01/09520123456788/99/x",
    ],
)
def test_broken_digital_link_syntax_is_a_400(path):
    # issue 14 item 5 (GS1 conformant resolver: syntax errors are 400, not 404)
    with pytest.raises(MalformedItemPath) as caught:
        parse_item_path(path)
    assert caught.value.status == 400


def test_a_trailing_slash_is_tolerated():
    plain = parse_item_path("/01/09520123456788/21/S1")
    assert parse_item_path("/01/09520123456788/21/S1/") == plain
    assert parse_item_path("/01/09520123456788/21/S1/qr.svg/") == parse_item_path(
        "/01/09520123456788/21/S1/qr.svg"
    )


def test_the_plain_path_shortcut_answers_as_the_general_parse(monkeypatch):
    """A QR code's path (vocab.gs1.plain_item) skips the general parse: same request, same
    canonical path, same errors, for every sub-resource and for what is none."""
    import itertools

    from resolver import digital_link

    gtins = ["09520123456788", "09520123456789", "9520123456788"]
    serials = ["BN00000005", "a.b-c_d", "x" * 20, "x" * 21, "S%2F1"]
    tails = ["", "/", "/page", "/qr.svg", "/qr.png", "/passport", "/access", "/pages", "/page/"]
    paths = [f"/01/{g}/21/{s}{t}" for g, s, t in itertools.product(gtins, serials, tails)]

    def outcome(path: str):
        try:
            request = parse_item_path(path)
        except (InvalidGs1Key, MalformedItemPath, NotAnItemPath) as exc:
            return type(exc), str(exc)
        return request, request.resource, request.canonical_path

    shortcut = [outcome(p) for p in paths]
    monkeypatch.setattr(digital_link, "plain_item", lambda path: None)
    assert shortcut == [outcome(p) for p in paths]
    assert sum(isinstance(o[0], digital_link.ItemRequest) for o in shortcut) > 40
