"""What the compiled libraries alone cost (issue 15): pyoxigraph's JSON-LD parse of exactly the
text proofs.fastrdf hands it, optionally its RDFC-1.0, and N-Quads writing. bench_proofs times it
under a verify, bench_issuer under four signatures; neither is a verify or an issuance, only a
bound no implementation on these libraries can beat."""

from __future__ import annotations

from typing import Any

import pyoxigraph

from proofs import fastrdf


def parser_texts(documents: list[dict[str, Any]]) -> list[bytes]:
    """The JSON-LD text fastrdf gives pyoxigraph for each document without its proof (made before
    a clock starts)."""
    texts = []
    for document in documents:
        given = fastrdf.parser_input({k: v for k, v in document.items() if k != "proof"})
        assert given is not None, "the fast path declined a benchmark document"
        texts.append(given[0])
    return texts


def nquads(text: bytes, *, canonicalize: bool) -> bytes:
    """pyoxigraph's N-Quads of `text`, after its RDFC-1.0 when `canonicalize`."""
    parsed: Any = pyoxigraph.parse(
        text, format=pyoxigraph.RdfFormat.JSON_LD, base_iri=fastrdf.RELATIVE_BASE, lenient=True
    )
    if canonicalize:
        parsed = pyoxigraph.Dataset(parsed)
        parsed.canonicalize(pyoxigraph.CanonicalizationAlgorithm.RDFC_1_0)
    return pyoxigraph.serialize(parsed, format=pyoxigraph.RdfFormat.N_QUADS)
