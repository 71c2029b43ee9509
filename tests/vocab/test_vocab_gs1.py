"""GS1 keys: GTIN normalisation and check digits, AI (21) serials, Digital Link paths."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from vocab.gs1 import (
    ITEM_URI_PATTERN,
    DigitalLinkPath,
    InvalidGs1Key,
    MalformedDigitalLink,
    item_key,
    item_key_in_path,
    normalise_gtin,
    parse_item_uri,
    parse_path,
)


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


def test_gtin_results_are_cached_errors_are_not():
    # normalise_gtin keeps GTIN-14s by their text (scans repeat a model's GTIN): a bad one must
    # be refused every time, and a non-string still gets InvalidGs1Key, not the cache's TypeError
    for _ in range(3):
        with pytest.raises(InvalidGs1Key):
            normalise_gtin("09520123456789")
        assert normalise_gtin("9520123456788") == "09520123456788"
    with pytest.raises(InvalidGs1Key):
        normalise_gtin(["09520123456788"])  # type: ignore[arg-type]


@pytest.mark.parametrize("serial", ["a b", "x" * 21, "", "é", "a#b", "a~b", "SN1\n", "SN1\x1f"])
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


@pytest.mark.parametrize("escaped", ["%0A", "%0D%0A", "%1F"])
def test_a_control_character_at_the_end_of_a_serial_is_refused(escaped):
    # a trailing newline once passed the character set 82 check (its regex ended in `$`)
    with pytest.raises(InvalidGs1Key) as info:
        parse_path(f"/01/09520123456788/21/SN1{escaped}")
    assert info.value.field == "serial"


# --- issue 21: one GS1 Digital Link grammar (vocab.gs1.parse_path) for every reader ---


def test_parse_path_reads_every_level():
    assert parse_path("/01/9520123456788") == DigitalLinkPath("09520123456788")
    assert parse_path("/01/09520123456788/22/V/10/B%2F1/") == DigitalLinkPath(
        "09520123456788", "V", "B/1"
    )
    item = parse_path("/01/09520123456788/10/B/21/S%2F1/qr.svg")
    assert (item.batch, item.serial, item.rest) == ("B", "S/1", ("qr.svg",))
    assert item.item_key() == item_key("09520123456788", "S/1", batch="B")
    assert item.path() == "/01/09520123456788/10/B/21/S%2F1"


def _outcome(parse, path: str):
    try:
        return parse(path)
    except (InvalidGs1Key, MalformedDigitalLink) as exc:
        return (type(exc), str(exc))


def test_the_plain_item_path_shortcut_answers_as_the_general_walk():
    import itertools
    import random

    from vocab import gs1

    gtins = ["09520123456788", "09520123456789", "9520123456788", "0952012345678X", "1" * 14]
    serials = ["BN00000005", "S", "a.b-c_d", "x" * 20, "x" * 21, "", "S%2F1", "S%201", "S~",
               "S!", "Ä", "SN 1"]  # fmt: skip
    tails = ["", "/", "/page", "/page/", "/qr.svg", "/passport", "/access", "/21", "/22/V",
             "/page/x", "/Page", "/p4ge", "//", "/.", "/page//"]  # fmt: skip
    paths = [
        f"/01/{gtin}/21/{serial}{tail}"
        for gtin, serial, tail in itertools.product(gtins, serials, tails)
    ]
    paths += ["/01/09520123456788/22/V/21/S", "/01/09520123456788/10/B/21/S/page", "/01//21/S"]
    rng = random.Random(16)
    alphabet = "0123456789abcxyzABCZ._-/%2F~ "
    for _ in range(3000):
        tail = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12)))
        paths.append(f"/01/{rng.choice(gtins)}/21/{tail}")
    shortcut = 0
    for path in paths:
        walked = _outcome(gs1._walk_path, path)
        assert _outcome(parse_path, path) == walked, path
        plain = _outcome(gs1.plain_item, path)
        if plain is None:
            continue
        shortcut += 1
        if isinstance(plain, tuple) and isinstance(plain[0], gs1.ItemKey):
            key, resource, canonical = plain
            assert (key, (resource,) if resource else ()) == (walked.item_key(), walked.rest)
            assert canonical == key.path() == walked.path(), path
        else:
            assert plain == walked, path  # the same error
    assert shortcut > 200  # the shortcut itself was exercised, not only the walk


def test_parse_path_refuses_broken_syntax():
    # out of order, repeated, a qualifier without value, another primary key
    bad = ("/10/B/22/V/21/S", "/21/S/21/T", "/21", "")
    for path in ["/01/09520123456788" + tail for tail in bad[:-1]] + ["/414/9520123456788"]:
        with pytest.raises(MalformedDigitalLink) as info:
            parse_path(path)
        assert info.value.status == 400, path


def test_item_key_in_path_skips_a_prefix_and_wants_a_serial_only():
    assert item_key_in_path("/root/01/9520123456788/21/A%2FB") == item_key("9520123456788", "A/B")
    for path in ("/01/09520123456788", "/01/09520123456788/21/S/x", "/01/09520123456788/21/S/"):
        with pytest.raises(InvalidGs1Key) as info:
            item_key_in_path(path)
        assert info.value.field == "uri"
    with pytest.raises(InvalidGs1Key) as bad:
        item_key_in_path("/01/09520123456789/21/S")
    assert bad.value.field == "gtin"


def test_the_schema_pattern_is_the_grammar_of_stored_identifiers():
    pattern = re.compile(ITEM_URI_PATTERN)
    for uri in (
        "https://dpp.example.com/01/09520123456788/21/SN1",
        "https://x.example/prefix/01/09520123456788/22/V/10/B/21/a%2Fb",
    ):
        assert pattern.match(uri)
        parse_item_uri(uri)
    assert not pattern.match("https://dpp.example.com/01/09520123456788")
    schema = Path(__file__).parents[2] / "vocab/schemas/public-battery-passport-credential.json"
    assert json.dumps(ITEM_URI_PATTERN) in schema.read_text("utf-8")
