"""Issue 14 item 3: a P-256 did:key (`zDn…`) resolves and ES256 VC-JOSE credentials verify;
enveloped presentations verify as `data:application/vp+jwt` and, in the VC-JWT form the VC 2.0
suite sends, as `data:application/jwt` with `vc` / `vp` claims. dbp still signs Ed25519 only."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from proofs_testkit import V2, credential

from proofs import jose
from proofs.didkey import did_key_document, resolve_did_key_verification_method
from proofs.errors import AlgorithmNotAllowed, InvalidSignature, MalformedJws
from proofs.multibase import encode_base58btc
from proofs.p256 import P256_PUB_PREFIX
from verifier.credentials import verify_credential, verify_presentation


def _b64(data: dict | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class P256Signer:
    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        point = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
        )
        self.did = "did:key:" + encode_base58btc(P256_PUB_PREFIX + point)
        self.vm = f"{self.did}#{self.did.removeprefix('did:key:')}"

    def sign(self, header: dict, payload: dict) -> str:
        signing_input = f"{_b64(header)}.{_b64(payload)}"
        r, s = decode_dss_signature(
            self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        )
        return f"{signing_input}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def test_p256_did_key_resolves_to_a_multikey():
    signer = P256Signer()
    assert signer.did.startswith("did:key:zDn")
    document = did_key_document(signer.did)
    assert document["verificationMethod"][0]["publicKeyMultibase"].startswith("zDn")
    method = resolve_did_key_verification_method(signer.vm, "assertionMethod")
    assert method["id"] == signer.vm and method["controller"] == signer.did


def test_es256_vc_jwt_verifies_and_a_changed_token_does_not():
    signer = P256Signer()
    vc = credential(signer.did)
    token = signer.sign({"alg": "ES256", "typ": "vc+jwt", "kid": signer.vm}, vc)
    assert jose.verify_jwt(token, resolve_did_key_verification_method) == vc
    result = verify_credential(jose.envelope(token), resolve_did_key_verification_method)
    assert result.verified, result.failed_names()
    header, payload, signature = token.split(".")
    other = _b64({**vc, "credentialSubject": {"id": "did:example:mallory"}})
    with pytest.raises(InvalidSignature):
        jose.verify_jwt(f"{header}.{other}.{signature}", resolve_did_key_verification_method)


def test_es256_header_on_an_ed25519_key_and_eddsa_on_a_p256_key_are_refused(signer):
    p256 = P256Signer()
    # an Ed25519 did:key named with alg ES256
    token = jose.sign_jwt(credential(signer.did), signer.key, signer.vm)
    _, payload, signature = token.split(".")
    forged = _b64({"alg": "ES256", "typ": "vc+jwt", "kid": signer.vm}) + f".{payload}.{signature}"
    with pytest.raises(AlgorithmNotAllowed):
        jose.verify_jwt(forged, resolve_did_key_verification_method)
    # a P-256 key named with alg EdDSA
    token = p256.sign({"alg": "ES256", "typ": "vc+jwt", "kid": p256.vm}, credential(p256.did))
    _, payload, signature = token.split(".")
    forged = _b64({"alg": "EdDSA", "typ": "vc+jwt", "kid": p256.vm}) + f".{payload}.{signature}"
    with pytest.raises(Exception, match="Ed25519|P-256"):
        jose.verify_jwt(forged, resolve_did_key_verification_method)


def test_dbp_never_signs_es256(signer):
    with pytest.raises(AlgorithmNotAllowed):
        jose.sign_jws(b"{}", signer.key, {"alg": "ES256"})


def _legacy_vp(holder, issuer: P256Signer, **claims) -> dict:
    inner_vc = {
        "@context": [V2],
        "type": ["VerifiableCredential"],
        "credentialSubject": {"id": "did:example:alice"},
    }
    vc_token = issuer.sign(
        {"alg": "ES256", "typ": "JWT", "kid": issuer.vm},
        {"iss": issuer.did, "sub": "did:example:alice", "vc": {**inner_vc, "issuer": issuer.did}},
    )
    vp = {
        "@context": [V2],
        "type": ["VerifiablePresentation"],
        "holder": holder.did,
        "verifiableCredential": [
            {
                "@context": V2,
                "type": "EnvelopedVerifiableCredential",
                "id": f"data:application/jwt,{vc_token}",
            }
        ],
    }
    header = {"typ": "JWT", "alg": "EdDSA", "kid": holder.vm}
    body = json.dumps({"iss": holder.did, "vp": vp, **claims}).encode()
    token = jose.sign_jws(body, holder.key, header)
    return {
        "@context": V2,
        "type": "EnvelopedVerifiablePresentation",
        "id": f"data:application/jwt,{token}",
    }


def test_vc_jwt_presentation_in_a_data_application_jwt_envelope_verifies(signer):
    issuer = P256Signer()
    enveloped = _legacy_vp(signer, issuer, aud="example.com", nonce="123456789")
    result = verify_presentation(enveloped, resolve_did_key_verification_method)
    assert result.verified, result.failed_names()
    assert result.signers == [signer.did]
    assert result.embedded[0].signers == [issuer.did]
    bound = verify_presentation(
        enveloped, resolve_did_key_verification_method, challenge="123456789", domain="example.com"
    )
    assert bound.verified, bound.failed_names()
    wrong = verify_presentation(enveloped, resolve_did_key_verification_method, challenge="another")
    assert "challenge" in wrong.failed_names()


def test_vc_jwt_claims_must_agree_with_the_document(signer):
    # iss names the holder; a vp claim naming another holder is refused
    issuer = P256Signer()
    enveloped = _legacy_vp(signer, issuer)
    token = enveloped["id"].partition(",")[2]
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    with pytest.raises(MalformedJws):
        jose.document_of(
            {**claims, "jti": "urn:a", "vp": {**claims["vp"], "id": "urn:b"}}, "vp+jwt"
        )
    with pytest.raises(MalformedJws, match="vp claim"):
        jose.document_of({"iss": signer.did}, "vp+jwt")


def test_vc_and_vp_claims_stay_forbidden_in_vc_jose_envelopes(signer):
    body = json.dumps({"iss": signer.did, "vc": credential(signer.did)}).encode()
    token = jose.sign_jws(body, signer.key, {"alg": "EdDSA", "typ": "vc+jwt", "kid": signer.vm})
    result = verify_credential(jose.envelope(token), resolve_did_key_verification_method)
    assert result.failed_names() == ["proof"]
