"""GS1 keys: GTIN normalisation and check digits, AI (21) serials, Digital Link paths."""

from __future__ import annotations

import pytest

from vocab.gs1 import InvalidGs1Key, item_key, normalise_gtin, parse_item_uri


@pytest.mark.parametrize(
    ("raw", "gtin14"),
    [
        ("12345670", "00000012345670"),
        ("012345678905", "00012345678905"),
        ("9520123456788", "09520123456788"),
        ("09520123456788", "09520123456788"),
    ],
)
def test_gtin_forms_normalise_to_14(raw, gtin14):
    assert normalise_gtin(raw) == gtin14


@pytest.mark.parametrize("raw", ["09520123456789", "123", "0952012345678x", "", "095201234567880"])
def test_bad_gtins(raw):
    with pytest.raises(InvalidGs1Key) as info:
        normalise_gtin(raw)
    assert info.value.field == "gtin"


@pytest.mark.parametrize("serial", ["a b", "x" * 21, "", "é", "a#b", "a~b"])
def test_bad_serials(serial):
    with pytest.raises(InvalidGs1Key) as info:
        item_key("9520123456788", serial)
    assert info.value.field == "serial"


def test_item_uri_encodes_and_orders_qualifiers():
    key = item_key("9520123456788", "SN/1", variant="V1", batch="B 1".replace(" ", ""))
    assert key.path() == "/01/09520123456788/22/V1/10/B1/21/SN%2F1"
    assert (
        key.uri("https://dpp.example.com/")
        == "https://dpp.example.com/01/09520123456788/22/V1/10/B1/21/SN%2F1"
    )


@pytest.mark.parametrize(
    ("uri", "gtin", "serial", "batch"),
    [
        ("https://dpp.example.com/01/09520123456788/21/SN1", "09520123456788", "SN1", None),
        ("http://testserver/01/9520123456788/10/B1/21/a%2Fb", "09520123456788", "a/b", "B1"),
        ("https://x.example/prefix/01/12345670/21/1", "00000012345670", "1", None),
    ],
)
def test_parse_item_uri(uri, gtin, serial, batch):
    key = parse_item_uri(uri)
    assert (key.gtin, key.serial, key.batch) == (gtin, serial, batch)


@pytest.mark.parametrize(
    "uri",
    [
        "https://dpp.example.com/01/09520123456788",
        "ftp://dpp.example.com/01/09520123456788/21/SN1",
        "https://dpp.example.com/01/09520123456788/21/SN1?linkType=all",
        "https://dpp.example.com/01/09520123456789/21/SN1",
        "not a uri",
    ],
)
def test_parse_item_uri_refuses(uri):
    with pytest.raises(InvalidGs1Key):
        parse_item_uri(uri)
