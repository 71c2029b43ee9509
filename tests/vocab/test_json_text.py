"""vocab.json_text: JSON text with one meaning (issue 13 item 8)."""

from __future__ import annotations

import orjson
import pytest

from vocab import json_text
from vocab.json_text import DuplicateKey


@pytest.mark.parametrize(
    "text, name",
    [
        ('{"a": 1, "a": 2}', "a"),
        ('{"x": {"issuer": "did:a", "issuer": "did:b"}}', "issuer"),
        ('[{"ok": 1}, {"deep": [{"k": 1, "k": 1}]}]', "k"),
    ],
)
@pytest.mark.parametrize("parse", [json_text.loads, json_text.loads_lenient])
def test_duplicate_names_at_any_depth_are_refused(parse, text, name):
    with pytest.raises(DuplicateKey) as caught:
        parse(text.encode())
    assert caught.value.name == name
    assert caught.value.status == 400 and caught.value.code == "duplicate-json-key"


def test_unique_names_parse_as_orjson_does():
    text = b'{"a": [1, 2.5, "x", null, true], "b": {"a": {}}, "\\u00e9": "e"}'
    assert json_text.loads(text) == orjson.loads(text)
    assert json_text.loads_lenient(text) == orjson.loads(text)


def test_loads_keeps_orjsons_grammar_and_lenient_the_standard_librarys():
    for text in (b'{"n": NaN}', b'{"s": "\\ud800"}'):
        with pytest.raises(orjson.JSONDecodeError):
            json_text.loads(text)
    assert json_text.loads(b'{"n": 99999999999999999999999}') == {"n": 1e23}  # a float
    assert json_text.loads_lenient(b'{"n": 99999999999999999999999}') == {"n": 10**23 - 1}
    with pytest.raises(ValueError, match="NaN is not JSON"):
        json_text.loads_lenient(b'{"n": NaN}')
