"""Merkle trees: sorted pairs, domain separation, promotion of odd nodes, proofs."""

from __future__ import annotations

import hashlib
import os

import pytest

from anchor import merkle


def digests(n: int) -> list[bytes]:
    return [merkle.leaf_hash(str(i).encode()) for i in range(n)]


@pytest.mark.parametrize("n", [*range(1, 34), 100, 257, 1000])
def test_every_proof_verifies_and_nothing_else_does(n):
    leaves = digests(n)
    root, proofs = merkle.proofs(leaves)
    assert root == merkle.root(leaves)
    for i, (leaf, proof) in enumerate(zip(leaves, proofs, strict=True)):
        assert merkle.verify(leaf, proof, root), i
        assert len(proof) <= (n - 1).bit_length()
    outsider = merkle.leaf_hash(b"not in the batch")
    assert not any(merkle.verify(outsider, p, root) for p in proofs)
    if n > 1:
        assert not merkle.verify(leaves[0], proofs[1], root) or leaves[0] == leaves[1]


def test_shapes_by_hand():
    a, b, c = digests(3)
    assert merkle.root([a]) == a  # one leaf: the root is the leaf, the proof is empty
    assert merkle.proofs([a])[1] == [[]]
    ab = hashlib.sha256(b"\x01" + min(a, b) + max(a, b)).digest()
    assert merkle.root([a, b]) == merkle.root([b, a]) == ab  # sorted pairs: order-free parents
    # three leaves: c has no sibling on the first level and is promoted unchanged, not doubled
    assert merkle.root([a, b, c]) == merkle.node_hash(ab, c)
    assert merkle.root([a, b, c]) != merkle.root([a, b, c, c])
    assert merkle.proofs([a, b, c])[1][2] == [ab]


def test_domain_separation():
    a, b, c = digests(3)
    assert merkle.leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    inner = merkle.node_hash(a, b)
    assert inner == hashlib.sha256(b"\x01" + min(a, b) + max(a, b)).digest()
    # the 64 bytes under an inner node, presented as a document, make another leaf: a forger
    # cannot claim the concatenation of two anchored digests was itself anchored
    forged = merkle.leaf_hash(min(a, b) + max(a, b))
    assert forged != inner
    assert not merkle.verify(forged, [c], merkle.root([a, b, c]))


def test_tampered_proofs_fail():
    leaves = digests(20)
    root, proofs = merkle.proofs(leaves)
    proof = list(proofs[7])
    proof[2] = bytes([proof[2][0] ^ 1]) + proof[2][1:]
    assert not merkle.verify(leaves[7], proof, root)
    assert not merkle.verify(leaves[7], proofs[7][:-1], root)
    assert not merkle.verify(leaves[7], [*proofs[7], os.urandom(32)], root)
    assert not merkle.verify(leaves[7], [b"short"], root)


def test_errors_and_hex():
    with pytest.raises(merkle.MerkleError):
        merkle.root([])
    with pytest.raises(merkle.MerkleError):
        merkle.root([b"too short"])
    with pytest.raises(merkle.MerkleError):
        merkle.proof_from_levels(merkle.levels(digests(3)), 3)
    d = os.urandom(32)
    assert merkle.from_hex(merkle.to_hex(d)) == d == merkle.from_hex(d.hex().upper())
    for bad in ("0x12", "zz" * 32, 42):
        with pytest.raises(merkle.MerkleError):
            merkle.from_hex(bad)
