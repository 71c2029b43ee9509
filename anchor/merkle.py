"""Merkle trees over credential digests: leaf hashing, sorted-pair trees, inclusion proofs.

Pure functions over bytes; nothing here knows about credentials, databases or chains.

Hash: SHA-256 throughout (the same function that hashes the leaves, so a verifier needs only one).

Domain separation (as in RFC 6962 / Certificate Transparency): a leaf is `SHA-256(0x00 || data)`
and an inner node is `SHA-256(0x01 || a || b)`. A leaf digest therefore can never be presented as
an inner node or the other way round, so nobody can "prove" a 64-byte concatenation of two child
hashes as if it were an anchored document (the second-preimage attack on naive Merkle trees).

Sorted pairs: an inner node hashes its two children in ascending byte order, `a <= b`. A proof is
then just the list of sibling hashes from the leaf up; it carries no left/right flags and the
position of a leaf in its batch does not matter to verification.

Odd levels: the last node of a level without a sibling is promoted to the next level unchanged
(it is not paired with itself, which would let two different leaf lists share a root, the
Bitcoin CVE-2012-2459 shape). A proof simply has no entry for a level where its node was promoted.
A batch of one leaf has that leaf's digest as its root and an empty proof.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from anchor.errors import AnchorError

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
HASH_BYTES = 32


class MerkleError(AnchorError, ValueError):
    code = "merkle-error"
    status = 400


def leaf_hash(data: bytes) -> bytes:
    """The leaf digest of a document's canonical bytes."""
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(a: bytes, b: bytes) -> bytes:
    """The parent of two nodes, independent of their order."""
    if b < a:
        a, b = b, a
    return hashlib.sha256(NODE_PREFIX + a + b).digest()


def _check_leaves(leaves: Sequence[bytes]) -> None:
    if not leaves:
        raise MerkleError("a Merkle tree needs at least one leaf")
    for leaf in leaves:
        if len(leaf) != HASH_BYTES:
            raise MerkleError(f"a leaf digest is {HASH_BYTES} bytes, got {len(leaf)}")


def levels(leaves: Sequence[bytes]) -> list[list[bytes]]:
    """Every level of the tree, leaves first and the root (a single node) last."""
    _check_leaves(leaves)
    tree = [list(leaves)]
    sha256 = hashlib.sha256
    while len(tree[-1]) > 1:
        level = tree[-1]
        parents = []
        for i in range(0, len(level) - 1, 2):
            a, b = level[i], level[i + 1]
            parents.append(
                sha256(NODE_PREFIX + a + b).digest()
                if a <= b
                else sha256(NODE_PREFIX + b + a).digest()
            )
        if len(level) % 2:
            parents.append(level[-1])  # promoted, not paired with itself
        tree.append(parents)
    return tree


def root(leaves: Sequence[bytes]) -> bytes:
    return levels(leaves)[-1][0]


def proof_from_levels(tree: list[list[bytes]], index: int) -> list[bytes]:
    """The sibling hashes from leaf `index` up to (not including) the root."""
    if not 0 <= index < len(tree[0]):
        raise MerkleError(f"leaf index {index} is outside a tree of {len(tree[0])} leaves")
    path = []
    for level in tree[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            path.append(level[sibling])
        index //= 2
    return path


def proofs(leaves: Sequence[bytes]) -> tuple[bytes, list[list[bytes]]]:
    """The root and the inclusion proof of every leaf, in the leaves' order."""
    tree = levels(leaves)
    return tree[-1][0], [proof_from_levels(tree, i) for i in range(len(leaves))]


def root_from_proof(leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """Fold a proof onto a leaf digest; equals the root when the leaf is in the tree."""
    if len(leaf) != HASH_BYTES or any(len(p) != HASH_BYTES for p in proof):
        raise MerkleError(f"leaf and proof entries are {HASH_BYTES}-byte digests")
    node = leaf
    for sibling in proof:
        node = node_hash(node, sibling)
    return node


def verify(leaf: bytes, proof: Sequence[bytes], expected_root: bytes) -> bool:
    try:
        return root_from_proof(leaf, proof) == expected_root
    except MerkleError:
        return False


def to_hex(digest: bytes) -> str:
    """`0x`-prefixed lowercase hex, the way Ethereum tools write a bytes32."""
    return "0x" + digest.hex()


def from_hex(text: str) -> bytes:
    """A `0x`-prefixed (or bare) 64-digit hex string as a 32-byte digest."""
    if not isinstance(text, str):
        raise MerkleError("a digest is a hex string")
    body = text[2:] if text[:2] in ("0x", "0X") else text
    if len(body) != 2 * HASH_BYTES:
        raise MerkleError(f"a digest is {2 * HASH_BYTES} hex digits, got {len(body)}")
    try:
        return bytes.fromhex(body)
    except ValueError:
        raise MerkleError(f"{text!r} is not hexadecimal") from None
