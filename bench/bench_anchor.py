"""Benchmarks of `anchor`: what batching costs per credential, and what the verifier's check costs.

- Merkle root and every inclusion proof for a 10,000-leaf batch, against hashing the 10,000
  leaves alone (the least any anchoring scheme has to do).
- The leaf of a signed credential (JCS, RFC 8785, then SHA-256), against RDFC-1.0 of the same
  credential (the alternative serialisation, see anchor/leaves.py).
- Checking one inclusion proof (14 hashes for 10,000 leaves), against hashing one leaf.
- The verifier's full anchor check on the embedded chain (leaf, proof, anchoredAt, receipt,
  block), against the proof part alone: what the chain reads cost.
"""

from __future__ import annotations

import hashlib
import os

from bench.harness import Row, compare

V2 = "https://www.w3.org/ns/credentials/v2"
EXAMPLES_V2 = "https://www.w3.org/ns/credentials/examples/v2"
BATCH = 10_000


def credential(i: int) -> dict:
    issuer = "did:web:example.com:operators:acme"
    return {
        "@context": [V2, EXAMPLES_V2],
        "id": f"urn:uuid:00000000-0000-4000-8000-{i:012d}",
        "type": ["VerifiableCredential", "ExampleBatteryCredential"],
        "issuer": issuer,
        "validFrom": "2025-01-01T00:00:00Z",
        "credentialSubject": {
            "id": f"https://id.example/01/09506000134352/21/{i}",
            "capacity": {"value": 75, "unit": "kWh"},
            "stateOfHealth": 97,
        },
        "proof": {
            "type": "DataIntegrityProof",
            "cryptosuite": "eddsa-rdfc-2022",
            "created": "2025-01-01T00:00:00Z",
            "verificationMethod": issuer + "#key-1",
            "proofPurpose": "assertionMethod",
            "proofValue": "z" + "3" * 86,
        },
    }


def _embedded_receipt(doc: dict):
    """A one-batch anchor on a fresh embedded chain; returns (chain, receipt) for `doc`."""
    from eth_account import Account

    from anchor import leaves, merkle
    from anchor.chain import EmbeddedChain, timestamp_to_datetime
    from vocab.datetimes import format_datetime

    account = Account.create()
    chain = EmbeddedChain([account.address], 1_700_000_000)
    tx = chain.deploy_transaction(nonce=0, fees=chain.fees())
    signed = account.sign_transaction(tx)
    deploy_hash = "0x" + bytes(signed.hash).hex()
    chain.broadcast(bytes(signed.raw_transaction), deploy_hash)
    contract = chain.wait_for_receipt(deploy_hash).contract_address
    others = [merkle.leaf_hash(os.urandom(32)) for _ in range(BATCH - 1)]
    leaf = leaves.leaf_of(doc)
    root, proofs = merkle.proofs([leaf, *others])
    tx = chain.anchor_transaction(
        contract, root, BATCH, bytes(32), nonce=1, fees=chain.fees(), gas=100_000
    )
    signed = account.sign_transaction(tx)
    tx_hash = "0x" + bytes(signed.hash).hex()
    chain.broadcast(bytes(signed.raw_transaction), tx_hash)
    rc = chain.wait_for_receipt(tx_hash)
    receipt = {
        "status": "confirmed",
        "leaf": merkle.to_hex(leaf),
        "proof": [merkle.to_hex(p) for p in proofs[0]],
        "root": merkle.to_hex(root),
        "chainId": chain.chain_id,
        "contract": contract,
        "transaction": tx_hash,
        "block": rc.block_number,
        "time": format_datetime(timestamp_to_datetime(chain.block(rc.block_number)[1])),
    }
    return chain, receipt


def run() -> list[Row]:
    from anchor import leaves, merkle
    from anchor.verify import ANCHORED, check_receipt
    from proofs.canonical import rdfc

    docs = [credential(i) for i in range(BATCH)]
    canonical = [leaves.canonical_bytes(d)[1] for d in docs]
    digests = [merkle.leaf_hash(c) for c in canonical]
    root, proofs = merkle.proofs(digests)
    assert all(merkle.verify(d, p, root) for d, p in zip(digests, proofs, strict=True))
    deepest = max(proofs, key=len)
    doc = docs[0]
    chain, receipt = _embedded_receipt(doc)
    assert check_receipt(doc, receipt, chain).status == ANCHORED

    def proof_part_only() -> bool:
        leaf = leaves.leaf_of(doc)
        return merkle.verify(
            leaf, [merkle.from_hex(p) for p in receipt["proof"]], merkle.from_hex(receipt["root"])
        )

    return [
        compare(
            "Merkle root + 10k inclusion proofs",
            lambda: merkle.proofs(digests),
            "SHA-256 of the 10k leaves alone",
            lambda: [hashlib.sha256(b"\x00" + c).digest() for c in canonical],
            goal=8.0,
        ),
        compare(
            "leaf of a signed VC (JCS + SHA-256)",
            lambda: leaves.leaf_of(doc),
            "RDFC-1.0 of the same VC",
            lambda: rdfc({k: v for k, v in doc.items() if k != "proof"}),
            goal=0.2,
        ),
        compare(
            f"verify one inclusion proof ({len(deepest)} steps)",
            lambda: merkle.verify(digests[0], proofs[0], root),
            "one SHA-256 leaf hash",
            lambda: merkle.leaf_hash(canonical[0]),
        ),
        compare(
            "anchor check incl. embedded chain reads",
            lambda: check_receipt(doc, receipt, chain),
            "leaf + proof part only",
            proof_part_only,
        ),
    ]
