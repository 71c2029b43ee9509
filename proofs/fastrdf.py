"""A compiled JSON-LD to RDF path for plain documents over bundled contexts (pyoxigraph).

pyld's pure-Python expansion and to-RDF are most of the time of an eddsa-rdfc-2022 sign or
verify. pyoxigraph (Rust) has a JSON-LD 1.1 parser, but no document loader and no safe mode. This
module uses it only where it provably gives pyld's dataset, and otherwise answers None so the
caller takes the pyld path, which stays the reference (and the only one that words errors):

- Eligible documents only (`_eligible_values`): top-level contexts that are bundled URLs or a
  lone `{"@vocab": absolute IRI}`, no other `@` keys, no `_:` keys, no JSON number that pyld and
  pyoxigraph could write differently (floats are rewritten, see below; integers beyond 2**53,
  NaN and infinities are not eligible), and none of the terms whose bundled definitions use
  JSON-LD features outside what the differential tests cover (`_special_terms`: containers
  other than @set, @json, scoped contexts that reset the active context, terms mapped to
  null). Not eligible either: keyword-like strings ("@ignoreMe", ignored by JSON-LD), an empty
  array as the value of a keyword alias (`"id": []`), and bundled contexts that use `@base`
  or `@direction` (inlining changes the first, pyoxigraph drops the second).
- An empty array makes no triple, so nothing would show that its term is undefined: it is
  parsed as a probe IRI, whose triples are taken out again (`_probed`).
- The bundled contexts are inlined (the same files the loader serves), with the undefined-terms
  probe first and the relative-IRI sentinel as base, exactly as `expand_strict` does with pyld;
  if either sentinel shows up in the result, something would have been dropped or resolved, and
  pyld is asked for the precise refusal.
- Native JSON floats: pyoxigraph writes the shortest round-trip form ("8.2E-3") where JSON-LD
  (pyld and jsonld.js) write `%1.15E` with trailing zeros removed ("8.200000000000001E-3"); every
  xsd:double literal of an eligible document comes from a native float (nothing coerces to
  xsd:double and `@value` is not eligible), so each is rewritten.

tests/proofs/test_fastrdf.py compares both paths on every credential of the tests, the examples,
the W3C vectors and hypothesis-generated passports; tests/proofs/test_fastrdf_tordf_suite.py on
the official JSON-LD 1.1 toRdf suite, its contexts served as if bundled.
"""

from __future__ import annotations

import json
import math
import re
from functools import cache
from typing import Any

import pyoxigraph

from vocab.loader import (
    UNDEFINED_TERM_VOCAB,
    UNDEFINED_TERMS_CONTEXT_URL,
    bundled_urls,
    context_document,
)

# Same sentinel base as proofs.canonical (kept equal by a test; imported there from here).
RELATIVE_BASE = "https://relative-iri.invalid/"
_XSD_DOUBLE = "http://www.w3.org/2001/XMLSchema#double"
_XSD_DOUBLE_BYTES = _XSD_DOUBLE.encode()
# A double literal in N-Quads as pyoxigraph writes it. Inside a literal every `"` is escaped,
# so a match is always a whole literal; its lexical form is pyoxigraph's shortest round trip.
_DOUBLE_LITERAL = re.compile(rb'"([-+0-9.eE]+)"\^\^<' + re.escape(_XSD_DOUBLE_BYTES) + rb">")
_ABSOLUTE_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*:[^\s<>\"{}|\\^`]*\Z")
_KEYWORD_FORM = re.compile(r"@[A-Za-z]+\Z")  # JSON-LD 1.1: such IRIs are ignored
_SAFE_INTEGER = 2**53
# Stands in for an empty array (see `_probed`); an absolute IRI, so that it stays what it is
# under any coercion (@id, @vocab) or none. A document holding this string is not eligible.
EMPTY_PROBE = "urn:uuid:5d6a1c8e-2f0b-4c57-9e1a-empty-array-probe"


@cache
def _inlined(url: str) -> tuple[Any, ...]:
    """The bundled context at `url` as a list of local context definitions (strings inlined)."""
    context = context_document(url)["@context"]
    out: list[Any] = []
    for entry in context if isinstance(context, list) else [context]:
        out.extend(_inlined(entry) if isinstance(entry, str) else [entry])
    return tuple(out)


@cache
def _special_terms() -> frozenset[str]:
    """Terms whose definition, in any bundled context or scope, the fast path does not cover."""
    special: set[str] = set()

    def visit(context: Any) -> None:
        if isinstance(context, list):
            for entry in context:
                visit(entry)
            return
        if not isinstance(context, dict):
            return
        for term, definition in context.items():
            if definition is None or (
                isinstance(definition, dict) and definition.get("@id", "") is None
            ):
                # Mapped to null: pyoxigraph drops its values silently, pyld's safe mode refuses.
                special.add(term)
                continue
            if not isinstance(definition, dict):
                continue
            container = definition.get("@container")
            containers = container if isinstance(container, list) else [container]
            scoped = definition.get("@context", False)
            if (
                any(c not in (None, "@set", "@language") for c in containers)
                or definition.get("@type") == "@json"
                or scoped is None
                or (scoped is not False and _resets(scoped))
                or "@reverse" in definition
            ):
                special.add(term)
            if scoped:
                visit(scoped)

    for url in bundled_urls():
        visit(list(_inlined(url)))
    return frozenset(special)


@cache
def _keyword_aliases() -> frozenset[str]:
    """Terms any bundled context maps to a keyword (`id`, `type`, ...)."""
    aliases: set[str] = set()

    def visit(context: Any) -> None:
        if isinstance(context, list):
            for entry in context:
                visit(entry)
        elif isinstance(context, dict):
            for term, definition in context.items():
                target = definition.get("@id") if isinstance(definition, dict) else definition
                if isinstance(target, str) and target.startswith("@"):
                    aliases.add(term)
                if isinstance(definition, dict) and definition.get("@context"):
                    visit(definition["@context"])

    for url in bundled_urls():
        visit(list(_inlined(url)))
    return frozenset(aliases)


@cache
def _unsupported_context(url: str) -> bool:
    """Whether the bundled context at `url` uses what inlining it would not keep as it is:
    `@base` (ignored in a remote context, honoured inline) and `@direction`, as a default or
    through an alias (pyoxigraph leaves the direction out of the literal, pyld writes an i18n
    datatype)."""
    stack: list[Any] = list(_inlined(url))
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "@base" in item or "@direction" in item:
                return True
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif item == "@direction":
            return True
    return False


def _resets(context: Any) -> bool:
    entries = context if isinstance(context, list) else [context]
    return any(
        entry is None or (isinstance(entry, dict) and _resets_inside(entry)) for entry in entries
    )


def _resets_inside(definition: dict) -> bool:
    return any(
        value is None or (isinstance(value, dict) and _resets_inside(value))
        for value in definition.values()
    )


def _contexts(document: dict[str, Any]) -> list[Any] | None:
    context = document.get("@context")
    entries = context if isinstance(context, list) else [context]
    out: list[Any] = list(_inlined(UNDEFINED_TERMS_CONTEXT_URL))
    bundled = bundled_urls()
    for entry in entries:
        if isinstance(entry, str) and entry in bundled:
            if _unsupported_context(entry):
                return None
            out.extend(_inlined(entry))
        elif (
            isinstance(entry, dict)
            and entry.keys() == {"@vocab"}
            and isinstance(entry["@vocab"], str)
            and _ABSOLUTE_IRI.match(entry["@vocab"])
        ):
            out.append(entry)
        else:
            return None
    return out


def _eligible_values(document: dict[str, Any]) -> bool | None:
    """None if the document is not eligible; else whether it holds an empty array."""
    special = _special_terms()
    aliases = _keyword_aliases()
    empty = False
    stack: list[Any] = [v for k, v in document.items() if k != "@context"]
    for key in document:
        if key != "@context" and (key.startswith(("@", "_:")) or key in special):
            return None
        if key != "@context" and _yields_nothing(document[key]):
            if key in aliases:
                return None  # see below
            empty = True
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key.startswith(("@", "_:")) or key in special:
                    return None
                if isinstance(value, list) and _yields_nothing(value):
                    if key in aliases:
                        # The probe stands in for a property value only: as `id` it would
                        # become the subject (pyld refuses `"id": []`), in a list a member.
                        return None
                    empty = True
                stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            if item == EMPTY_PROBE or _KEYWORD_FORM.match(item):
                # A keyword-like IRI ("@ignoreMe") is ignored by JSON-LD, so its data would
                # vanish without a word; pyld decides.
                return None
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if abs(item) >= _SAFE_INTEGER:
                return None
        elif isinstance(item, float):
            if not math.isfinite(item) or (item.is_integer() and abs(item) >= _SAFE_INTEGER):
                return None
        else:
            return None  # not JSON
    return empty


def _yields_nothing(value: Any) -> bool:
    """An array with no values in it: pyld keeps the property (and refuses it if undefined)
    though it makes no triple, so no triple would show the fast path an undefined term."""
    return isinstance(value, list) and all(v is None or _yields_nothing(v) for v in value)


def _probed(value: Any) -> tuple[Any, bool]:
    """`value` with every property value that yields nothing replaced by EMPTY_PROBE (and
    whether there was one). The probe's triple shows the term's IRI (the undefined-term
    sentinel, if so); it is removed again from the dataset, which is then what the empty array
    made: nothing."""
    if isinstance(value, dict):
        out, found = {}, False
        for key, item in value.items():
            if key != "@context" and _yields_nothing(item):
                out[key], found = EMPTY_PROBE, True
            else:
                out[key], inner = _probed(item)
                found = found or inner
        return out, found
    if isinstance(value, list):
        items = [_probed(item) for item in value]
        return [item for item, _ in items], any(found for _, found in items)
    return value, False


def _remove_probes(dataset: pyoxigraph.Dataset) -> None:
    probes = [
        q
        for q in dataset
        if isinstance(q.object, (pyoxigraph.Literal, pyoxigraph.NamedNode))
        and q.object.value == EMPTY_PROBE
    ]
    for quad in probes:
        dataset.remove(quad)


def _pyld_double(lexical: str) -> str:
    # pyld's _canonicalize_double (JSON-LD 1.1 toRdf: the canonical form of jsonld.js).
    return re.sub(r"(\d)0*E\+?(-)?0*(\d)", r"\1E\2\3", f"{float(lexical):1.15E}")


def _pyld_double_literal(match: re.Match[bytes]) -> bytes:
    lexical = _pyld_double(match.group(1).decode("ascii"))
    return b'"' + lexical.encode("ascii") + b'"^^<' + _XSD_DOUBLE_BYTES + b">"


def dataset(document: Any, *, exact_literals: bool = True) -> pyoxigraph.Dataset | None:
    """The document's RDF dataset (pyld's dataset), or None: take the pyld path.

    `exact_literals=False` leaves doubles in pyoxigraph's form, for callers that only need to
    know that nothing was dropped."""
    if not isinstance(document, dict):
        return None
    contexts = _contexts(document)
    empty = None if contexts is None else _eligible_values(document)
    if empty is None:
        return None
    try:
        if empty:
            document, _ = _probed(document)
        text = json.dumps({**document, "@context": contexts}, allow_nan=False)
        # Lenient: pyoxigraph's strict mode silently leaves out triples with an invalid IRI
        # (pyld keeps them and our N-Quads parse refuses them). Lenient keeps them, and the
        # strict N-Quads parse below refuses them, so pyld gets to word the refusal.
        parsed = pyoxigraph.parse(
            text, format=pyoxigraph.RdfFormat.JSON_LD, base_iri=RELATIVE_BASE, lenient=True
        )
        written = pyoxigraph.serialize(parsed, format=pyoxigraph.RdfFormat.N_QUADS)
        if UNDEFINED_TERM_VOCAB.encode() in written or RELATIVE_BASE.encode() in written:
            return None  # an undefined term or a relative IRI: pyld words the refusal
        if exact_literals and _XSD_DOUBLE_BYTES in written:
            written = _DOUBLE_LITERAL.sub(_pyld_double_literal, written)
        result = pyoxigraph.Dataset(pyoxigraph.parse(written, format=pyoxigraph.RdfFormat.N_QUADS))
    except (SyntaxError, ValueError, TypeError, RecursionError):
        return None
    if empty:
        _remove_probes(result)
    return result


def nquads(document: Any) -> str | None:
    """The document's RDF dataset as (non-canonical) N-Quads, or None: take the pyld path."""
    result = dataset(document)
    if result is None:
        return None
    return pyoxigraph.serialize(result, format=pyoxigraph.RdfFormat.N_QUADS).decode("utf-8")
