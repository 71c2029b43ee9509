"""A compiled safe-mode check: does JSON-LD expansion of a document drop nothing?

vc+jwt and eddsa-jcs-2022 sign the JSON itself, so verifying one only needs to know that no
JSON-LD consumer would drop part of it (`canonical.check_nothing_dropped`). Asking pyld (or
pyoxigraph, `proofs.fastrdf`) builds the whole expansion or RDF dataset for a yes/no answer:
~5 ms of an enveloped ~10 KB passport's 5.5 ms verify. This walks the JSON instead, mirroring
pyld's `_expand` step by step (property-scoped contexts, type-scoped contexts and their
reverting), but with every active context processed by pyld itself once and kept, and every
key and IRI expansion done by pyld's `_expand_iri` once per active context and kept. What is
judged is what `canonical.expand_strict` judges: each key and each IRI value must expand to an
absolute IRI that is not one of its two sentinels (undefined term, relative IRI).

It answers True only where it followed pyld exactly; anything else (a keyword key, `@value`,
a container other than @set, @json, @reverse, @vocab-typed values, compact IRIs whose prefix is
a term, null, contexts other than bundled URLs or a lone `@vocab`) is None: ask
the slower paths, which also word the refusal. tests/proofs/test_fastrdf.py holds it to pyld's
verdict on every credential of the tests, the W3C vectors and generated passports.
"""

from __future__ import annotations

import json
import math
import re
import threading
from typing import Any, NamedTuple

from pyld.context_resolver import ContextResolver
from pyld.jsonld import JsonLdError, JsonLdProcessor, _resolved_context_cache

from proofs.fastrdf import RELATIVE_BASE
from vocab.loader import UNDEFINED_TERM_VOCAB, UNDEFINED_TERMS_CONTEXT_URL, bundled_urls
from vocab.loader import document_loader as bundled_loader
from vocab.lru import Lru

# canonical._ABSOLUTE_IRI, the test `_scan` applies to what pyld expanded.
_ABSOLUTE_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*:\S*\Z")
# The options pyld's `expand` would fill in for canonical.expand_strict's call.
_OPTIONS = {
    "documentLoader": bundled_loader,
    "base": RELATIVE_BASE,
    "isFrame": False,
    "keepFreeFloatingNodes": False,
    "processingMode": "json-ld-1.1",
    "contextResolver": ContextResolver(_resolved_context_cache, bundled_loader),
}
# pyld keeps processed contexts in module-level caches that are not thread-safe; every use of
# pyld in `proofs` holds this lock (canonical.expand_strict too).
PYLD_LOCK = threading.RLock()
_LOCK = PYLD_LOCK
_UNKNOWN = object()  # an expansion this module does not vouch for
_isfinite = math.isfinite  # one global lookup in the walk's inner loop
# Per active context, at most this many memoized key / value expansions (keys come from
# documents, so they are bounded; the terms of bundled contexts are a few hundred).
_PER_CONTEXT = 4096


class _Unknown(Exception):
    """The walk left what it mirrors exactly: the slower paths decide."""


class _Term(NamedTuple):
    expanded: Any  # the key's expansion (vocab=True), or _UNKNOWN
    local: Any  # its scoped context, or None
    coercion: Any  # its @type, or None
    container: Any  # its @container, or None
    reverse: bool


class _Context:
    """One pyld active context, with what was derived from it."""

    # Every _Context made, by id() of its pyld dict: reverting a type-scoped context follows
    # pyld's `previousContext` pointer, which must lead back to a context kept here. The
    # registry holds the dicts, so an id here is never reused while it is listed.
    registry: dict[int, _Context] = {}

    def __init__(self, active: dict[str, Any]) -> None:
        self.active = active
        self.keys: dict[str, Any] = {}  # key -> its expansion (vocab=True) or _UNKNOWN
        self.terms: dict[str, _Term] = {}
        self.plans: dict[tuple[str, ...], _Plan] = {}
        self.type_keys: dict[tuple[str, ...], Any] = {}
        self.entries: dict[str | None, _Context] = {}
        self.ids: dict[str, bool] = {}  # @id-position string -> absolute
        self.types: dict[str, bool] = {}  # @type-position string -> absolute
        self.scoped: dict[tuple[str, str], _Context] = {}
        # (property, keys of a node) -> what `_shape` found
        self.shapes: dict[tuple[str | None, tuple[str, ...]], Any] = {}
        # a type-scoped context to revert (pyld's `previousContext`), looked at on every node
        self.reverts = bool(active.get("previousContext"))
        # what `_typed` and `_enter` found, by the node's types / (property, keys, type scope)
        self.typed: dict[Any, _Context] = {}
        self.enters: dict[tuple[Any, ...], _Context] = {}
        _Context.registry[id(active)] = self

    def child(self, kind: str, term: str, local: Any) -> _Context:
        """The context after `term`'s scoped context (kind "property" or "type")."""
        found = self.scoped.get((kind, term))
        if found is None:
            with _LOCK:
                processor = JsonLdProcessor()
                options = _OPTIONS
                if kind == "property":
                    active = processor._process_context(
                        self.active, local, options, propagate=True, override_protected=True
                    )
                else:
                    active = processor._process_context(
                        self.active, local, options, propagate=False
                    )
            found = _Context.registry.get(id(active)) or _Context(active)
            self.scoped[(kind, term)] = found
        return found

    def previous(self) -> _Context:
        previous = self.active.get("previousContext")
        if previous is None:
            return self
        found = _Context.registry.get(id(previous))
        if found is None or found.active is not previous:
            raise _Unknown
        return found

    def value(self, term: str, key: str) -> Any:
        return JsonLdProcessor.get_context_value(self.active, term, key)

    def entered(self, prop: str | None) -> _Context:
        """The context of a node object that is a value of `prop` (its scoped context applied),
        when there is no type-scoped context to revert."""
        found = self.entries.get(prop)
        if found is None:
            local = self.term(prop).local if prop is not None else None
            found = self if local is None else self.child("property", prop, local)  # type: ignore[arg-type]
            _bounded(self.entries)[prop] = found
        return found

    def term(self, key: str) -> _Term:
        """What `_property` needs of a key, looked up once per context."""
        found = self.terms.get(key)
        if found is None:
            mapping = self.active["mappings"].get(key) or {}
            found = _Term(
                self.expand_key(key),
                self.value(key, "@context"),
                self.value(key, "@type"),
                mapping.get("@container"),
                "@reverse" in mapping or bool(mapping.get("reverse")),
            )
            _bounded(self.terms)[key] = found
        return found

    def expand_key(self, key: str) -> Any:
        found = self.keys.get(key)
        if found is None:
            with _LOCK:
                found = JsonLdProcessor()._expand_iri(self.active, key, vocab=True)
            if found not in ("@id", "@type") and not _absolute(found):
                found = _UNKNOWN
            _bounded(self.keys)[key] = found
        return found

    def absolute(self, value: str, *, vocab: bool) -> bool:
        memo = self.types if vocab else self.ids
        found = memo.get(value)
        if found is None:
            with _LOCK:
                iri = JsonLdProcessor()._expand_iri(
                    self.active, value, base=RELATIVE_BASE, vocab=vocab
                )
            found = isinstance(iri, str) and (iri.startswith("_:") or _absolute(iri))
            _bounded(memo)[value] = found
        return found


def _bounded(memo: dict) -> dict:
    if len(memo) >= _PER_CONTEXT:
        memo.clear()
    return memo


def _absolute(iri: Any) -> bool:
    return (
        isinstance(iri, str)
        and _ABSOLUTE_IRI.match(iri) is not None
        and not iri.startswith((UNDEFINED_TERM_VOCAB, RELATIVE_BASE))
    )


# The active context of a document's top-level @context (with the undefined-terms probe first,
# as canonical.expand_strict puts it), keyed by that context's JSON.
_TOP: Lru[_Context] = Lru(64)  # keyed by a tuple of URLs, or the JSON of the entries


def _top_context(context: Any) -> _Context | None:
    entries = context if isinstance(context, list) else [context]
    bundled = bundled_urls()
    for entry in entries:
        if isinstance(entry, str) and entry in bundled:
            continue
        if (
            isinstance(entry, dict)
            and entry.keys() == {"@vocab"}
            and isinstance(entry["@vocab"], str)
            and _absolute(entry["@vocab"])
        ):
            continue
        return None
    # bundled URLs only (the usual case): the tuple is the key, without writing JSON
    key = (
        tuple(entries)
        if all(e.__class__ is str for e in entries)
        else json.dumps(entries, sort_keys=True)
    )
    found = _TOP.get(key)
    if found is None:
        if len(_Context.registry) > 10_000:  # `@vocab` values are the only open-ended part
            _Context.registry.clear()
            _TOP.clear()
        with _LOCK:
            processor = JsonLdProcessor()
            active = processor.process_context(
                processor._get_initial_context(_OPTIONS),
                [UNDEFINED_TERMS_CONTEXT_URL, *entries],
                _OPTIONS,
            )
        found = _Context(active)
        _TOP.put(key, found)
    return found


def nothing_dropped(document: Any) -> bool | None:
    """True if pyld's strict expansion of `document` (canonical.expand_strict) would keep all
    of it; None if this check cannot tell (never False: the slower paths word refusals)."""
    if not isinstance(document, dict) or "@context" not in document:
        return None
    try:
        top = _top_context(document["@context"])
        if top is None:
            return None
        _node(top, None, {k: v for k, v in document.items() if k != "@context"}, None)
    except (_Unknown, JsonLdError, RecursionError, TypeError, ValueError):
        return None
    return True


def _node(ctx: _Context, prop: str | None, element: dict, type_scoped: _Context | None) -> None:
    """pyld `_expand` of a node object `element`, value of `prop` under `ctx`."""
    keys = tuple(element)
    if type_scoped is None and not ctx.reverts:
        # The common case: nothing to revert, so the node's context is the property's, and
        # what follows from the property and the keys alone is looked up once.
        shape = ctx.shapes.get((prop, keys))
        if shape is None:
            shape = _shape(ctx, prop, keys)
        ctx, type_key, plan = shape
        if plan is None:
            ctx = _typed(ctx, element[type_key])
            plan = ctx.plans.get(keys) or _plan(ctx, keys)
    else:
        ctx = _enter(ctx, prop, element, type_scoped)
        type_key = ctx.type_keys.get(keys, _UNKNOWN)
        if type_key is _UNKNOWN:
            type_key = _type_key(ctx, keys)
        if type_key is not None:
            ctx = _typed(ctx, element[type_key])
        plan = ctx.plans.get(keys) or _plan(ctx, keys)
    for key, action, term_ctx, coercion in plan.steps:
        value = element[key]
        if action is _PROPERTY:
            kind = value.__class__
            if kind is str:
                # a literal, the most common value (what `_values` decides, inlined)
                if coercion == "@id" and not term_ctx.absolute(value, vocab=False):
                    raise _Unknown
                continue
            if kind is float:  # next most common (measured values)
                if not _isfinite(value):
                    raise _Unknown
                continue
            if kind is int or kind is bool:
                continue
            if kind is dict:
                _node(term_ctx, key, value, None)
            elif kind is list and coercion is None:
                # `_values` inlined for the common array (a call per item is most of the walk)
                for item in value:
                    kind = item.__class__
                    if kind is dict:
                        _node(term_ctx, key, item, None)
                    elif kind is list:
                        raise _Unknown  # nested arrays, as `_values` refuses them
                    elif not (kind is str or kind is int or kind is bool):
                        _values(term_ctx, key, coercion, item)
            else:
                _values(term_ctx, key, coercion, value)
        elif action is _ID:
            if not isinstance(value, str) or not ctx.absolute(value, vocab=False):
                raise _Unknown
        elif action is _LANGUAGE and isinstance(value, dict):
            _language_map(ctx, value)
        elif action is _LANGUAGE and term_ctx is None:
            raise _Unknown
        else:
            _values(term_ctx, key, coercion, value)


def _shape(
    ctx: _Context, prop: str | None, keys: tuple[str, ...]
) -> tuple[_Context, str | None, _Plan | None]:
    """For a node with these keys, value of `prop` under `ctx` (nothing to revert): its context,
    its @type key, and its plan when it has no @type (else the plan depends on the types)."""
    entered = ctx.entered(prop)
    type_key = entered.type_keys.get(keys, _UNKNOWN)
    if type_key is _UNKNOWN:
        type_key = _type_key(entered, keys)
    plan = None if type_key is not None else entered.plans.get(keys) or _plan(entered, keys)
    shape = (entered, type_key, plan)
    _bounded(ctx.shapes)[(prop, keys)] = shape
    return shape


def _enter(
    ctx: _Context, prop: str | None, element: dict, type_scoped: _Context | None
) -> _Context:
    """pyld `_expand`'s reverting of a type-scoped context, then the property-scoped one.

    What it finds depends on the contexts, the property and the node's keys only: kept per
    context (a node under a type-scoped context took ~3 us here, a few per credential)."""
    memo = (prop, tuple(element), type_scoped)
    found = ctx.enters.get(memo)
    if found is None:
        found = _bounded(ctx.enters)[memo] = _entered(ctx, prop, element, type_scoped)
    return found


def _entered(
    ctx: _Context, prop: str | None, element: dict, type_scoped: _Context | None
) -> _Context:
    property_scoped = ctx.term(prop).local if prop is not None else None
    if type_scoped is None and ctx.active.get("previousContext"):
        type_scoped = ctx
    must_revert = True
    if type_scoped is not None and len(element) <= 2:
        for key in sorted(element):
            expanded = type_scoped.expand_key(key)
            if expanded is _UNKNOWN:
                raise _Unknown  # an @value alias, say
            if expanded == "@id" and len(element) == 1:
                must_revert = False  # a subject reference keeps the type-scoped context
                break
    if must_revert and ctx.active.get("previousContext"):
        ctx = ctx.previous()
    if property_scoped is not None:
        ctx = ctx.child("property", prop, property_scoped)  # type: ignore[arg-type]
    return ctx


def _type_key(ctx: _Context, keys: tuple[str, ...]) -> str | None:
    """The key of a node that expands to @type in the context before type-scoped ones."""
    found = None
    for key in keys:
        if key[:1] == "@":
            raise _Unknown  # keywords (and "@foo" keys) are for pyld to judge
        if ctx.expand_key(key) == "@type":
            if found is not None:
                raise _Unknown  # two aliases of @type: pyld's sorted walk, not followed here
            found = key
    _bounded(ctx.type_keys)[keys] = found
    return found


def _typed(ctx: _Context, value: Any) -> _Context:
    """pyld `_prepare_nested_context`: the type-scoped contexts of the node's types, looked up
    in the context before any of them, in sorted order; the types must expand absolutely.

    Kept per context and types (~3 us each time, for every typed node of every credential)."""
    memo = value if value.__class__ is str else tuple(value) if value.__class__ is list else None
    try:
        found = ctx.typed.get(memo) if memo is not None else None
    except TypeError:  # an unhashable "type" value: not a list of strings
        raise _Unknown from None
    if found is None:
        found = _type_scoped(ctx, value)
        if memo is not None:
            _bounded(ctx.typed)[memo] = found
    return found


def _type_scoped(ctx: _Context, value: Any) -> _Context:
    types = value if isinstance(value, list) else [value]
    if not all(isinstance(t, str) for t in types):
        raise _Unknown
    type_scoped = ctx
    for type_ in sorted(types):
        local = type_scoped.term(type_).local
        if local is not None and local is not False:
            ctx = ctx.child("type", type_, local)
    for type_ in types:
        if not type_scoped.absolute(type_, vocab=True):
            raise _Unknown
    return ctx


class _Plan(NamedTuple):
    steps: tuple[tuple[str, object, Any, Any], ...]  # (key, action, term context, coercion)


_ID, _LANGUAGE, _PROPERTY = object(), object(), object()


def _plan(ctx: _Context, keys: tuple[str, ...]) -> _Plan:
    """What to do with each key of a node with these keys under its final context `ctx` (kept
    per context: it depends on the keys, not their values). @type was handled by `_typed`."""
    steps = []
    for key in keys:
        term = ctx.term(key)
        expanded = term.expanded
        if expanded is _UNKNOWN:
            raise _Unknown
        if expanded == "@type":
            continue
        if expanded == "@id":
            steps.append((key, _ID, None, None))
            continue
        if term.reverse:
            raise _Unknown
        term_ctx = ctx if term.local is None else ctx.child("property", key, term.local)
        coercion = term.coercion if term_ctx is ctx else term_ctx.term(key).coercion
        coercible = coercion in (None, "@id") or _absolute(coercion)
        if term.container == ["@language"]:
            # A language map; a plain value under it is expanded as any other value.
            steps.append((key, _LANGUAGE, term_ctx if coercible else None, coercion))
            continue
        if term.container not in (None, [], ["@set"]) or not coercible:
            raise _Unknown  # other containers; @vocab, @json, @none or relative datatypes
        steps.append((key, _PROPERTY, term_ctx, coercion))
    plan = _Plan(tuple(steps))
    _bounded(ctx.plans)[keys] = plan
    return plan


def _values(term_ctx: _Context, key: str, coercion: Any, value: Any) -> None:
    # An empty array makes no triple, but pyld keeps (and so judges) its key, as here.
    for item in value if isinstance(value, list) else (value,):
        if isinstance(item, dict):
            _node(term_ctx, key, item, None)
        elif isinstance(item, str):
            if coercion == "@id" and not term_ctx.absolute(item, vocab=False):
                raise _Unknown
        elif isinstance(item, int):  # bool is an int too
            continue
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise _Unknown
        else:
            raise _Unknown  # null, nested arrays, not JSON


_LANGUAGE_TAG = re.compile(r"[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*\Z")


def _language_map(ctx: _Context, value: dict) -> None:
    """pyld `_expand_language_map`: keys are language tags, values strings (or arrays of them)."""
    for tag, texts in value.items():
        if not _LANGUAGE_TAG.match(tag) or tag in ctx.active["mappings"]:
            raise _Unknown  # "@none", an alias of it, or a tag pyld would warn about
        for text in texts if isinstance(texts, list) else [texts]:
            if not isinstance(text, str):
                raise _Unknown
