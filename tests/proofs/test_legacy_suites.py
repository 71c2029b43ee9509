"""VC 1.1 proof suites, verified through `verify_proof`: Ed25519Signature2020,
JsonWebSignature2020 and Ed25519Signature2018."""

from __future__ import annotations

import base64
import json

import pytest

from proofs.dataintegrity import verify_proof
from proofs.errors import (
    AlgorithmNotAllowed,
    InvalidSignature,
    MalformedProof,
    ProofPurposeMismatch,
    UndefinedTerm,
)
from proofs.legacy import create_legacy_proof

V1 = "https://www.w3.org/2018/credentials/v1"
SUITE_CONTEXTS = {
    "Ed25519Signature2020": "https://w3id.org/security/suites/ed25519-2020/v1",
    "JsonWebSignature2020": "https://w3id.org/security/suites/jws-2020/v1",
    "Ed25519Signature2018": None,  # defined by the VC 1.1 context itself
}


def vc11(issuer: str, proof_type: str) -> dict:
    context = [V1] + ([SUITE_CONTEXTS[proof_type]] if SUITE_CONTEXTS[proof_type] else [])
    return {
        "@context": context,
        "id": "urn:uuid:2b0e2a30-1d0a-4c55-8d3e-5fb0e4b4f3a1",
        "type": ["VerifiableCredential"],
        "issuer": issuer,
        "issuanceDate": "2024-05-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:battery-123"},
    }


@pytest.fixture(params=sorted(SUITE_CONTEXTS))
def proof_type(request) -> str:
    return request.param


@pytest.fixture
def signed(signer, proof_type):
    return create_legacy_proof(
        vc11(signer.did, proof_type), signer.key, signer.vm, proof_type=proof_type
    )


def test_round_trip(signed, signer, resolve, proof_type):
    [result] = verify_proof(signed, resolve)
    assert result.type == proof_type and result.cryptosuite is None
    assert result.controller == signer.did
    if proof_type == "Ed25519Signature2020":
        assert signed["proof"]["proofValue"].startswith("z")
    else:
        header = signed["proof"]["jws"].split(".")[0]
        decoded = json.loads(base64.urlsafe_b64decode(header + "=="))
        assert decoded == {"alg": "EdDSA", "b64": False, "crit": ["b64"]}
        assert signed["proof"]["jws"].count("..") == 1


def test_changed_subject(signed, resolve):
    signed["credentialSubject"]["id"] = "did:example:battery-999"
    with pytest.raises(InvalidSignature):
        verify_proof(signed, resolve)


def test_changed_issuer(signed, resolve, other_signer):
    signed["issuer"] = other_signer.did
    with pytest.raises(InvalidSignature):
        verify_proof(signed, resolve)


def test_wrong_purpose(signed, resolve):
    with pytest.raises(ProofPurposeMismatch):
        verify_proof(signed, resolve, expected_purpose="authentication")


def test_undefined_term(signed, resolve):
    signed["credentialSubject"]["stateOfHealth"] = 80
    with pytest.raises(UndefinedTerm, match="stateOfHealth"):
        verify_proof(signed, resolve)


def _b64(obj: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize("proof_type", ["JsonWebSignature2020"])
def test_jws_alg_none_and_other_algs_are_refused(signed, resolve):
    signature = signed["proof"]["jws"].split("..")[1]
    for alg in ("none", "ES256", "HS256"):
        header = _b64({"alg": alg, "b64": False, "crit": ["b64"]})
        signed["proof"]["jws"] = f"{header}..{signature}"
        with pytest.raises(AlgorithmNotAllowed, match=alg):
            verify_proof(signed, resolve)


@pytest.mark.parametrize("proof_type", ["JsonWebSignature2020"])
def test_jws_must_be_detached_and_unencoded(signed, resolve):
    header, signature = signed["proof"]["jws"].split("..")
    signed["proof"]["jws"] = f"{header}.e30.{signature}"
    with pytest.raises(MalformedProof, match="detached"):
        verify_proof(signed, resolve)
    signed["proof"]["jws"] = f"{_b64({'alg': 'EdDSA'})}..{signature}"
    with pytest.raises(MalformedProof, match="b64"):
        verify_proof(signed, resolve)


@pytest.mark.parametrize("proof_type", ["JsonWebSignature2020"])
def test_jws_altered_signature(signed, resolve):
    header, signature = signed["proof"]["jws"].split("..")
    flipped = "A" if signature[5] != "A" else "B"
    signed["proof"]["jws"] = f"{header}..{signature[:5]}{flipped}{signature[6:]}"
    with pytest.raises(InvalidSignature):
        verify_proof(signed, resolve)
