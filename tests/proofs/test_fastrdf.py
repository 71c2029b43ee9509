"""Differential tests of the compiled JSON-LD paths (proofs.fastrdf, pyoxigraph; proofs.safemode,
the compiled nothing-dropped walk) against pyld: on
every credential the issuer makes from the examples, the W3C vectors, the Catena-X shaped
passport of the benchmarks, and hypothesis-generated passports, `rdfc` gives the same canonical
form (or the same refusal) with and without it. Where the fast path does not apply it must say
so (None), never answer differently.
"""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyld.jsonld import _canonicalize_double

from bench.reference import catenax_credential, small_credential
from issuer.passports import tier_credential
from proofs import canonical, fastrdf, safemode
from proofs.canonical import rdfc
from proofs.errors import ProofError
from vocab.catalogue import Tier
from vocab.examples import example_names, load_example
from vocab.tiers import split_by_tier

VECTORS = Path(__file__).parent / "vectors"
V2 = "https://www.w3.org/ns/credentials/v2"
EXAMPLES_V2 = "https://www.w3.org/ns/credentials/examples/v2"
ISSUER = "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"


def _both(document: dict) -> tuple[str, str]:
    """(pyld path, default path) results: canonical N-Quads or the refusal's type and text."""

    def run(fast: bool) -> str:
        canonical.clear_memo()
        try:
            return rdfc(copy.deepcopy(document), fast=fast)
        except ProofError as exc:
            return f"{type(exc).__name__}: {exc}"

    return run(False), run(True)


def _tier_credentials() -> dict[str, dict]:
    documents = {}
    for name in example_names():
        passport = load_example(name)
        for tier, subject in split_by_tier(passport).items():
            entry = {
                "id": "https://dpp.example.com/status-lists/revocation-1#7",
                "type": "BitstringStatusListEntry",
                "statusPurpose": "revocation",
                "statusListIndex": "7",
                "statusListCredential": "https://dpp.example.com/status-lists/revocation-1",
            }
            documents[f"{name} {tier.value}"] = tier_credential(
                Tier(tier),
                subject,
                credential_id=f"urn:uuid:{uuid.UUID(int=1)}",
                issuer_did=ISSUER,
                battery_did="did:web:dpp.example.com:batteries:1",
                valid_from="2026-01-01T00:00:00Z",
                status=(entry, {**entry, "statusPurpose": "suspension"}),
            )
    return documents


def _vectors() -> dict[str, dict]:
    documents = {}
    for path in sorted(VECTORS.rglob("*.json")):
        document = json.loads(path.read_text("utf-8"))
        if isinstance(document, dict) and "@context" in document:
            name = str(path.relative_to(VECTORS))
            documents[name] = document
            if "proof" in document:  # what a verifier canonicalizes
                documents[name + " without proof"] = {
                    k: v for k, v in document.items() if k != "proof"
                }
    return documents


DOCUMENTS = {
    **_tier_credentials(),
    **_vectors(),
    "Catena-X shaped passport": catenax_credential(ISSUER, 1),
    "small VC": small_credential(ISSUER, 1),
}


@pytest.mark.parametrize("name", DOCUMENTS)
def test_fast_path_equals_pyld(name):
    slow, fast = _both(DOCUMENTS[name])
    assert fast == slow


def test_the_fast_path_takes_the_documents_we_issue():
    """Not vacuous: every tier credential of every example (some hold an empty array) and the
    Catena-X shaped passport go the compiled way."""
    taken = {n for n, d in DOCUMENTS.items() if fastrdf.dataset(d) is not None}
    assert taken == {n for n, d in DOCUMENTS.items() if fastrdf.quads(d) is not None}
    assert {n for n in DOCUMENTS if n.split()[0] in example_names()} <= taken
    assert "Catena-X shaped passport" in taken
    assert len(taken) >= len(DOCUMENTS) // 2  # signed ones hold `proof` (a @graph container)


@pytest.mark.parametrize("iri", ["http://a.example:port/", "http://a.example/%zz", "urn:x:a>b"])
def test_iris_the_n_quads_grammar_refuses_go_to_pyld(iri):
    """pyoxigraph's lenient JSON-LD parse keeps them; `quads` checks what its strict N-Quads
    parse would (pyld keeps them too, and the refusal is the N-Quads parse's, worded)."""
    document = small_credential(ISSUER, 3)
    document["credentialSubject"]["id"] = iri
    assert fastrdf.quads(document) is None
    slow, fast = _both(document)
    assert fast == slow
    assert fast.startswith("MalformedDocument")


def test_doubles_are_written_as_json_ld_writes_them():
    """pyoxigraph writes the shortest form (8.2E-3), JSON-LD `%1.15E` trimmed."""
    document = small_credential(ISSUER, 2)
    document["credentialSubject"]["resistance"] = 0.0082
    slow, fast = _both(document)
    assert '"8.200000000000001E-3"^^<http://www.w3.org/2001/XMLSchema#double>' in fast
    assert fast == slow


@pytest.mark.parametrize(
    "subject",
    [
        {"id": "did:example:a b"},  # pyoxigraph alone would leave the triple out
        {"id": "subject-1"},  # relative
        {"undefinedHere": 1},  # no @vocab in [V2] alone: undefined
        {"value": {"@value": "8.2E-3", "@type": "http://www.w3.org/2001/XMLSchema#double"}},
        {"@id": "did:example:x"},
        {"big": 2**60},
        {"_:b": 1},
        {"undefinedAndEmpty": []},  # its probe shows the undefined term
        {"undefinedAndNothing": [None, []]},
        {"id": []},  # pyld refuses; the empty-array probe would have become the subject
        {"id": "@ignoreMe"},  # keyword-like: JSON-LD ignores it (toRdf suite e122)
        {"label": fastrdf.EMPTY_PROBE},
        {"label": "\ud800"},  # a lone surrogate (JSON can escape one)
    ],
)
def test_what_the_fast_path_cannot_vouch_for_goes_to_pyld(subject):
    document = {
        "@context": [V2],
        "type": ["VerifiableCredential"],
        "issuer": ISSUER,
        "credentialSubject": subject,
    }
    assert fastrdf.dataset(document) is None
    assert fastrdf.quads(document) is None
    assert safemode.nothing_dropped(document) is None
    slow, fast = _both(document)
    assert fast == slow
    assert _dropped_verdict(document, True) == _dropped_verdict(document, False)


def _dropped_verdict(document: dict, fast: bool) -> str:
    if fast:
        # The compiled walk alone: where it vouches, pyld must keep everything too.
        assert safemode.nothing_dropped(copy.deepcopy(document)) in (True, None)
        if safemode.nothing_dropped(copy.deepcopy(document)):
            assert _dropped_verdict(document, False) == "ok"
    try:
        if fast:
            canonical.check_nothing_dropped(copy.deepcopy(document))
        else:
            canonical.expand_strict(copy.deepcopy(document))
    except ProofError as exc:
        return f"{type(exc).__name__}: {exc}"
    return "ok"


def test_the_compiled_walk_takes_the_documents_we_issue():
    """Not vacuous: the walk vouches for every unsigned tier credential and both benchmark
    shapes, and for none of the refusals."""
    taken = {n for n, d in DOCUMENTS.items() if safemode.nothing_dropped(d)}
    assert {n for n in DOCUMENTS if n.split()[0] in example_names()} <= taken
    assert {"Catena-X shaped passport", "small VC"} <= taken


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["credentialSubject"].update(id="subject-1"),
        lambda d: d.update(credentialStatus={**_ENTRY, "statusListCredential": "list-1"}),
        lambda d: d.update(credentialStatus={**_ENTRY, "id": "#7"}),
        lambda d: d.update(credentialStatus={**_ENTRY, "undefinedInScope": "x"}),
        lambda d: d.update(credentialStatus={**_ENTRY, "type": "Undefined"}),
        lambda d: d.update(type=["VerifiableCredential", "Undefined"]),
        lambda d: d.update(issuer={"id": ISSUER, "undefinedInIssuer": 1}),
        lambda d: d.update(credentialSchema={"id": "schema.json", "type": "JsonSchema"}),
        lambda d: d["credentialSubject"].update(undefinedHere=1),
        lambda d: d["credentialSubject"].update(nested={"@value": 1}),
        lambda d: d["credentialSubject"].update(nested=None),
        lambda d: d["credentialSubject"].update(nested=[]),
        lambda d: d["credentialSubject"].update(nested=[[1]]),
    ],
)
def test_the_compiled_walk_leaves_refusals_to_pyld(change):
    """With [V2] alone (no @vocab), each change makes pyld refuse or is outside the walk."""
    document = {
        "@context": [V2],
        "type": ["VerifiableCredential"],
        "issuer": ISSUER,
        "credentialStatus": dict(_ENTRY),
        "credentialSubject": {"id": "did:example:subject"},
    }
    assert safemode.nothing_dropped(document) is True
    change(document)
    assert safemode.nothing_dropped(document) is None
    assert _dropped_verdict(document, True) == _dropped_verdict(document, False)


_ENTRY = {
    "id": "https://dpp.example.com/status-lists/revocation-1#7",
    "type": "BitstringStatusListEntry",
    "statusPurpose": "revocation",
    "statusListIndex": "7",
    "statusListCredential": "https://dpp.example.com/status-lists/revocation-1",
}


@pytest.mark.parametrize("name", DOCUMENTS)
def test_nothing_dropped_check_equals_expand_strict(name):
    """What vc+jwt and eddsa-jcs-2022 verification asks (verifier.credentials._check_jsonld)."""
    assert _dropped_verdict(DOCUMENTS[name], True) == _dropped_verdict(DOCUMENTS[name], False)


_names = st.sampled_from(["a", "b", "capacity", "kind", "ÄÖÜ", "x1", "label", "n"])
_scalars = st.one_of(
    st.text(max_size=12),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
)
_values = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(_names, children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    subject=st.dictionaries(_names, _values, max_size=6),
    context=st.sampled_from(
        [[V2, EXAMPLES_V2], [V2, {"@vocab": "https://battery.example/vocab#"}], [V2]]
    ),
)
def test_generated_passports(subject, context):
    document = {
        "@context": context,
        "type": ["VerifiableCredential"],
        "issuer": ISSUER,
        "credentialSubject": {"id": "https://id.example/01/09506000134352/21/1", **subject},
    }
    slow, fast = _both(document)
    assert fast == slow
    assert _dropped_verdict(document, True) == _dropped_verdict(document, False)


def test_every_pair_of_bundled_contexts():
    """Protected-term clashes and overrides between bundled contexts: the same verdict."""
    from itertools import permutations

    from vocab.loader import bundled_urls

    differing = []
    for first, second in permutations(sorted(bundled_urls()), 2):
        document = {
            "@context": [first, second],
            "type": ["VerifiableCredential"],
            "issuer": ISSUER,
            "credentialSubject": {"id": "did:example:subject"},
        }
        slow, fast = _both(document)
        if slow != fast:
            differing.append((first, second))
    assert not differing


@settings(max_examples=100, deadline=None)
@given(
    created=st.one_of(
        st.sampled_from(["2026-01-01T00:00:00Z", "2026-12-31T23:59:59.123+01:00", "", "x y"]),
        st.text(max_size=30),
    ),
    context=st.sampled_from([[V2], [V2, EXAMPLES_V2], [V2, {"@vocab": "urn:samm:x#"}]]),
    extra=st.sampled_from([{}, {"challenge": "1970-01-01T00:00:00.000000001Z"}, {"nonce": 1}]),
)
def test_proof_config_templates_equal_rdfc(created, context, extra):
    """canonical.rdfc_varying (a kept template for configs that differ only in `created`)
    gives rdfc's canonical form or refusal, for any value and after any earlier template."""
    config = {
        "@context": context,
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-rdfc-2022",
        "created": created,
        "verificationMethod": f"{ISSUER}#{ISSUER[8:]}",
        "proofPurpose": "assertionMethod",
        **extra,
    }

    def verdict(fn) -> str:
        try:
            return fn(copy.deepcopy(config))
        except ProofError as exc:
            return f"{type(exc).__name__}: {exc}"

    canonical._MEMO.clear()  # the templates stay: a later value reuses an earlier template
    expected = verdict(lambda c: rdfc(c, fast=False))
    assert verdict(lambda c: canonical.rdfc_varying(c, "created")) == expected
    assert verdict(lambda c: canonical.rdfc_varying(c, "created")) == expected


def test_proof_config_templates_are_used(monkeypatch):
    """Not vacuous: a second config that differs only in `created` is not canonicalized."""
    config = {
        "@context": [V2],
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-rdfc-2022",
        "created": "2026-01-01T00:00:00Z",
        "verificationMethod": f"{ISSUER}#{ISSUER[8:]}",
        "proofPurpose": "assertionMethod",
    }
    later = {**config, "created": "2026-06-01T12:00:00Z"}
    canonical.clear_memo()
    expected = rdfc(copy.deepcopy(later), fast=False)
    canonical.clear_memo()
    canonical.rdfc_varying(config, "created")

    def no_rdfc(*args, **kwargs):
        raise AssertionError("the template was not used")

    monkeypatch.setattr(canonical, "rdfc", no_rdfc)
    assert canonical.rdfc_varying(later, "created") == expected


@settings(max_examples=500, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_doubles_are_rewritten_as_pyld_writes_them(value):
    """fastrdf._pyld_double is pyld's regex rewrite in string operations."""
    assert fastrdf._pyld_double(repr(value)) == _canonicalize_double(value)


def test_contexts_are_pruned_to_what_the_document_names():
    """Not vacuous: a small credential inlines a fraction of the VC 2.0 context, and naming a
    term anywhere (here only as a string value) keeps its definition."""
    document = small_credential(ISSUER, 4)
    contexts = fastrdf._contexts(document)
    names: set[str] = set()
    assert fastrdf._eligible_values(document, names) is not None
    pruned = fastrdf._pruned(contexts, names)
    assert len(json.dumps(pruned)) < len(json.dumps(contexts)) / 2
    assert not any("VerifiablePresentation" in c for c in pruned)
    # inside kept terms' scoped contexts too: the credential names no credentialSchema
    assert "credentialSchema" in json.dumps(contexts)
    assert "credentialSchema" not in json.dumps(pruned)
    assert "credentialSubject" in json.dumps(pruned)
    assert fastrdf._pruned(contexts, names | {"VerifiablePresentation"}) != pruned
    document["credentialSubject"]["note"] = "VerifiablePresentation"
    slow, fast = _both(document)
    assert fast == slow


def test_only_terms_defined_alike_and_self_contained_are_pruned_when_defined_twice():
    """A term defined twice can be left out only when every definition is the same and means
    the same everywhere: a protected term redefined differently must stay, so that the parser
    still finds the redefinition error."""
    same = {"@id": "https://example.org/same", "@type": "@id"}
    scoped = {
        "same": dict(same),
        "differs": "https://example.org/b",
        "prefixed": "ex:b",
        "once": "https://example.org/once",
    }
    contexts = [
        {
            "@protected": True,
            "ex": "https://example.org/",
            "same": same,
            "differs": "https://example.org/a",
            "prefixed": "ex:b",
            "Thing": {"@id": "https://example.org/Thing", "@context": scoped},
        }
    ]
    refs = fastrdf._pruning(contexts).refs
    assert {"same", "once", "Thing", "ex"} <= refs.keys()
    assert "differs" not in refs  # two different definitions
    assert "prefixed" not in refs  # means what `ex` means where it is read
    pruned = fastrdf._pruned(contexts, {"Thing"})
    assert pruned is not None
    kept = pruned[0]["Thing"]["@context"]
    assert "same" not in pruned[0] and "same" not in kept and "once" not in kept
    assert kept["differs"] == "https://example.org/b" and pruned[0]["differs"]
    # named, it stays where the top-level copy is, which is in force in the scope as well
    named = fastrdf._pruned(contexts, {"Thing", "same"})
    assert named is not None
    assert named[0]["same"] == same and "same" not in named[0]["Thing"]["@context"]
    # ... but not where a scoped context clears the active context: the copy is needed there
    cleared = [
        {**contexts[0], "Thing": {"@id": "https://example.org/Thing", "@context": [None, scoped]}}
    ]
    named = fastrdf._pruned(cleared, {"Thing", "same"})
    assert named is not None and named[0]["Thing"]["@context"][1]["same"] == same
