"""JSON text with one meaning: member names are unique in every object, at any depth.

RFC 8259 §4 leaves duplicate names to the parser ("many implementations report the last
name/value pair only", others the first). A signed document or a presentation whose text holds
`"issuer"` twice could be verified with one value and read with the other, so wherever such a
document enters (request bodies, JWS headers and payloads, wallet imports) it goes through
`loads`, which refuses duplicates.

orjson cannot report duplicates; the standard library can (`object_pairs_hook`). Measured on a
14 KB body, the EV example passport (`.venv/bin/python -m timeit -s "from vocab.examples import
load_example as e; import orjson; from vocab import json_text as j; r = orjson.dumps(e('ev'))"
"j.loads(r)"`): orjson alone 22 us, json with the hook 87 us, both in turn 113 us, small next to
one signature check. `loads`
runs both: orjson keeps deciding what JSON is accepted (it refuses NaN and lone surrogates, which
would break signing and storage later; integers beyond 64 bits become floats), the hook only adds
the duplicate check.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from vocab.errors import VocabError


class DuplicateKey(VocabError, ValueError):
    """An object in the JSON text names the same member twice."""

    code = "duplicate-json-key"
    status = 400

    def __init__(self, name: str) -> None:
        super().__init__(
            f"the JSON text names member {name!r} twice in one object; duplicate names are "
            "refused because parsers disagree on which value counts"
        )
        self.name = name


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise DuplicateKey(name)
            seen.add(name)
    return value


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(object_pairs_hook=_unique, parse_constant=_no_constants)


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    """The value of JSON text under orjson's grammar, refusing duplicate member names.

    Raises DuplicateKey, or orjson.JSONDecodeError (a ValueError) for text that is not JSON."""
    value = orjson.loads(data)
    if isinstance(value, dict | list) and not _rewrites_to(value, data):
        refuse_duplicates(data)
    return value


def _rewrites_to(value: Any, data: bytes | bytearray | memoryview | str) -> bool:
    """Whether orjson writes `value` back as exactly `data`: then `data` has no duplicate names.

    Equal text parses to an equal tree of members, and orjson writes each member of `value`
    once, so text holding a name twice in one object can never equal it. Compact JSON (what
    jose.sign_jwt, JSON.stringify and orjson write) mostly passes, in ~5% of the stdlib hook's
    time (vc+jwt verify of the ~11 KiB public credential: ~120 us less); anything else, such
    as spaces or another float form, takes the hook."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    try:
        return orjson.dumps(value) == data
    except TypeError:
        return False


def loads_lenient(data: bytes | bytearray | memoryview | str) -> Any:
    """The value of JSON text under the standard library's grammar (integers of any size, lone
    surrogate escapes; not NaN), refusing duplicate member names; one pass."""
    return _DECODER.decode(data if isinstance(data, str) else bytes(data).decode())


def refuse_duplicates(data: bytes | bytearray | memoryview | str) -> None:
    """DuplicateKey when an object in `data` (valid JSON) names a member twice."""
    text = data if isinstance(data, str) else bytes(data).decode()
    _DECODER.decode(text)
