"""Cross-checks with didkit 0.3.3 (SpruceID's Rust `ssi`), the VC 1.1 stack partners use today.

didkit cannot do VC 2.0 or Data Integrity (shared/design/DEPENDENCIES.md), so the Data Integrity
cross-check is test_js_interop.py; here:
- didkit-issued VC 1.1 credentials (Ed25519Signature2020, JsonWebSignature2020 and the default
  Ed25519Signature2018) verify with ours, resolving the did:key issuer with proofs.didkey;
- our legacy proofs verify with didkit;
- JWT: didkit reads only VC 1.1 JWTs (a `vc` claim), not VC-JOSE-COSE payloads (checked below),
  so the JWS layer is cross-checked in both directions with VC 1.1 JWT claims.
"""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

import pytest

from proofs import jose
from proofs.controller import checked_verification_method
from proofs.dataintegrity import verify_proof
from proofs.didkey import resolve_did_key_verification_method as resolve
from proofs.errors import InvalidSignature
from proofs.keys import Ed25519Key
from proofs.legacy import create_legacy_proof
from proofs.multikey import public_key_from_verification_method
from vocab.datetimes import utcnow

didkit = pytest.importorskip("didkit")

V1 = "https://www.w3.org/2018/credentials/v1"
SUITE_CONTEXT = {
    "Ed25519Signature2020": "https://w3id.org/security/suites/ed25519-2020/v1",
    "JsonWebSignature2020": "https://w3id.org/security/suites/jws-2020/v1",
    "Ed25519Signature2018": None,
}


def run(function, *args: str) -> Any:
    """Call one of didkit's async functions: they need a running event loop to be called in."""

    async def call() -> Any:
        return await function(*args)

    return asyncio.run(call())


def vc11(issuer: str) -> dict:
    return {
        "@context": [V1],
        "id": "urn:uuid:5d1f7c9a-8a0b-4f6e-9c3d-2b1a0e9f8d7c",
        "type": ["VerifiableCredential"],
        "issuer": issuer,
        "issuanceDate": "2025-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:battery-42"},
    }


def didkit_issue(credential: dict, signer, options: dict) -> dict:
    jwk = json.dumps(signer.key.to_jwk(private=True))
    opts = {"proofPurpose": "assertionMethod", "verificationMethod": signer.vm, **options}
    out = run(didkit.issue_credential, json.dumps(credential), json.dumps(opts), jwk)
    return json.loads(out) if options.get("proofFormat") != "jwt" else out


def didkit_verify(credential: dict | str, options: dict | None = None) -> dict:
    text = credential if isinstance(credential, str) else json.dumps(credential)
    return json.loads(run(didkit.verify_credential, text, json.dumps(options or {})))


def test_didkit_derives_the_same_did_key(signer):
    assert didkit.key_to_did("key", json.dumps(signer.key.to_jwk(private=True))) == signer.did
    jwk = json.dumps(signer.key.to_jwk())
    assert run(didkit.key_to_verification_method, "key", jwk) == signer.vm


@pytest.mark.parametrize("proof_type", sorted(SUITE_CONTEXT))
def test_didkit_issued_vc11_verifies_here(signer, proof_type):
    options = {} if proof_type == "Ed25519Signature2018" else {"type": proof_type}
    issued = didkit_issue(vc11(signer.did), signer, options)
    assert issued["proof"]["type"] == proof_type
    [result] = verify_proof(issued, resolve)
    assert result.type == proof_type and result.controller == signer.did
    tampered = copy.deepcopy(issued)
    tampered["credentialSubject"]["id"] = "did:example:battery-43"
    with pytest.raises(InvalidSignature):
        verify_proof(tampered, resolve)


@pytest.mark.parametrize("proof_type", sorted(SUITE_CONTEXT))
def test_our_legacy_proofs_verify_in_didkit(signer, proof_type):
    credential = vc11(signer.did)
    if SUITE_CONTEXT[proof_type]:
        credential["@context"].append(SUITE_CONTEXT[proof_type])
    ours = create_legacy_proof(credential, signer.key, signer.vm, proof_type=proof_type)
    assert didkit_verify(ours, {"proofPurpose": "assertionMethod"})["errors"] == []
    tampered = copy.deepcopy(ours)
    tampered["issuanceDate"] = "2025-01-02T00:00:00Z"
    assert didkit_verify(tampered, {"proofPurpose": "assertionMethod"})["errors"]


def test_didkit_cannot_read_vc_jose_cose(signer):
    """A VC-JOSE-COSE payload is the credential itself; didkit looks for a VC 1.1 `vc` claim."""
    credential = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential"],
        "issuer": signer.did,
        "credentialSubject": {"id": "did:example:battery-42"},
    }
    token = jose.sign_jwt(credential, signer.key, signer.vm)
    assert jose.verify_jwt(token, resolve) == credential
    result = didkit_verify(token, {"proofFormat": "jwt"})
    assert any("Missing credential" in e for e in result["errors"]), result


def test_didkit_vc_jwt_verifies_in_our_jws_layer(signer):
    token = didkit_issue(vc11(signer.did), signer, {"proofFormat": "jwt"})
    header, _, _ = jose.parse_compact(token)
    assert header["alg"] == "EdDSA" and header["kid"] == signer.vm
    method = checked_verification_method(resolve, header["kid"], "assertionMethod", utcnow())
    key = Ed25519Key(public_key_from_verification_method(method))
    _, payload = jose.verify_jws(token, key)
    claims = json.loads(payload)
    assert claims["iss"] == signer.did and claims["vc"]["issuer"] == signer.did
    head, body, signature = token.split(".")
    flipped = "A" if signature[3] != "A" else "B"
    with pytest.raises(InvalidSignature):
        jose.verify_jws(f"{head}.{body}.{signature[:3]}{flipped}{signature[4:]}", key)


def test_our_jws_layer_verifies_in_didkit(signer):
    """A VC 1.1 JWT (RFC 7519 claims + `vc`) made with proofs.jose.sign_jws."""
    credential = vc11(signer.did)
    claims = {
        "iss": signer.did,
        "nbf": 1735689600,
        "jti": credential["id"],
        "sub": credential["credentialSubject"]["id"],
        "vc": credential,
    }
    header = {"alg": "EdDSA", "kid": signer.vm}
    token = jose.sign_jws(json.dumps(claims).encode(), signer.key, header)
    assert didkit_verify(token, {"proofFormat": "jwt"})["errors"] == []
    head, body, signature = token.split(".")
    flipped = "A" if signature[3] != "A" else "B"
    forged = f"{head}.{body}.{signature[:3]}{flipped}{signature[4:]}"
    assert didkit_verify(forged, {"proofFormat": "jwt"})["errors"]
