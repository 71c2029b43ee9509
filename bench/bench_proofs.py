"""Benchmarks of `proofs`: each of our operations against the plain library way of doing it.

- eddsa-rdfc-2022 sign / verify: ours (pyld expansion with the undefined-term checks, then
  pyoxigraph RDFC-1.0) against the same proof done with pyld's own URDNA2015 only.
- RDFC-1.0 on a dataset already in N-Quads: pyoxigraph against pyld URDNA2015.
- did:key and proofValue encoding: `base58` plus a fixed multicodec prefix against `multiformats`
  (why proofs/multibase.py does not use multiformats).
- eddsa-jcs-2022 against eddsa-rdfc-2022, and vc+jwt against a bare jwcrypto JWS.
"""

from __future__ import annotations

import hashlib
import json

import base58
from jwcrypto.jwk import JWK
from jwcrypto.jws import JWS
from multiformats import multibase, multicodec
from pyld import jsonld
from pyld.jsonld import URDNA2015, JsonLdProcessor

from bench.harness import Row, compare
from proofs import jose
from proofs.canonical import _canonicalize, _pyld_quads, _rdf_dataset, canonicalize_nquads, rdfc
from proofs.dataintegrity import create_proof, verify_proof
from proofs.didkey import did_key, did_key_verification_method_id, public_key_from_did_key
from proofs.didkey import resolve_did_key_verification_method as resolve
from proofs.keys import Ed25519Key
from proofs.multibase import encode_base58btc
from vocab.loader import document_loader

V2 = "https://www.w3.org/ns/credentials/v2"
EXAMPLES_V2 = "https://www.w3.org/ns/credentials/examples/v2"
CREATED = "2025-01-01T00:00:00Z"


def battery_credential(issuer: str) -> dict:
    """A passport-sized VC 2.0 credential: 69 quads, 21 blank nodes."""
    materials = [
        {
            "name": f"material-{i}",
            "share": {"value": i, "unit": "percent"},
            "origin": {"country": "DE"},
        }
        for i in range(8)
    ]
    return {
        "@context": [V2, EXAMPLES_V2],
        "id": "urn:uuid:6a0f3d4c-1b2e-4f5a-8c9d-0e1f2a3b4c5d",
        "type": ["VerifiableCredential", "BatteryPassportCredential"],
        "issuer": issuer,
        "validFrom": "2025-01-01T00:00:00Z",
        "credentialSubject": {
            "id": "https://id.example/01/09506000134352/21/8812",
            "model": "X1",
            "materials": materials,
            "performance": {
                "capacity": {"value": 75, "unit": "kWh"},
                "power": {"value": 150, "unit": "kW"},
            },
        },
    }


def _pyld_urdna2015(document: dict) -> str:
    return jsonld.normalize(
        document,
        {
            "algorithm": "URDNA2015",
            "format": "application/n-quads",
            "documentLoader": document_loader,
        },
    )


def _pyld_signing_input(document: dict, proof: dict) -> bytes:
    config = {k: v for k, v in proof.items() if k != "proofValue"}
    config["@context"] = document["@context"]
    return (
        hashlib.sha256(_pyld_urdna2015(config).encode()).digest()
        + hashlib.sha256(_pyld_urdna2015(document).encode()).digest()
    )


def _pyld_sign(document: dict, key: Ed25519Key, vm: str) -> dict:
    """eddsa-rdfc-2022 the straightforward way: pyld normalize, no checks for dropped data."""
    proof = {
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-rdfc-2022",
        "created": CREATED,
        "verificationMethod": vm,
        "proofPurpose": "assertionMethod",
    }
    proof["proofValue"] = (
        "z" + base58.b58encode(key.sign(_pyld_signing_input(document, proof))).decode()
    )
    return {**document, "proof": proof}


def _pyld_verify(secured: dict, key: Ed25519Key) -> bool:
    document = {k: v for k, v in secured.items() if k != "proof"}
    proof = secured["proof"]
    signature = base58.b58decode(proof["proofValue"][1:])
    return key.verify(signature, _pyld_signing_input(document, proof))


def run() -> list[Row]:
    key = Ed25519Key.generate()
    did = did_key(key.public)
    vm = did_key_verification_method_id(did)
    document = battery_credential(did)
    ours_signed = create_proof(document, key, vm, created=CREATED)
    pyld_signed = _pyld_sign(document, key, vm)
    assert ours_signed == pyld_signed  # same proof, so the timings compare like with like
    assert verify_proof(ours_signed, resolve) and _pyld_verify(pyld_signed, key)

    dataset = _rdf_dataset(document, document_loader)
    nquads, quads = JsonLdProcessor.to_nquads(dataset), _pyld_quads(dataset)
    assert canonicalize_nquads(nquads) == _pyld_urdna2015(document) == rdfc(document)
    jcs_signed = create_proof(document, key, vm, cryptosuite="eddsa-jcs-2022", created=CREATED)
    token = jose.sign_jwt(document, key, vm)
    jwk = JWK(**key.to_jwk(private=True))
    payload = json.dumps(document).encode()
    signature = key.sign(b"x" * 64)

    def bare_jws() -> str:
        jws = JWS(payload)
        jws.add_signature(jwk, alg="EdDSA", protected=json.dumps({"alg": "EdDSA"}))
        return jws.serialize(compact=True)

    return [
        compare(
            "eddsa-rdfc-2022 sign, battery VC",
            lambda: create_proof(document, key, vm, created=CREATED),
            "pyld URDNA2015 only",
            lambda: _pyld_sign(document, key, vm),
            goal=1.5,
        ),
        compare(
            "eddsa-rdfc-2022 verify, battery VC",
            lambda: verify_proof(ours_signed, resolve),
            "pyld URDNA2015 only",
            lambda: _pyld_verify(pyld_signed, key),
            goal=1.5,
        ),
        compare(
            "rdfc(document) incl. undefined-term checks",
            lambda: rdfc(document),
            "pyld normalize URDNA2015",
            lambda: _pyld_urdna2015(document),
            goal=1.5,
        ),
        compare(
            "RDFC-1.0 step of rdfc (pyoxigraph + work check)",
            lambda: _canonicalize(nquads, quads),
            "pyld URDNA2015 of the same dataset",
            lambda: URDNA2015().main(
                JsonLdProcessor.parse_nquads(nquads), {"format": "application/n-quads"}
            ),
            goal=0.5,
        ),
        compare(
            "did:key encode (base58 + prefix)",
            lambda: did_key(key.public),
            "multiformats",
            lambda: (
                "did:key:"
                + multibase.encode(multicodec.wrap("ed25519-pub", key.public), "base58btc")
            ),
            goal=0.3,
        ),
        compare(
            "did:key decode (base58 + prefix)",
            lambda: public_key_from_did_key(did),
            "multiformats",
            lambda: multicodec.unwrap(multibase.decode(did[len("did:key:") :]))[1],
            goal=0.5,
        ),
        compare(
            "proofValue encode (64 bytes, base58btc)",
            lambda: encode_base58btc(signature),
            "multiformats",
            lambda: multibase.encode(signature, "base58btc"),
            goal=0.5,
        ),
        compare(
            "eddsa-jcs-2022 verify, battery VC",
            lambda: verify_proof(jcs_signed, resolve),
            "eddsa-rdfc-2022 verify",
            lambda: verify_proof(ours_signed, resolve),
        ),
        compare(
            "vc+jwt sign (proofs.jose)",
            lambda: jose.sign_jwt(document, key, vm),
            "bare jwcrypto compact JWS",
            bare_jws,
        ),
        compare(
            "vc+jwt verify incl. kid/issuer checks",
            lambda: jose.verify_jwt(token, resolve),
            "eddsa-rdfc-2022 verify",
            lambda: verify_proof(ours_signed, resolve),
        ),
    ]
