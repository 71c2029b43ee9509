"""What gets hashed into a Merkle leaf: the canonical bytes of a *signed* credential.

Two forms, chosen by how the credential is secured:

* **Data Integrity** (a JSON object with an embedded `proof`): the JSON Canonicalization Scheme,
  JCS / RFC 8785, of the whole signed document, proof included.
  - It commits to every byte of the JSON the holder has, not to an interpretation of it. RDF
    canonicalisation (RDFC-1.0, what `eddsa-rdfc-2022` signs) would be the other candidate, but it
    hashes the RDF graph, not the document: a term the JSON-LD context does not define is silently
    dropped by expansion (see DEPENDENCIES.md 3.2), so two different documents could share an
    RDFC digest. The anchor has to say "this exact document existed", including such unsigned
    extras, so that tampering anywhere is visible.
  - It needs no JSON-LD processing, no context documents and no network, and it is stable across
    context versions: a verifier years later recomputes it from the JSON alone (≈40 µs for a
    typical credential against 1–3 ms for RDFC).
  - Transport details do not matter: member order, whitespace and number spelling (`1.0` vs `1`)
    are normalised, so re-serialising a credential (a database round trip, a pretty-printer)
    keeps its leaf; any change of a name or value changes it.
  - It covers the proof too (`proofValue`, `created`, `verificationMethod`), so the anchor pins
    the signed credential, not merely its claims.
* **VC-JOSE** (`vc+jwt`, carried as an `EnvelopedVerifiableCredential` whose `id` is a `data:`
  URL): the ASCII bytes of the compact JWS itself. Those are the bytes the signature covers and
  what every holder stores and passes on, and a compact JWS is already canonical (one token, one
  string). Re-serialising the decoded payload would hash something nobody holds and would drop the
  protected header and the signature. A bare compact JWS string is accepted too.

A leaf is `merkle.leaf_hash(bytes)`: SHA-256 with the 0x00 leaf prefix.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any
from urllib.parse import unquote_to_bytes

import orjson
import rfc8785

from anchor import merkle
from anchor.errors import UnanchorableDocument
from vocab.lru import Lru

JCS = "jcs"
JWS = "jws"
ENVELOPED_TYPES = frozenset({"EnvelopedVerifiableCredential", "EnvelopedVerifiablePresentation"})


def _types(document: dict) -> set[str]:
    value = document.get("type", [])
    return {t for t in (value if isinstance(value, list) else [value]) if isinstance(t, str)}


def is_enveloped(document: object) -> bool:
    return isinstance(document, dict) and bool(_types(document) & ENVELOPED_TYPES)


def _data_url_payload(url: object) -> bytes:
    """The payload of a `data:` URL (RFC 2397): percent-decoded, or base64 with `;base64`."""
    if not isinstance(url, str) or not url.startswith("data:") or "," not in url:
        raise UnanchorableDocument("an enveloped credential's id must be a data: URL")
    header, _, payload = url[5:].partition(",")
    if header.lower().endswith(";base64"):
        try:
            return base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise UnanchorableDocument("the envelope's data: URL is not valid base64") from None
    return unquote_to_bytes(payload)


def _compact_jws(token: bytes) -> bytes:
    text = token.strip()
    if text.count(b".") != 2 or not all(text.split(b".")[0:3:2]):
        raise UnanchorableDocument(
            "the envelope does not hold a compact JWS (header.payload.signature)"
        )
    try:
        text.decode("ascii")
    except UnicodeDecodeError:
        raise UnanchorableDocument("a compact JWS is ASCII") from None
    return text


def canonical_bytes(document: object) -> tuple[str, bytes]:
    """(`"jcs"` or `"jws"`, the bytes a leaf is the hash of) for a signed credential."""
    if isinstance(document, str | bytes):
        raw = document.encode("utf-8") if isinstance(document, str) else document
        return JWS, _compact_jws(raw)
    if is_enveloped(document):
        assert isinstance(document, dict)
        return JWS, _compact_jws(_data_url_payload(document.get("id")))
    if not isinstance(document, dict):
        raise UnanchorableDocument("a credential to anchor is a JSON object or a compact JWS")
    plain = _plain_jcs(document)
    if plain is not None:
        return JCS, plain
    try:
        return JCS, rfc8785.dumps(document)
    except rfc8785.CanonicalizationError as exc:
        raise UnanchorableDocument(f"the credential has no JCS (RFC 8785) form: {exc}") from None


# RFC 8785 through orjson for the JSON where the two agree byte for byte: objects with string
# keys below U+D800 (JCS sorts keys by UTF-16 code units, orjson by code points; they order
# alike below the surrogates), strings, booleans, null, integers within +-(2**53 - 1) (rfc8785
# refuses larger ones) and finite floats of magnitude 1e-4 to 1e16 or zero, written as
# ECMAScript writes them (JCS's number form), which in that range is Python's shortest repr
# without a trailing ".0" (-0 is "0"). Strings are escaped alike (short escapes for \b \t \n
# \f \r, \u00xx for the other controls, nothing else). tests/anchor/test_leaves.py compares
# both on such documents and on random floats. Anything else (a float out of that range, a
# lone surrogate, another type) goes to rfc8785 as before. Why: rfc8785 is pure Python,
# ~1.4 ms per ~9 KiB passport tier credential (idle machine), four per passport in bulk
# issuance; this path takes ~0.15 ms (timeit, issue 15).
_SAFE_INT = 2**53 - 1


class _NotPlain(Exception):
    pass


def _plain_jcs(document: dict) -> bytes | None:
    try:
        return orjson.dumps(_plain(document), option=orjson.OPT_SORT_KEYS)
    except (_NotPlain, orjson.JSONEncodeError):  # JSONEncodeError: a lone surrogate
        return None


def _plain(node: Any) -> Any:
    kind = type(node)
    if kind is str or kind is bool or node is None:
        return node
    if kind is dict:
        out = {}
        for key, value in node.items():
            if type(key) is not str or (key and max(key) >= "\ud800"):
                raise _NotPlain
            out[key] = _plain(value)
        return out
    if kind is list:
        return [_plain(value) for value in node]
    if kind is int:
        if -_SAFE_INT <= node <= _SAFE_INT:
            return node
        raise _NotPlain
    if kind is float:
        if node == 0:
            return _ZERO
        if 1e-4 <= abs(node) < 1e16:
            text = repr(node)
            return orjson.Fragment(text[:-2] if text.endswith(".0") else text)
    raise _NotPlain


_ZERO = orjson.Fragment("0")


def leaf_of(document: object) -> bytes:
    """The 32-byte Merkle leaf of a signed credential."""
    key = _memo_key(document) if isinstance(document, dict) else None
    if key is not None:
        hit = _LEAVES.get(key)
        if hit is not None:
            return hit
    leaf = merkle.leaf_hash(canonical_bytes(document)[1])
    if key is not None:
        _LEAVES.put(key, leaf)
    return leaf


# The consumer page checks the anchor of a battery's public credentials on every scan, and
# rfc8785 is pure Python: ~3 ms for a 9 KiB passport credential, twice per page (profiled in the
# resolver read path), against ~0.1 ms for the C json encoder that makes the key. The leaf is a
# pure function of the JSON value; json.dumps with sorted keys keeps 1, 1.0 and true apart and
# refuses NaN, so two values share a key only if they are the same JSON value (string keys, as
# parsed JSON has). Bounded, and content-addressed, so it stays right in every process.
_LEAVES: Lru[bytes] = Lru(4096)


def _memo_key(document: dict) -> bytes | None:
    if not all(isinstance(k, str) for k in document):
        return None
    try:
        text = json.dumps(document, sort_keys=True, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError):
        return None
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def _jws_payload(token: bytes) -> dict | None:
    try:
        segment = token.split(b".")[1]
        payload = json.loads(base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4)))
    except (ValueError, IndexError, binascii.Error):
        return None
    return payload if isinstance(payload, dict) else None


def document_id(document: object) -> str | None:
    """The credential's `id` (from the JWT payload for a JOSE credential), if it has one.

    Nothing is verified here: the id only files the leaf so `GET /anchors/{id}` can find it."""
    payload: object = document
    if isinstance(document, str | bytes) or is_enveloped(document):
        try:
            _, token = canonical_bytes(document)
        except UnanchorableDocument:
            return None
        payload = _jws_payload(token)
    if not isinstance(payload, dict):
        return None
    value = payload.get("id", payload.get("jti"))
    return value if isinstance(value, str) and value else None
