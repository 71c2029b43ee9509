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
- Only the term definitions the document can reach are inlined (`_pruned`), at the top level
  and inside the scoped contexts of kept terms: the terms it names as a key, a string or a
  prefix, and what their definitions name in turn (a term defined twice is kept whole unless
  every definition is the same self-contained one, so protected-term errors stay; scoped
  copies of such a term defined at the top level too go); pyoxigraph processes the inlined
  contexts again on every parse (and a type-scoped one again on every node of that type),
  and the full VC 2.0 context was most of a small credential's parse.
- `quads` hands the N-Quads pyoxigraph writes over as term strings (each line held to the
  strict N-Quads grammar, each IRI and language tag to pyoxigraph's strict parser), without
  building a pyoxigraph Dataset: going through Python objects per quad cost more than parsing.
- Native JSON floats: pyoxigraph writes the shortest round-trip form ("8.2E-3") where JSON-LD
  (pyld and jsonld.js) write `%1.15E` with trailing zeros removed ("8.200000000000001E-3"); every
  xsd:double literal of an eligible document comes from a native float (nothing coerces to
  xsd:double and `@value` is not eligible), so each is rewritten.

tests/proofs/test_fastrdf.py compares both paths on every credential of the tests, the examples,
the W3C vectors and hypothesis-generated passports; tests/proofs/test_fastrdf_tordf_suite.py on
the official JSON-LD 1.1 toRdf suite, its contexts served as if bundled.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from functools import cache
from typing import Any, NamedTuple

import orjson
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


def _bundled_definitions() -> Iterator[tuple[str, Any]]:
    """Every term definition of every bundled context, scoped contexts included."""
    stack: list[Any] = [list(_inlined(url)) for url in bundled_urls()]
    while stack:
        context = stack.pop()
        if isinstance(context, list):
            stack.extend(context)
        elif isinstance(context, dict):
            for term, definition in context.items():
                yield term, definition
                if isinstance(definition, dict) and definition.get("@context"):
                    stack.append(definition["@context"])


@cache
def _special_terms() -> frozenset[str]:
    """Terms whose definition, in any bundled context or scope, the fast path does not cover."""
    special: set[str] = set()
    for term, definition in _bundled_definitions():
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
    return frozenset(special)


@cache
def _keyword_aliases() -> frozenset[str]:
    """Terms any bundled context maps to a keyword (`id`, `type`, ...)."""
    aliases: set[str] = set()
    for term, definition in _bundled_definitions():
        target = definition.get("@id") if isinstance(definition, dict) else definition
        if isinstance(target, str) and target.startswith("@"):
            aliases.add(term)
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


def _tokens(value: Any, out: set[str]) -> None:
    """Every string of `value` (keys too), and the part before the first ":" of each: what
    could name a term (a key, a type, a value expanded against the vocabulary, a prefix)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.add(item)
            colon = item.find(":")
            if colon > 0:
                out.add(item[:colon])
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


class _Pruning(NamedTuple):
    refs: dict[str, frozenset[str]]  # prunable term -> what its definition could name
    # the prunable terms the kept entries (keywords, unprunable terms) could name
    always: frozenset[str]
    made: dict[frozenset[str], list[Any]]  # pruned contexts, by the prunable terms named
    # The contexts themselves: while this entry lives, no other object can take their ids
    # (the key), even if whoever made them lets them go.
    contexts: tuple[Any, ...]
    # Whether pyoxigraph processes these contexts whole: pruning hides a term definition from
    # the parser, so an error in one the document does not use is found here, once.
    valid: bool
    # Prunable terms defined alike at the top level and again in scoped contexts: the copies
    # in scoped contexts change nothing (the top-level one is in force there too) and go.
    redundant: frozenset[str] = frozenset()


_PRUNINGS: dict[tuple[Any, ...], _Pruning] = {}


def _scoped(definition: Any) -> list[dict[str, Any]]:
    """The local context objects of a term definition's scoped context, at any depth of it."""
    found: list[dict[str, Any]] = []
    stack = [definition]
    while stack:
        item = stack.pop()
        if not isinstance(item, dict):
            continue
        for key, value in item.items():
            if key == "@context":
                found.extend(
                    c
                    for c in (value if isinstance(value, list) else [value])
                    if isinstance(c, dict)
                )
            else:
                stack.append(value)
    return found


def _definitions(contexts: list[Any]) -> Iterator[tuple[str, Any]]:
    """Every (term, definition) of these local contexts, those of scoped contexts too."""
    stack = list(contexts)
    while stack:
        context = stack.pop()
        for term, definition in context.items():
            yield term, definition
            stack.extend(_scoped(definition))


def _own_tokens(definition: Any, prunable: set[str], out: set[str]) -> None:
    """What keeping a prunable term's definition needs: its own strings, and those of the
    entries of its scoped contexts that are kept with it (keywords, unprunable terms); each
    prunable term inside is kept only if something names it (it has its own `refs` entry)."""
    if not isinstance(definition, dict):
        _tokens(definition, out)
        return
    for key, value in definition.items():
        _tokens(key, out)
        if key != "@context":
            _tokens(value, out)
            continue
        for context in value if isinstance(value, list) else [value]:
            if not isinstance(context, dict):
                _tokens(context, out)
                continue
            for term, inner in context.items():
                if term in prunable:
                    continue
                _tokens(term, out)
                _tokens(inner, out)  # unprunable or a keyword: kept whole


def _self_contained(definition: Any, defined: dict[str, Any]) -> bool:
    """Whether a term definition means the same in every active context: an IRI, or an object
    of @id, @type and @container only, every string a keyword or an absolute IRI whose scheme
    no context defines as a term (so no prefix, @vocab or other term can change it)."""
    if isinstance(definition, str):
        values: list[Any] = [definition]
    elif isinstance(definition, dict) and definition.keys() <= {"@id", "@type", "@container"}:
        values = []
        for value in definition.values():
            values.extend(value if isinstance(value, list) else [value])
    else:
        return False
    for value in values:
        if not isinstance(value, str):
            return False
        if value.startswith("@"):
            continue
        colon = value.find(":")
        if colon <= 0 or value[:colon] in defined or not _ABSOLUTE_IRI.match(value):
            return False
    return True


def _pruning(contexts: list[Any]) -> _Pruning:
    """Which term definitions of these local contexts may be left out, and what each needs.

    Prunable is a term defined exactly once, at any depth (top level or a scoped context), or
    defined several times alike by a definition that depends on no other (`_self_contained`):
    redefining a protected term is an error only if the definition differs, so leaving out
    copies of one such definition can neither hide nor make one. Any other term defined more
    than once is kept, definition and scoped contexts whole, since leaving one definition out
    (or changing it) could hide or make a protected-term redefinition error. A prunable
    term's scoped contexts are pruned in turn."""
    # Bundled contexts are the objects `_inlined` keeps for good, so their ids are stable; the
    # only others are a document's own lone {"@vocab": IRI}, keyed by that IRI.
    key = tuple(c["@vocab"] if c.keys() == {"@vocab"} else id(c) for c in contexts)
    found = _PRUNINGS.get(key)
    if found is not None:
        return found
    definitions: dict[str, list[Any]] = {}
    for term, definition in _definitions(contexts):
        definitions.setdefault(term, []).append(definition)
    prunable = {
        t
        for t, found_defs in definitions.items()
        if not t.startswith("@")
        and (
            len(found_defs) == 1
            or (
                ":" not in t
                and all(d == found_defs[0] for d in found_defs)
                and _self_contained(found_defs[0], definitions)
            )
        )
    }
    refs: dict[str, set[str]] = {}
    for term, definition in _definitions(contexts):
        if term in prunable:
            _tokens(term, refs.setdefault(term, set()))
            _own_tokens(definition, prunable, refs[term])
    always: set[str] = set()
    for context in contexts:
        for term, definition in context.items():
            if term not in prunable:
                _tokens(term, always)
                _tokens(definition, always)
    top_level = {term for context in contexts for term in context}
    found = _Pruning(
        {t: frozenset(r) for t, r in refs.items()},
        frozenset(always.intersection(refs)),
        {},
        tuple(contexts),
        _processes(contexts),
        frozenset(t for t in prunable if len(definitions[t]) > 1 and t in top_level),
    )
    if len(_PRUNINGS) > 256:
        _PRUNINGS.clear()
    _PRUNINGS[key] = found
    return found


def _processes(contexts: list[Any]) -> bool:
    try:  # the parser is lazy: the error comes while reading its quads
        for _ in pyoxigraph.parse(
            orjson.dumps({"@context": contexts, "@id": "urn:dbp:fastrdf:context-check"}),
            format=pyoxigraph.RdfFormat.JSON_LD,
            base_iri=RELATIVE_BASE,
            lenient=True,
        ):
            pass
    except (SyntaxError, ValueError, TypeError, RecursionError):
        return False
    return True


def _prune_context(
    context: dict[str, Any],
    pruning: _Pruning,
    kept: set[str],
    drop: frozenset[str],
    in_force: bool,
) -> dict:
    """A local context without its prunable terms that are not kept (those kept pruned in
    turn) and without the terms in `drop`; keywords and unprunable terms stay as they are.
    `in_force`: the top-level definitions are in force where this context is read (no
    enclosing scoped context cleared them)."""
    refs = pruning.refs
    return {
        term: _prune_definition(definition, pruning, kept, in_force) if term in refs else definition
        for term, definition in context.items()
        if (term not in refs or term in kept) and term not in drop
    }


def _prune_definition(definition: Any, pruning: _Pruning, kept: set[str], in_force: bool) -> Any:
    if not isinstance(definition, dict) or not _scoped(definition):
        return definition
    out = {}
    for key, value in definition.items():
        if key == "@context":
            # A scoped context: the top-level copies of `redundant` terms are in force in it,
            # unless it (or one around it) clears the active context or a term (null).
            keep_top = in_force and not _resets(value)
            drop = pruning.redundant if keep_top else frozenset()
            if isinstance(value, list):
                value = [
                    _prune_context(c, pruning, kept, drop, keep_top) if isinstance(c, dict) else c
                    for c in value
                ]
            elif isinstance(value, dict):
                value = _prune_context(value, pruning, kept, drop, keep_top)
        out[key] = value
    return out


def _pruned(contexts: list[Any], names: set[str]) -> list[Any] | None:
    """`contexts` without the term definitions nothing in the document can reach.

    pyoxigraph processes the inlined contexts again on every parse; the VC 2.0 context alone
    was ~0.3 ms of the ~0.37 ms parse of a 0.8 KiB credential. A term the document does not
    name (as a key, a string, or the prefix of one), and that no kept definition names, plays
    no part in expanding it, so leaving it out changes nothing (the differential tests hold
    this to pyld). A document naming a left-out term cannot happen: every string it holds
    keeps the term of that name. The same holds inside a kept term's scoped context: pruning
    the VerifiableCredential type-scoped context of VC 2.0 to the terms a small credential
    names took pyoxigraph's parse of the 0.8 KiB credential from ~200 us to ~90 us, and its
    whole verify_credential ~8% (HEAD vs this, batches alternated in one process). pyoxigraph
    validates scoped contexts when it defines their term, so `valid` (made on the whole
    contexts) still sees an error in a left-out definition."""
    pruning = _pruning(contexts)
    if not pruning.valid:
        return None  # the parser refuses these contexts whole: pyld words the refusal
    # the document's keys and strings (`_eligible_values`), and the prefix of each
    needed = names.union([n[: n.find(":")] for n in names if n.find(":") > 0])
    refs = pruning.refs
    # `always` holds only prunable terms: joining it whole to `needed` (a few hundred names
    # from the VC 2.0 context) on every call was most of this function's time
    hits = pruning.always.union(needed.intersection(refs))
    found = pruning.made.get(hits)
    if found is not None:  # documents of one kind name the same terms
        return found
    stack = list(hits)
    kept: set[str] = set()
    while stack:
        term = stack.pop()
        if term in kept:
            continue
        kept.add(term)
        stack.extend(t for t in refs[term] if t in refs and t not in kept)
    found = [_prune_context(c, pruning, kept, frozenset(), True) for c in contexts]
    if len(pruning.made) >= 256:
        pruning.made.clear()
    pruning.made[hits] = found
    return found


def _eligible_values(document: dict[str, Any], names: set[str]) -> bool | None:
    """None if the document is not eligible; else whether it holds an empty array. Puts every
    key and string of the document into `names` (for `_pruned`, in the same walk)."""
    special = _special_terms()
    aliases = _keyword_aliases()
    empty = False
    stack: list[Any] = [v for k, v in document.items() if k != "@context"]
    for key in document:
        if key != "@context" and (key.startswith(("@", "_:")) or key in special):
            return None
        names.add(key)
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
                names.add(key)
                if value.__class__ is str:  # the most common value, judged here (as below)
                    if value == EMPTY_PROBE or (value[:1] == "@" and _KEYWORD_FORM.match(value)):
                        return None
                    names.add(value)
                    continue
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
            names.add(item)
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
    # pyld's _canonicalize_double (JSON-LD 1.1 toRdf: the canonical form of jsonld.js), which is
    # re.sub(r"(\d)0*E\+?(-)?0*(\d)", r"\1E\2\3", ...), in string operations (~5x faster;
    # tests/proofs/test_fastrdf.py compares both)
    mantissa, _, exponent = f"{float(lexical):1.15E}".partition("E")
    mantissa = mantissa.rstrip("0")
    if mantissa.endswith("."):
        mantissa += "0"
    sign = "-" if exponent[0] == "-" else ""
    return f"{mantissa}E{sign}{exponent[1:].lstrip('0') or '0'}"


def _pyld_double_literal(match: re.Match[bytes]) -> bytes:
    lexical = _pyld_double(match.group(1).decode("ascii"))
    return b'"' + lexical.encode("ascii") + b'"^^<' + _XSD_DOUBLE_BYTES + b">"


def parser_input(document: Any) -> tuple[bytes, bool] | None:
    """The JSON-LD text pyoxigraph's parser is given for the document (its contexts inlined and
    pruned) and whether empty-array probes are in it; None: take the pyld path."""
    if not isinstance(document, dict):
        return None
    contexts = _contexts(document)
    names: set[str] = set()
    empty = None if contexts is None else _eligible_values(document, names)
    if empty is None:
        return None
    try:
        if empty:
            document, _ = _probed(document)
        # orjson (~5x json here): an eligible document has no NaN, infinity or integer beyond
        # 2**53, and a lone surrogate makes it raise (TypeError), so it writes the same JSON
        # values json would, only floats possibly in another (equal) form, and every double is
        # rewritten from its value (`_written`).
        pruned = _pruned(contexts, names)
        if pruned is None:
            return None
        return orjson.dumps({**document, "@context": pruned}), empty
    except (SyntaxError, ValueError, TypeError, RecursionError):
        return None


def _written(document: Any, *, exact_literals: bool) -> tuple[bytes, bool] | None:
    """pyoxigraph's N-Quads of the document (lenient: IRIs and language tags not yet checked)
    and whether empty-array probes are in it; None: take the pyld path."""
    given = parser_input(document)
    if given is None:
        return None
    text, empty = given
    try:
        # Lenient: pyoxigraph's strict mode silently leaves out triples with an invalid IRI
        # (pyld keeps them and our N-Quads parse refuses them). Lenient keeps them, and the
        # strict checks of the callers refuse them, so pyld gets to word the refusal.
        parsed = pyoxigraph.parse(
            text, format=pyoxigraph.RdfFormat.JSON_LD, base_iri=RELATIVE_BASE, lenient=True
        )
        written = pyoxigraph.serialize(parsed, format=pyoxigraph.RdfFormat.N_QUADS)
    except (SyntaxError, ValueError, TypeError, RecursionError):
        return None
    if UNDEFINED_TERM_VOCAB.encode() in written or RELATIVE_BASE.encode() in written:
        return None  # an undefined term or a relative IRI: pyld words the refusal
    if exact_literals and _XSD_DOUBLE_BYTES in written:
        written = _DOUBLE_LITERAL.sub(_pyld_double_literal, written)
    return written, empty


def dataset(document: Any, *, exact_literals: bool = True) -> pyoxigraph.Dataset | None:
    """The document's RDF dataset (pyld's dataset), or None: take the pyld path.

    `exact_literals=False` leaves doubles in pyoxigraph's form, for callers that only need to
    know that nothing was dropped."""
    found = _written(document, exact_literals=exact_literals)
    if found is None:
        return None
    written, empty = found
    try:
        result = pyoxigraph.Dataset(pyoxigraph.parse(written, format=pyoxigraph.RdfFormat.N_QUADS))
    except (SyntaxError, ValueError, TypeError, RecursionError):
        return None
    if empty:
        _remove_probes(result)
    return result


# One line of the N-Quads pyoxigraph writes, as the strict N-Quads grammar has it (IRIs without
# the characters IRIREF excludes; labels of blank nodes as pyoxigraph makes them; literals with
# escaped quotes and line breaks). Matching every line makes splitting it into its four terms
# unambiguous; the IRIs and language tags are then checked by pyoxigraph itself (`_valid`).
_IRI_RE = r'<[^\x00-\x20<>"{}|^`\\]*>'
_BLANK_RE = r"_:[A-Za-z0-9_](?:[A-Za-z0-9_.\-]*[A-Za-z0-9_\-])?"
_LITERAL_RE = (
    r'"[^"\\\n\r]*(?:\\.[^"\\\n\r]*)*"(?:\^\^' + _IRI_RE + r"|@[A-Za-z]+(?:-[A-Za-z0-9]+)*)?"
)
_LINE = re.compile(
    rf"^({_IRI_RE}|{_BLANK_RE}) ({_IRI_RE}) ({_IRI_RE}|{_BLANK_RE}|{_LITERAL_RE})"
    rf"(?: ({_IRI_RE}|{_BLANK_RE}))? \.$",
    re.MULTILINE,
)
# IRIs and language tags pyoxigraph's strict parser accepted before (a pure function of the
# text; predicates and types recur in every document). Bounded: cleared when full.
_VALID: set[str] = set()
_VALID_MAX = 65_536
_PROBE_OBJECTS = (f"<{EMPTY_PROBE}>", f'"{EMPTY_PROBE}"')


def _valid(term: str) -> bool:
    """Whether pyoxigraph's strict N-Quads parser takes this IRI (`<...>`) or `@` language
    tag, as the N-Quads round trip of `dataset` checks them."""
    if term in _VALID:
        return True
    try:
        if term[0] == "<":
            pyoxigraph.NamedNode(term[1:-1])
        else:
            pyoxigraph.Literal("", language=term[1:])
    except ValueError:
        return False
    if len(_VALID) >= _VALID_MAX:
        _VALID.clear()
    _VALID.add(term)
    return True


def quads(document: Any) -> list[tuple[str, str, str, str]] | None:
    """The document's RDF dataset (pyld's dataset) as distinct quads of canonical N-Quads terms
    (subject, predicate, object, graph; "" for the default graph), or None: take the pyld path.

    What `dataset` gives, without building a pyoxigraph Dataset from N-Quads and writing it
    out again: for the Catena-X shaped passport that round trip, the quads as Python strings
    and the canonical serialization were ~2.3 ms of ~6.5 ms (proofs.canonical labels the
    blank nodes itself, proofs.rdfc_work)."""
    found = _written(document, exact_literals=True)
    if found is None:
        return None
    written, empty = found
    try:
        text = written.decode("utf-8")
    except UnicodeDecodeError:
        return None
    rows = _LINE.findall(text)
    if len(rows) != text.count("\n"):
        return None  # a line outside the strict grammar: the N-Quads parse would refuse it
    if not rows:
        return []
    subjects, predicates, objects, graphs = zip(*rows, strict=True)
    for term in set(subjects).union(predicates, objects, graphs).difference(_VALID):
        if term[:1] == "<":
            if not _valid(term):
                return None
        elif term[:1] == '"':
            suffix = term.rpartition('"')[2]
            if suffix and not _valid(suffix[2:] if suffix[0] == "^" else suffix):
                return None
    unique = dict.fromkeys(rows)
    if empty:
        return [q for q in unique if not _is_probe(q[2])]
    return list(unique)


def _is_probe(term: str) -> bool:
    # The probe as an IRI, a plain literal, or a literal a datatype or language was put on.
    return term in _PROBE_OBJECTS or term.startswith((f'"{EMPTY_PROBE}"^^', f'"{EMPTY_PROBE}"@'))


def nquads(document: Any) -> str | None:
    """The document's RDF dataset as (non-canonical) N-Quads, or None: take the pyld path."""
    result = dataset(document)
    if result is None:
        return None
    return pyoxigraph.serialize(result, format=pyoxigraph.RdfFormat.N_QUADS).decode("utf-8")
