"""Canonical forms that proofs are computed over: RDFC-1.0 N-Quads and JCS (RFC 8785).

RDFC-1.0 is done in two steps: JSON-LD to RDF, then canonicalization. Where `proofs.fastrdf`
shows pyoxigraph's JSON-LD parser gives pyld's dataset (plain documents over bundled contexts),
it hands over the quads as pyoxigraph writes them (canonical N-Quads terms: unlike pyld it
writes control characters in literals the way RDFC-1.0 requires, `\\b`, `\\u0000`, …, which is
what the reference JS implementation hashes), and `proofs.rdfc_work`, which runs RDFC-1.0's
labelling within the reference implementation's work bound anyway, labels the blank nodes; the
lines are relabelled and sorted here. Otherwise pyld, the reference, makes the dataset, and
pyoxigraph canonicalizes it (30-50x faster than pyld's URDNA2015) after the same work check.
Either way datasets over the reference's work limit (poison graphs) are refused.

pyld has no "safe mode": a term no context defines, a property mapped to null and a relative IRI
are dropped without a word (pyld 3.3 even resolves relative IRIs against `http://example.org/base/`
where jsonld.js drops them). Data that is dropped is not signed, so an attacker could add it to a
signed credential; we refuse such documents instead, as jsonld.js does with `safe: true`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import sys
from collections.abc import Callable
from typing import Any

import orjson
import pyoxigraph
import rfc8785
from pyld.identifier_issuer import IdentifierIssuer
from pyld.jsonld import JsonLdError, JsonLdProcessor

from proofs import fastrdf, rdfc_work, safemode
from proofs.errors import ContextNotAllowed, MalformedDocument, ProofError, UndefinedTerm
from vocab.errors import ContextNotBundled
from vocab.loader import UNDEFINED_TERM_VOCAB, UNDEFINED_TERMS_CONTEXT_URL, document_loader
from vocab.loader import document_loader as bundled_loader
from vocab.lru import Lru

DocumentLoader = Callable[[str, dict[str, Any] | None], dict[str, Any]]

# pyld keeps processed contexts in module-level cachetools LRU caches, which are not thread-safe;
# the service canonicalizes from worker threads. Expansion holds the GIL throughout anyway, so
# serializing it costs no parallelism.
_PYLD_LOCK = safemode.PYLD_LOCK  # shared: the compiled safe-mode walk uses pyld's caches too
# Base IRI used only so that relative IRIs become recognisable: `.invalid` can never be a real
# host (RFC 2606), so an expanded IRI under it can only have come from a relative reference.
_RELATIVE_BASE = fastrdf.RELATIVE_BASE
# The same value the JS cryptosuites pass to jsonld.toRDF, so `@direction` is signed alike.
_RDF_DIRECTION = "i18n-datatype"
_JSONLD_KEYWORDS = frozenset(
    {
        "@base", "@container", "@context", "@default", "@direction", "@embed", "@explicit",
        "@first", "@graph", "@id", "@import", "@included", "@index", "@json", "@language",
        "@list", "@nest", "@none", "@omitDefault", "@prefix", "@preserve", "@propagate",
        "@protected", "@requireAll", "@reverse", "@set", "@type", "@value", "@version",
        "@vocab", "@null",
    }
)  # fmt: skip
_ABSOLUTE_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*:\S*\Z")
_ERROR_DETAIL_KEYS = ("term", "property", "keyword", "iri", "url", "value", "context", "language")


def rdfc(
    document: dict[str, Any],
    *,
    document_loader: DocumentLoader = document_loader,
    fast: bool = True,
) -> str:
    """RDFC-1.0 canonical N-Quads of a JSON-LD document.

    Raises UndefinedTerm, ContextNotAllowed or MalformedDocument instead of dropping data.
    With the bundled loader the result is memoized (see `_MEMO`), and documents the compiled
    path handles (`proofs.fastrdf`) skip pyld; `fast=False` forces pyld (differential tests).
    """
    key = _memo_key(document) if document_loader is bundled_loader else None
    if key is not None:
        hit = _MEMO.get(key)
        if hit is not None:
            return hit
    compiled = fastrdf.quads(document) if fast and document_loader is bundled_loader else None
    canonical = None
    if compiled is not None:
        # Else the pyld path below decides, with jsonld.js's blank node labels.
        with contextlib.suppress(_NeedReferenceLabels):
            canonical = _canonicalize_quads(compiled)
    if canonical is None:
        dataset = _rdf_dataset(document, document_loader)
        canonical = _canonicalize(JsonLdProcessor.to_nquads(dataset), _pyld_quads(dataset))
    if key is not None:
        _MEMO.put(key, canonical)
    return canonical


# The same documents are canonicalized again and again: the consumer page verifies a battery's
# public credential and the two status lists it points to on every scan, and every verification
# of a proof set or of a proof config over the same contexts repeats work. With the bundled
# (static) contexts, RDFC-1.0 of a JSON value is a pure function of that value, so the result is
# kept, keyed by the value written with sorted keys (`_sorted_json`). That text keeps 1, 1.0 and
# true apart (JCS would not: 1 and 1.0 are different RDF literals) and is refused for
# NaN/Infinity, so two values share a key only if pyld sees the same input; only successes are
# kept. Measured (bench/bench_proofs.py, "verify again"): a repeated eddsa-rdfc-2022 verify of the
# public passport credential goes from ~17 ms to ~0.6 ms; the consumer page's verification of one
# battery (credential and its two status lists, PostgreSQL) from ~55 ms to ~25 ms.
_MEMO: Lru[str] = Lru(1024)


def _memo_key(document: Any) -> bytes | None:
    text = _sorted_json(document)
    if text is None:
        return None  # not plain JSON: canonicalize it without the memo
    return hashlib.sha256(text).digest()


_SORTED_STRICT = (
    orjson.OPT_SORT_KEYS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def _sorted_json(value: Any) -> bytes | None:
    """`value` as JSON text with sorted keys, the same text only for the same JSON value; None
    if it is not plain JSON (NaN, infinities, not JSON at all).

    orjson first: json.dumps took ~250 us of the ~10 KiB Catena-X shaped credential's verify
    (memo key), orjson ~19 us (12 vs 0.9 us for the small credential). orjson writes NaN and
    infinities as null, so text holding `null` anywhere, and anything orjson refuses (integers
    beyond 64 bits, lone surrogates, and with the passthrough options the datetimes, dataclasses
    and str/int/dict/list subclasses it would otherwise write its own way), is written by json
    instead, which refuses NaN. Either text parses back to the value it was written from (json
    with sorted keys round-trips, orjson's floats are shortest round-trip), so equal texts, of
    either writer, mean equal values. (orjson alone also writes uuid.UUID and plain Enum
    members, as their strings, where json refuses them; a document parsed from JSON text holds
    neither.)"""
    try:
        text = orjson.dumps(value, option=_SORTED_STRICT)
    except (TypeError, orjson.JSONEncodeError, RecursionError):
        text = None
    if text is not None and b"null" not in text:
        return text
    try:
        written = json.dumps(value, sort_keys=True, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError):
        return None
    return written.encode("utf-8", "surrogatepass")


def clear_memo() -> None:
    """Forget memoized canonical forms and templates (benchmarks measure the uncached path)."""
    _MEMO.clear()
    _TEMPLATES.clear()


# The proof configurations an issuer's proofs are checked over differ only in `created` (the
# type, cryptosuite, verification method, purpose and the document's @context are the same),
# and with the bundled contexts most of their RDFC-1.0 time is pyoxigraph processing the inlined
# contexts again. So the canonical form is kept as a template, made with a placeholder for that
# one value and keyed by everything else, and the value is put in its place. This holds where
# the value can only have become one literal of the lexical form it has (a placeholder of the
# same characters shows up exactly once, quoted) and no blank node label can depend on it (at
# most one blank node, so `_:c14n0`); else `rdfc` does the whole work. Measured on the Catena-X
# shaped passport's config (`bench/reference.py`): 1.3 ms -> ~0.05 ms per verify.
_TEMPLATES: Lru[str] = Lru(256)
_PLACEHOLDER = "1970-01-01T00:00:00.000000001Z"
_PLAIN_LEXICAL = re.compile(r"[0-9A-Za-z:.+\-]*\Z")  # nothing canonical N-Quads escapes


def rdfc_varying(
    document: dict[str, Any], key: str, *, document_loader: DocumentLoader = document_loader
) -> str:
    """`rdfc(document)`, for documents that recur with only the string at top-level `key`
    changed (a proof configuration's `created`)."""
    value = document.get(key) if isinstance(document, dict) else None
    if (
        document_loader is not bundled_loader
        or not isinstance(value, str)
        or not _PLAIN_LEXICAL.match(value)
    ):
        return rdfc(document, document_loader=document_loader)
    probe = {**document, key: _PLACEHOLDER}
    text = _sorted_json(probe) or b""
    if text.count(_PLACEHOLDER.encode()) != 1:  # not JSON, or the placeholder is used elsewhere
        return rdfc(document, document_loader=document_loader)
    template_key = hashlib.sha256(text).digest()
    needle = f'"{_PLACEHOLDER}"'
    template = _TEMPLATES.get(template_key)
    if template is None:
        try:
            template = rdfc(probe)
        except ProofError:
            template = ""  # `rdfc(document)` refuses it as it should
        if template.count(needle) != 1 or "_:c14n1" in template:
            template = ""
        _TEMPLATES.put(template_key, template)
    if not template:
        return rdfc(document, document_loader=document_loader)
    lines = template.replace(needle, f'"{value}"').split("\n")
    return "".join(f"{line}\n" for line in sorted(lines) if line)


def to_nquads(
    document: dict[str, Any], *, document_loader: DocumentLoader = document_loader
) -> str:
    """The RDF dataset of a JSON-LD document as (non-canonical) N-Quads, after the strict checks."""
    return JsonLdProcessor.to_nquads(_rdf_dataset(document, document_loader))


def canonicalize_nquads(nquads: str) -> str:
    """RDFC-1.0 canonical N-Quads of an N-Quads dataset (pyoxigraph).

    Refuses (MalformedDocument) datasets whose blank nodes are so alike that canonicalizing them
    takes exponential time; see `proofs.rdfc_work`.
    """
    return _canonicalize(nquads, None)


def _rdf_dataset(document: dict[str, Any], document_loader: DocumentLoader) -> dict[str, Any]:
    processor = JsonLdProcessor()
    expanded = expand_strict(document, document_loader=document_loader, processor=processor)
    options = {
        "produceGeneralizedRdf": False,
        "rdfDirection": _RDF_DIRECTION,
        "processingMode": "json-ld-1.1",
    }
    # This is the tail of pyld's `to_rdf`, run on the expansion we already checked: calling the
    # public `to_rdf` would expand the document a second time. pyld is pinned to 3.3.x.
    issuer = IdentifierIssuer("_:b")
    node_map: dict[str, Any] = {"@default": {}}
    try:
        processor._create_node_map(expanded, node_map, "@default", issuer)
        return {
            name: processor._graph_to_rdf(graph, issuer, options)
            for name, graph in sorted(node_map.items())
        }
    except (JsonLdError, RecursionError) as exc:
        raise _jsonld_failure(exc) from None
    except TypeError as exc:
        # pyld 3.3 expands a keyword-like "@id" value ("@ignoreMe", which JSON-LD ignores) to
        # None and then fails sorting node ids (toRdf suite e122): a refusal, not a crash.
        raise MalformedDocument(f"the document is not valid JSON-LD: {exc}") from None


# A quad for the work check: subject, predicate, object, graph as strings in which blank nodes,
# and only they, start with "_:" (other terms are written injectively, in any form).
_Quad = tuple[str, str, str, str]


def _canonicalize(nquads: str, quads: list[_Quad] | None) -> str:
    try:
        data = nquads.encode("utf-8")
    except UnicodeEncodeError:
        # JSON's "\ud800" escape decodes to a lone surrogate, which no RDF literal can hold
        # (pyoxigraph would fail on it with an unrelated error).
        raise MalformedDocument(
            "the document contains text that is not valid Unicode (a lone UTF-16 surrogate)"
        ) from None
    try:
        dataset = pyoxigraph.Dataset(pyoxigraph.parse(data, format=pyoxigraph.RdfFormat.N_QUADS))
    except SyntaxError as exc:
        raise MalformedDocument(f"the document does not map to valid RDF: {exc}") from None
    return _canonicalize_dataset(dataset, quads, reference_labels=True)


class _NeedReferenceLabels(Exception):
    """The work check's verdict depended on blank node labels the reference does not use."""


def _canonicalize_dataset(
    dataset: pyoxigraph.Dataset, quads: list[_Quad] | None, *, reference_labels: bool
) -> str:
    # The pre-filter works on any injective writing of terms (pyld's, when we have it); the
    # work check hashes, so it needs canonical N-Quads terms, which pyoxigraph writes.
    written = _oxigraph_quads(dataset) if quads is None else None
    if _may_need_deep_hashing(quads if quads is not None else written):
        _check_work(written if written is not None else _oxigraph_quads(dataset), reference_labels)
    dataset.canonicalize(pyoxigraph.CanonicalizationAlgorithm.RDFC_1_0)
    # pyoxigraph writes canonical N-Quads terms but in no particular order; RDFC-1.0 sorts lines.
    # Split on "\n" only: str.splitlines would also break at U+2028 and U+0085 inside literals.
    text = pyoxigraph.serialize(dataset, format=pyoxigraph.RdfFormat.N_QUADS).decode("utf-8")
    return "".join(f"{line}\n" for line in sorted(text.split("\n")) if line)


def _canonicalize_quads(quads: list[_Quad]) -> str:
    """RDFC-1.0 of distinct quads of canonical N-Quads terms (proofs.fastrdf), labelled by the
    work check itself (proofs.rdfc_work runs RDFC-1.0's labelling within the reference's bound),
    so neither a look-alike pre-filter nor a pyoxigraph Dataset (built, canonicalized, written
    out: ~1.4 ms of the Catena-X shaped passport) is needed. The W3C rdf-canon suite holds the
    labels to the specification (tests/proofs/test_rdf_canon_suite.py)."""
    try:
        labels, order_dependent = rdfc_work.checked_labels(quads)
    except rdfc_work.WorkExceeded:
        raise _NeedReferenceLabels from None
    if order_dependent:
        raise _NeedReferenceLabels
    lines = []
    for s, p, o, g in quads:
        if s[:2] == "_:":
            s = labels[s]
        if o[:2] == "_:":
            o = labels[o]
        if not g:
            lines.append(f"{s} {p} {o} .\n")
            continue
        if g[:2] == "_:":
            g = labels[g]
        lines.append(f"{s} {p} {o} {g} .\n")
    lines.sort()
    return "".join(lines)


def _pyld_quads(dataset: dict[str, Any]) -> list[_Quad]:
    def term(t: dict[str, str]) -> str:
        if t["type"] == "literal":
            return "L" + repr((t["value"], t.get("datatype"), t.get("language")))
        return t["value"] if t["type"] == "blank node" else "<" + t["value"]

    return [
        (term(q["subject"]), q["predicate"]["value"], term(q["object"]), name)
        for name, triples in dataset.items()
        for q in triples
    ]


def _oxigraph_quads(dataset: pyoxigraph.Dataset) -> list[_Quad]:
    default = pyoxigraph.DefaultGraph
    return [
        (
            str(q.subject),
            str(q.predicate),
            str(q.object),
            "" if isinstance(q.graph_name, default) else str(q.graph_name),
        )
        for q in dataset
    ]


def _may_need_deep_hashing(quads: list[_Quad]) -> bool:
    """Whether RDFC-1.0 could recurse in Hash N-Degree Quads, its exponential-time part.

    Blank nodes with their own first-degree hash are labelled in step 4 and never reach it. A
    blank node that shares its hash reaches it once, and recursion only starts from a related
    blank node that also shares one (a related node already labelled contributes its label). So
    only look-alike blank nodes linked to each other need the work check. First-degree hashes are
    compared by their input (each node's quads with itself as `_:a`, others as `_:z`), unhashed.
    """
    quads_of: dict[str, list[_Quad]] = {}
    related: dict[str, set[str]] = {}
    for quad in quads:
        nodes = {t for t in (quad[0], quad[2], quad[3]) if t.startswith("_:")}
        for node in nodes:
            quads_of.setdefault(node, []).append(
                tuple(("_:a" if t == node else "_:z") if t.startswith("_:") else t for t in quad)
            )
            related.setdefault(node, set()).update(nodes - {node})
    by_signature: dict[tuple[_Quad, ...], list[str]] = {}
    for node, node_quads in quads_of.items():
        by_signature.setdefault(tuple(sorted(node_quads)), []).append(node)
    look_alike = {n for nodes in by_signature.values() if len(nodes) > 1 for n in nodes}
    return any(related[node] & look_alike for node in look_alike)


def _check_work(quads: list[_Quad], reference_labels: bool = True) -> None:
    try:
        order_dependent = rdfc_work.check_work(quads)
    except rdfc_work.WorkExceeded:
        if not reference_labels:
            raise _NeedReferenceLabels from None
        raise MalformedDocument(
            "the document has too many indistinguishable blank nodes to canonicalize within the "
            "work limit of RDFC-1.0 implementations (repeated nested objects without an id or "
            "any distinguishing property); give them ids or distinguishing properties"
        ) from None
    if order_dependent and not reference_labels:
        raise _NeedReferenceLabels


def check_nothing_dropped(
    document: dict[str, Any], *, document_loader: DocumentLoader = document_loader
) -> None:
    """Raise as `expand_strict` does when JSON-LD processing would drop data from the document.

    For formats that sign the JSON itself (eddsa-jcs-2022, vc+jwt). First the compiled
    safe-mode walk (`proofs.safemode`, pyld's expansion steps over kept active contexts, ~20x
    faster than building the dataset), then the compiled RDF path (`proofs.fastrdf`): when
    either vouches for the document, nothing was dropped (each only answers where it provably
    follows pyld; the differential tests hold them to pyld's verdict); otherwise pyld decides
    and words the refusal.
    """
    if document_loader is bundled_loader and (
        safemode.nothing_dropped(document)
        or fastrdf.dataset(document, exact_literals=False) is not None
    ):
        return
    expand_strict(document, document_loader=document_loader)


def expand_strict(
    document: dict[str, Any],
    *,
    document_loader: DocumentLoader = document_loader,
    processor: JsonLdProcessor | None = None,
) -> list[Any]:
    """JSON-LD expansion that raises UndefinedTerm where pyld would silently drop data.

    The bundled undefined-terms context (a lone `@vocab`) is put *before* the document's own
    contexts, so any later `@vocab` of the document still wins, and a term nobody defines
    expands under UNDEFINED_TERM_VOCAB instead of vanishing. Relative IRIs are resolved against a
    sentinel base. When neither sentinel shows up in the result, neither influenced it, so the
    expansion is exactly the document's own and can be signed as is.
    """
    if not isinstance(document, dict):
        raise MalformedDocument("a JSON-LD document to sign or verify must be a JSON object")
    _check_keyword_like_keys(document)
    context = document.get("@context")
    own = [] if context is None else context if isinstance(context, list) else [context]
    probe = dict(document)
    probe["@context"] = [UNDEFINED_TERMS_CONTEXT_URL, *own]

    dropped: list[str] = []

    def on_dropped(expanded_property: str | None) -> None:
        # pyld passes only the expanded IRI (None for a term mapped to null); the compact key is
        # a local of the calling frame and is what a person needs to see.
        key = sys._getframe(1).f_locals.get("key")
        dropped.append(key if isinstance(key, str) else str(expanded_property))

    def loader(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
        # The probe context comes from the bundle whatever loader the caller hands in.
        if url == UNDEFINED_TERMS_CONTEXT_URL:
            return bundled_loader(url, options)
        return document_loader(url, options)

    processor = processor or JsonLdProcessor()
    processor.on_property_dropped = on_dropped
    try:
        with _PYLD_LOCK:
            expanded = processor.expand(probe, {"documentLoader": loader, "base": _RELATIVE_BASE})
    except ContextNotBundled as exc:
        raise ContextNotAllowed(exc.url) from None
    except (JsonLdError, RecursionError, TypeError, ValueError) as exc:
        raise _jsonld_failure(exc) from None

    undefined: list[str] = []
    relative: list[str] = []
    _scan(expanded, undefined, relative)
    problems = [*dict.fromkeys(dropped), *dict.fromkeys(undefined)]
    if problems or relative:
        raise UndefinedTerm([*problems, *dict.fromkeys(relative)], _undefined_message(
            list(dict.fromkeys(dropped)), list(dict.fromkeys(undefined)),
            list(dict.fromkeys(relative)),
        ))  # fmt: skip
    return expanded


def jcs(document: Any) -> bytes:
    """RFC 8785 JSON Canonicalization Scheme bytes of a JSON value."""
    try:
        return rfc8785.dumps(document)
    except rfc8785.CanonicalizationError as exc:
        raise MalformedDocument(f"the document cannot be canonicalized with JCS: {exc}") from None
    except RecursionError:
        raise MalformedDocument("the document nests too deeply to canonicalize") from None


def _check_keyword_like_keys(node: Any) -> None:
    # "@foo" keys are reserved for future keywords and ignored by every JSON-LD processor.
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key.startswith("@") and key not in _JSONLD_KEYWORDS and key[1:].isalpha():
                    raise UndefinedTerm(
                        [key], f"the document uses {key!r}, which is not a JSON-LD keyword; "
                        "JSON-LD processors ignore it, so it would not be signed"
                    )  # fmt: skip
                if key != "@context":
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)


def _scan(element: Any, undefined: list[str], relative: list[str]) -> None:
    """Collect IRIs of the expanded document that came from an undefined term or relative IRI."""

    def iri(value: Any) -> None:
        if not isinstance(value, str) or value.startswith("@"):  # "@json" is a datatype keyword
            return
        if value.startswith(UNDEFINED_TERM_VOCAB):
            undefined.append(value[len(UNDEFINED_TERM_VOCAB) :])
        elif value.startswith(_RELATIVE_BASE):
            relative.append(value[len(_RELATIVE_BASE) :])
        elif not value.startswith("_:") and not _ABSOLUTE_IRI.match(value):
            # pyld's own test: what fails it is left out of the RDF without a word.
            relative.append(value)

    stack = [element]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
            continue
        if not isinstance(item, dict):
            continue
        if "@value" in item:
            iri(item.get("@type"))
            continue
        for key, value in item.items():
            if key == "@id":
                if value is None:
                    # pyld's expansion of an IRI of keyword form ("@ignoreMe"): JSON-LD ignores
                    # it, so the node's identifier would vanish without a word.
                    relative.append("an identifier of keyword form (JSON-LD ignores it)")
                iri(value)
            elif key == "@type":
                for t in value if isinstance(value, list) else [value]:
                    iri(t)
            elif key == "@reverse" and isinstance(value, dict):
                for prop, values in value.items():
                    iri(prop)
                    stack.append(values)
            else:
                if not key.startswith("@"):
                    iri(key)
                stack.append(value)


def _undefined_message(dropped: list[str], undefined: list[str], relative: list[str]) -> str:
    parts = []
    if undefined:
        parts.append("terms that no @context defines: " + ", ".join(repr(t) for t in undefined))
    if dropped:
        parts.append(
            "properties that do not expand to an absolute IRI (undefined, mapped to null or "
            "malformed): " + ", ".join(repr(t) for t in dropped)
        )
    if relative:
        parts.append(
            "relative or malformed IRIs (no base IRI applies to a credential): "
            + ", ".join(repr(t) for t in relative)
        )
    return (
        "the document uses "
        + "; ".join(parts)
        + ". A JSON-LD processor drops such data, so it would not be covered by the signature"
    )


def _jsonld_failure(exc: BaseException) -> ProofError:
    """Turn a (nested) pyld error into one precise ProofError.

    pyld wraps errors in layers ("could not expand input" around "loading remote context failed"
    around the loader's own exception); a person needs the most specific coded layer and its root.
    """
    chain: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and len(chain) < 20:
        if isinstance(cause, ContextNotBundled):
            return ContextNotAllowed(cause.url)
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    if isinstance(exc, RecursionError):
        return MalformedDocument("the document nests too deeply to process as JSON-LD")
    coded = [e for e in chain if isinstance(e, JsonLdError) and e.code]
    if not coded:
        return MalformedDocument(f"the document is not valid JSON-LD: {chain[-1]}")
    # The innermost coded error is the most specific one pyld raised.
    primary = coded[-1]
    text = f"the document is not valid JSON-LD: {primary.code}: {_first_arg(primary)}"
    details = primary.details if isinstance(primary.details, dict) else {}
    shown = []
    for key in _ERROR_DETAIL_KEYS:
        if key in details:
            value = repr(details[key])
            shown.append(f"{key}={value if len(value) <= 160 else value[:157] + '...'}")
    urls = [e.details["url"] for e in coded if isinstance(e.details, dict) and "url" in e.details]
    if urls and "url" not in details:
        shown.append(f"url={urls[0]!r}")
    if shown:
        text += f" ({', '.join(shown)})"
    root = chain[-1]
    if root is not primary and not isinstance(root, JsonLdError):
        text += f"; cause: {type(root).__name__}: {_first_arg(root)}"
    return MalformedDocument(text)


def _first_arg(exc: BaseException) -> str:
    return str(exc.args[0]) if exc.args else type(exc).__name__
