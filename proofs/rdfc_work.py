"""RDFC-1.0 blank node labelling with a work bound, so poison graphs are refused cheaply.

pyoxigraph canonicalizes fast but has no limit on Hash N-Degree Quads (RDFC-1.0 section 4.8),
the part whose work grows factorially with look-alike blank nodes linked to each other ("poison
graphs", RDFC-1.0 section 8.2 / appendix on dataset poisoning: implementations should limit the
number of recursive calls). This module runs the same labelling algorithm in plain Python over
already-serialized terms and stops as soon as the work goes over the bound, before pyoxigraph
ever sees the dataset. It is written from the specification, with plain hashlib and string
concatenation (no N-Quads parsing, no per-quad object graph), so a dataset within the bound is
checked in time proportional to its quads times the hash-n-degree calls the bound allows.

The bound is the one of rdf-canonize, the reference implementation behind jsonld.js and the
`@digitalbazaar` cryptosuites (RDFC10.js, default `maxWorkFactor` 1): Hash N-Degree Quads may
run at most `n ** maxWorkFactor` times in all, where `n` is the number of blank nodes that share
their first-degree hash with another one. So we refuse exactly what the reference cannot verify
(tests/interop checks both ways). On top of it the total work is capped in proportion to the
dataset's size (see WORK_PER_QUAD), because the call limit does not count permutations (a blank
node related to one labelled node through quads that differ only in their graph makes k! equal
permutations that never recurse) nor the issuer copies. No credential comes near this cap.

The labels computed here are the canonical ones; the W3C rdf-canon test suite checks that
(tests/proofs/test_rdf_canon_suite.py), which is what makes the work count the reference's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator

# A quad as four canonical N-Quads terms: subject, predicate, object, graph ("" for the default
# graph). Blank nodes, and only they, start with "_:" (IRIs start with "<", literals with '"').
Quad = tuple[str, str, str, str]

# The total work allowed, in steps (a quad hashed, a term put on a path, an identifier copied),
# per quad of the dataset, with a floor for small ones (see the module docstring). Measured with
# `_Labeller.spent`: the Catena-X shaped passport (414 quads) spends 167 steps, the W3C suite's
# "evil" poison graphs 630 per quad at work factor 3 (22,680). 1,000,000 steps took ~0.5 s on
# the loaded 2-core machine; the worst shapes we tried (a 100-node clique, two look-alike
# parents of 2,000 children each, both refused) take ~0.2 s.
WORK_PER_QUAD = 400
WORK_FLOOR = 200_000


class WorkExceeded(Exception):
    """Canonicalizing the dataset needs more work than RDFC-1.0 implementations allow."""


def _permutations(items: list[str]) -> Iterator[list[str]]:
    """rdf-canonize's Permuter (Steinhaus-Johnson-Trotter over the sorted list), ported as is.

    The order of permutations decides which ones Hash N-Degree Quads skips early, so it decides
    the work count; and with repeated items (a node related through several quads) this yields
    fewer than k! permutations, as the reference does.
    """
    current = sorted(items)
    left = dict.fromkeys(current, True)
    length = len(current)
    while True:
        yield list(current)
        k: str | None = None
        pos = 0
        for i, element in enumerate(current):
            if (k is None or element > k) and (
                (left[element] and i > 0 and element > current[i - 1])
                or (not left[element] and i < length - 1 and element > current[i + 1])
            ):
                k, pos = element, i
        if k is None:
            return
        swap = pos - 1 if left[k] else pos + 1
        current[pos], current[swap] = current[swap], k
        for element in current:
            if element > k:
                left[element] = not left[element]


class _Issuer:
    __slots__ = ("prefix", "issued")

    def __init__(self, prefix: str, issued: dict[str, str] | None = None) -> None:
        self.prefix = prefix
        self.issued = {} if issued is None else issued

    def issue(self, node: str) -> str:
        label = self.issued.get(node)
        if label is None:
            label = self.issued[node] = f"{self.prefix}{len(self.issued)}"
        return label

    def copy(self) -> _Issuer:
        return _Issuer(self.prefix, dict(self.issued))


class _Labeller:
    def __init__(self, quads: Iterable[Quad], hash_name: str, work_factor: int) -> None:
        self.hash_name = hash_name
        self.work_factor = work_factor
        self.quads_of: dict[str, list[Quad]] = {}
        unique = dict.fromkeys(quads)
        self.quad_count = len(unique)
        quads_of = self.quads_of
        for quad in unique:  # a dataset is a set: duplicates count once
            # each blank node of the quad once (unrolled: this loop is linear in the dataset and
            # ran on every verification of a credential with blank nodes)
            s, _, o, g = quad
            if s[:2] == "_:":
                quads_of.setdefault(s, []).append(quad)
            if o[:2] == "_:" and o != s:
                quads_of.setdefault(o, []).append(quad)
            if g[:2] == "_:" and g != s and g != o:
                quads_of.setdefault(g, []).append(quad)
        self.canonical = _Issuer("c14n")
        self.first_degree: dict[str, str] = {}
        self.calls: dict[str, int] = {}
        self.max_calls = self.calls_left = 0
        # Whether the work count depended on the blank node labels (see `canonical_labels`).
        self.order_dependent = False
        self.budget = self.work_left = max(WORK_FLOOR, WORK_PER_QUAD * self.quad_count)

    def charge(self, steps: int) -> None:
        self.work_left -= steps
        if self.work_left < 0:
            raise WorkExceeded

    @property
    def spent(self) -> int:
        return self.budget - self.work_left

    def digest(self, text: str) -> str:
        if self.hash_name == "sha256":
            return hashlib.sha256(text.encode("utf-8")).hexdigest()
        return hashlib.new(self.hash_name, text.encode("utf-8")).hexdigest()

    def hash_first_degree(self, node: str) -> str:
        """RDFC-1.0 4.6: the node's quads with itself as _:a and other blank nodes as _:z."""
        cached = self.first_degree.get(node)
        if cached is not None:
            return cached
        lines = []
        for s, p, o, g in self.quads_of[node]:
            s = ("_:a" if s == node else "_:z") if s[:2] == "_:" else s
            o = ("_:a" if o == node else "_:z") if o[:2] == "_:" else o
            g = ("_:a" if g == node else "_:z") if g[:2] == "_:" else g
            lines.append(f"{s} {p} {o} {g} .\n" if g else f"{s} {p} {o} .\n")
        lines.sort()
        digest = self.first_degree[node] = self.digest("".join(lines))
        return digest

    def hash_related(self, related: str, quad: Quad, issuer: _Issuer, position: str) -> str:
        """RDFC-1.0 4.7."""
        label = self.canonical.issued.get(related) or issuer.issued.get(related)
        label = self.hash_first_degree(related) if label is None else "_:" + label
        predicate = quad[1] if position != "g" else ""
        return self.digest(f"{position}{predicate}{label}")

    def hash_n_degree(self, node: str, issuer: _Issuer) -> tuple[str, _Issuer]:
        """RDFC-1.0 4.8, counting calls like rdf-canonize does."""
        if self.calls_left <= 0:
            raise WorkExceeded
        self.calls_left -= 1
        self.calls[node] = self.calls.get(node, 0) + 1
        self.charge(len(self.quads_of[node]))

        by_hash: dict[str, list[str]] = {}
        for quad in self.quads_of[node]:
            for term, position in ((quad[0], "s"), (quad[2], "o"), (quad[3], "g")):
                if term[:2] == "_:" and term != node:
                    related_hash = self.hash_related(term, quad, issuer, position)
                    by_hash.setdefault(related_hash, []).append(term)

        data = []
        canonical = self.canonical.issued
        for related_hash in sorted(by_hash):
            data.append(related_hash)
            chosen_path = ""
            chosen_issuer: _Issuer | None = None
            group = by_hash[related_hash]
            if len(group) > 1 and any(node not in canonical for node in group):
                self.order_dependent = True
            for permutation in _permutations(group):
                self.charge(len(permutation) + len(issuer.issued))
                issuer_copy = issuer.copy()
                path = ""
                recursion: list[str] = []
                skip = False
                for related in permutation:
                    label = canonical.get(related)
                    if label is not None:
                        path += "_:" + label
                    else:
                        if related not in issuer_copy.issued:
                            recursion.append(related)
                        path += "_:" + issuer_copy.issue(related)
                    if chosen_path and len(path) >= len(chosen_path) and path > chosen_path:
                        skip = True
                        break
                if skip:
                    continue
                for related in recursion:
                    result_hash, result_issuer = self.hash_n_degree(related, issuer_copy)
                    path += "_:" + issuer_copy.issue(related)
                    path += f"<{result_hash}>"
                    issuer_copy = result_issuer
                    if chosen_path and len(path) >= len(chosen_path) and path > chosen_path:
                        skip = True
                        break
                if skip:
                    continue
                if not chosen_path or path < chosen_path:
                    chosen_path = path
                    chosen_issuer = issuer_copy
            data.append(chosen_path)
            assert chosen_issuer is not None  # at least one permutation always completes
            issuer = chosen_issuer
        return self.digest("".join(data)), issuer

    def label(self) -> dict[str, str]:
        """RDFC-1.0 4.4 steps 3-5: the canonical label of every blank node."""
        by_hash: dict[str, list[str]] = {}
        for node in self.quads_of:
            by_hash.setdefault(self.hash_first_degree(node), []).append(node)
        shared = []
        for digest in sorted(by_hash):
            nodes = by_hash[digest]
            if len(nodes) == 1:
                self.canonical.issue(nodes[0])
            else:
                shared.append(nodes)
        look_alike = sum(len(nodes) for nodes in shared)
        # rdf-canonize's maxDeepIterations
        self.max_calls = self.calls_left = look_alike**self.work_factor
        for nodes in shared:
            paths = []
            for node in nodes:
                if node in self.canonical.issued:
                    continue
                temporary = _Issuer("b")
                temporary.issue(node)
                paths.append(self.hash_n_degree(node, temporary))
            for _, issuer in sorted(paths, key=lambda result: result[0]):
                for existing in issuer.issued:
                    self.canonical.issue(existing)
        return {node: "_:" + label for node, label in self.canonical.issued.items()}


def _run(quads: Iterable[Quad], hash_name: str, work_factor: int) -> _Labeller:
    labeller = _Labeller(quads, hash_name, work_factor)
    try:
        labeller.label()
    except RecursionError:
        # Hash N-Degree Quads recurses along chains of look-alike blank nodes; one deeper than
        # Python's stack is far over any bound (each level is hashed again from every node).
        raise WorkExceeded from None
    return labeller


def canonical_labels(
    quads: Iterable[Quad], *, hash_name: str = "sha256", work_factor: int = 1
) -> dict[str, str]:
    """Canonical RDFC-1.0 labels (`_:c14nN`) of the blank nodes of a dataset.

    Raises WorkExceeded when the dataset needs more Hash N-Degree Quads work than the reference
    implementation allows with `maxWorkFactor` = work_factor (1, its default, is what we use;
    the W3C suite's circles need 2, its "evil" poison graphs 3).
    """
    return _labels(_run(quads, hash_name, work_factor))


def _labels(labeller: _Labeller) -> dict[str, str]:
    return {node: "_:" + label for node, label in labeller.canonical.issued.items()}


def check_work(quads: Iterable[Quad]) -> bool:
    """Raise WorkExceeded if canonicalizing the dataset is over the work bound.

    Returns whether the count depended on the blank node labels of the input: the order of
    permutations follows the labels, and which permutations are cut short follows that order.
    rdf-canonize counts with the labels jsonld.js gives (`_:b0`, `_:b1`, ... in node map order,
    as pyld gives them), so a verdict computed on other labels (pyoxigraph's JSON-LD parser
    makes random ones) is only the reference's when this is False.
    """
    return _run(quads, "sha256", 1).order_dependent


def checked_labels(quads: Iterable[Quad]) -> tuple[dict[str, str], bool]:
    """`check_work` and `canonical_labels` in one run: (canonical labels, order dependent).

    Raises WorkExceeded as `check_work` does. The labels are RDFC-1.0's whatever the input
    labels; only the work verdict may depend on them (see `check_work`)."""
    labeller = _run(quads, "sha256", 1)
    return _labels(labeller), labeller.order_dependent
