"""The published W3C vc-di-eddsa test vectors, reproduced bit for bit."""

from __future__ import annotations

import pytest
from proofs_testkit import read_vector, vector_loader

from proofs.canonical import jcs, rdfc
from proofs.dataintegrity import create_proof, signing_input, verify_proof
from proofs.keys import Ed25519Key
from proofs.legacy import legacy_signing_input
from proofs.multibase import decode_base58btc

# (folder, file suffix, unsigned input, cryptosuite)
DATA_INTEGRITY = [
    ("eddsa-rdfc-2022", "DataInt", "unsigned.json", "eddsa-rdfc-2022"),
    ("eddsa-rdfc-2022/employ", "DataInt", "employmentAuth.json", "eddsa-rdfc-2022"),
    ("eddsa-jcs-2022", "JCS", "unsigned.json", "eddsa-jcs-2022"),
]


def _canonical(cryptosuite: str, document: dict) -> str:
    if cryptosuite == "eddsa-jcs-2022":
        return jcs(document).decode()
    return rdfc(document, document_loader=vector_loader)


@pytest.mark.parametrize(("folder", "suffix", "unsigned", "cryptosuite"), DATA_INTEGRITY)
def test_intermediate_values(folder, suffix, unsigned, cryptosuite, spec_key):
    document = read_vector(unsigned)
    config = read_vector(f"{folder}/proofConfig{suffix}.json")

    canonical_document = _canonical(cryptosuite, document)
    assert canonical_document == read_vector(f"{folder}/canonDoc{suffix}.txt")
    canonical_config = _canonical(cryptosuite, config)
    assert canonical_config == read_vector(f"{folder}/proofCanon{suffix}.txt")

    inputs = signing_input(
        document, {k: v for k, v in config.items() if k != "@context"},
        document_loader=vector_loader,
    )  # fmt: skip
    assert inputs.canonical_document == canonical_document
    assert inputs.canonical_proof_config == canonical_config
    assert inputs.document_hash.hex() == read_vector(f"{folder}/docHash{suffix}.txt").strip()
    assert inputs.proof_hash.hex() == read_vector(f"{folder}/proofHash{suffix}.txt").strip()
    assert inputs.data.hex() == read_vector(f"{folder}/combinedHash{suffix}.txt").strip()

    signature = spec_key.sign(inputs.data)
    assert signature.hex() == read_vector(f"{folder}/sigHex{suffix}.txt").strip()
    assert "z" + __import__("base58").b58encode(signature).decode() == (
        read_vector(f"{folder}/sigBTC58{suffix}.txt").strip()
    )


@pytest.mark.parametrize(("folder", "suffix", "unsigned", "cryptosuite"), DATA_INTEGRITY)
def test_create_proof_reproduces_signed_document(folder, suffix, unsigned, cryptosuite, spec_key):
    config = read_vector(f"{folder}/proofConfig{suffix}.json")
    signed = create_proof(
        read_vector(unsigned),
        spec_key,
        config["verificationMethod"],
        cryptosuite=cryptosuite,
        created=config["created"],
        document_loader=vector_loader,
    )
    expected = read_vector(f"{folder}/signed{suffix}.json")
    assert signed == expected
    assert signed["proof"]["proofValue"] == read_vector(f"{folder}/sigBTC58{suffix}.txt").strip()


@pytest.mark.parametrize(("folder", "suffix", "unsigned", "cryptosuite"), DATA_INTEGRITY)
def test_signed_vector_verifies(folder, suffix, unsigned, cryptosuite, resolve):
    [result] = verify_proof(
        read_vector(f"{folder}/signed{suffix}.json"), resolve, document_loader=vector_loader
    )
    assert result.cryptosuite == cryptosuite
    assert result.controller == "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"


def test_ed25519_signature_2020_vector(spec_key, resolve):
    folder = "Ed25519Signature2020"
    signed = read_vector(f"{folder}/signedEdSig.json")
    unsecured = {k: v for k, v in signed.items() if k != "proof"}
    assert rdfc(unsecured) == read_vector(f"{folder}/canonDocEdSig.txt")
    config = read_vector(f"{folder}/proofConfigEdSig.json")
    assert rdfc(config) == read_vector(f"{folder}/proofCanonEdSig.txt")
    data = legacy_signing_input(unsecured, signed["proof"])
    assert data.hex() == read_vector(f"{folder}/combinedHashEdSig.txt").strip()
    assert spec_key.sign(data).hex() == read_vector(f"{folder}/sigHexEdSig.txt").strip()
    [result] = verify_proof(signed, resolve)
    assert result.type == "Ed25519Signature2020"


@pytest.mark.parametrize(
    ("name", "count"),
    [
        ("signedProofSet1.json", 1),
        ("signedProofSet2.json", 2),
        ("signedProofChain1.json", 3),
        ("signedProofChain2.json", 4),
    ],
)
def test_proof_set_and_chain_vectors_verify(name, count, resolve):
    results = verify_proof(read_vector(f"proof-set-chain/{name}"), resolve)
    assert len(results) == count


def test_proof_set_vectors_reproduce():
    """Each key of multiKeyPairs.json re-creates its proof of the set and of the chain."""
    pairs = read_vector("proof-set-chain/multiKeyPairs.json")
    keys = {
        pair["publicKeyMultibase"]: Ed25519Key.from_multibase(
            pair["publicKeyMultibase"], pair["privateKeyMultibase"]
        )
        for pair in pairs.values()
    }
    document = read_vector("proof-set-chain/unsigned.json")
    chain2 = read_vector("proof-set-chain/signedProofChain2.json")
    secured = document
    for proof in chain2["proof"]:
        key = keys[proof["verificationMethod"].rsplit("#", 1)[1]]
        secured = create_proof(
            secured,
            key,
            proof["verificationMethod"],
            created=proof["created"],
            proof_id=proof.get("id"),
            previous_proof=proof.get("previousProof"),
        )
    assert secured == chain2


def test_the_ed25519_key_decodes_as_the_spec_says(spec_key):
    pair = read_vector("keyPair.json")
    assert decode_base58btc(pair["publicKeyMultibase"])[:2] == b"\xed\x01"
    assert decode_base58btc(pair["privateKeyMultibase"])[:2] == b"\x80\x26"
    assert spec_key.public_multibase == pair["publicKeyMultibase"]
    assert spec_key.private_multibase == pair["privateKeyMultibase"]
