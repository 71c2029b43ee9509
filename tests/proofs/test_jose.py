"""VC-JOSE-COSE: vc+jwt / vp+jwt compact JWS, envelopes, and the refusals."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from proofs_testkit import V2, credential

from proofs import jose
from proofs.errors import (
    AlgorithmNotAllowed,
    InvalidSignature,
    KeyIdMismatch,
    MalformedJws,
    ProofExpired,
    VerificationMethodError,
)


def _b64(data: dict | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _parts(token: str) -> tuple[dict, dict, str]:
    header, payload, signature = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return (
        json.loads(base64.urlsafe_b64decode(pad(header))),
        json.loads(base64.urlsafe_b64decode(pad(payload))),
        signature,
    )


def raises_exactly(cls, fn, *args, **kwargs):
    with pytest.raises(cls) as excinfo:
        fn(*args, **kwargs)
    assert excinfo.type is cls, f"{excinfo.type.__name__} raised, {cls.__name__} expected"
    return excinfo.value


def presentation(holder: str) -> dict:
    return {"@context": [V2], "type": ["VerifiablePresentation"], "holder": holder}


def test_vc_jwt_round_trip(signer, resolve):
    vc = credential(signer.did)
    token = jose.sign_jwt(vc, signer.key, signer.vm)
    header, payload, _ = _parts(token)
    assert header == {"alg": "EdDSA", "typ": "vc+jwt", "cty": "vc", "kid": signer.vm}
    assert payload == vc  # the payload *is* the credential
    assert jose.verify_jwt(token, resolve, expected_typ="vc+jwt") == vc


def test_vp_jwt_round_trip_with_claims(signer, resolve):
    vp = presentation(signer.did)
    token = jose.sign_jwt(
        vp, signer.key, signer.vm, typ="vp+jwt", claims={"nonce": "n-1", "aud": "dbp.example"}
    )
    header, payload, _ = _parts(token)
    assert header["typ"] == "vp+jwt" and header["cty"] == "vp"
    assert jose.verify_jwt(token, resolve, expected_typ="vp+jwt") == {
        **vp,
        "nonce": "n-1",
        "aud": "dbp.example",
    }


def test_claims_cannot_replace_properties(signer):
    with pytest.raises(MalformedJws, match="issuer"):
        jose.sign_jwt(credential(signer.did), signer.key, signer.vm, claims={"issuer": "x"})


def test_envelopes(signer):
    token = jose.sign_jwt(credential(signer.did), signer.key, signer.vm)
    enveloped = jose.envelope(token, "vc+jwt")
    assert enveloped == {
        "@context": V2,
        "id": f"data:application/vc+jwt,{token}",
        "type": "EnvelopedVerifiableCredential",
    }
    assert jose.unwrap_envelope(enveloped) == token
    assert jose.envelope_typ(enveloped) == "vc+jwt"
    vp = jose.envelope(token, "vp+jwt")
    assert vp["type"] == "EnvelopedVerifiablePresentation"
    assert vp["id"].startswith("data:application/vp+jwt,")
    with pytest.raises(MalformedJws):
        jose.unwrap_envelope({**enveloped, "type": "EnvelopedVerifiablePresentation"})
    with pytest.raises(MalformedJws):
        jose.unwrap_envelope({**enveloped, "id": "data:application/json,{}"})
    with pytest.raises(MalformedJws):
        jose.unwrap_envelope({**enveloped, "@context": "https://example.com/other"})


def test_alg_none(signer, resolve):
    token = _b64({"alg": "none", "typ": "vc+jwt", "kid": signer.vm}) + "."
    token += _b64(credential(signer.did)) + "."
    error = raises_exactly(AlgorithmNotAllowed, jose.verify_jwt, token, resolve)
    assert "'none'" in str(error)


@pytest.mark.parametrize("alg", ["HS256", "ES256", "RS256", "NONE"])
def test_other_algs(signer, resolve, alg):
    token = jose.sign_jwt(credential(signer.did), signer.key, signer.vm)
    _, payload, signature = token.split(".")
    forged = _b64({"alg": alg, "typ": "vc+jwt", "kid": signer.vm}) + f".{payload}.{signature}"
    raises_exactly(AlgorithmNotAllowed, jose.verify_jwt, forged, resolve)


def test_fully_specified_ed25519_alg_is_accepted(signer, resolve):
    header = {"alg": "Ed25519", "typ": "vc+jwt", "kid": signer.vm}
    vc = credential(signer.did)
    token = jose.sign_jws(json.dumps(vc).encode(), signer.key, header)
    assert jose.verify_jwt(token, resolve) == vc


def test_kid_of_another_did(signer, other_signer, resolve):
    """Signed by another DID's key, claiming the credential's issuer."""
    token = jose.sign_jwt(credential(signer.did), other_signer.key, other_signer.vm)
    error = raises_exactly(KeyIdMismatch, jose.verify_jwt, token, resolve)
    assert other_signer.did in str(error) and signer.did in str(error)


def test_kid_of_issuer_but_signed_by_another_key(signer, other_signer, resolve):
    token = jose.sign_jwt(credential(signer.did), other_signer.key, signer.vm)
    raises_exactly(InvalidSignature, jose.verify_jwt, token, resolve)


def test_relative_kid_is_the_issuers(signer, resolve):
    fragment = "#" + signer.vm.split("#")[1]
    token = jose.sign_jwt(credential(signer.did), signer.key, fragment)
    assert jose.verify_jwt(token, resolve)["issuer"] == signer.did


def test_altered_signature(signer, resolve):
    token = jose.sign_jwt(credential(signer.did), signer.key, signer.vm)
    head, payload, signature = token.split(".")
    flipped = "A" if signature[10] != "A" else "B"
    forged = f"{head}.{payload}.{signature[:10]}{flipped}{signature[11:]}"
    raises_exactly(InvalidSignature, jose.verify_jwt, forged, resolve)


def test_altered_payload(signer, resolve):
    token = jose.sign_jwt(credential(signer.did), signer.key, signer.vm)
    head, _, signature = token.split(".")
    changed = credential(signer.did)
    changed["credentialSubject"]["stateOfHealth"] = 5
    raises_exactly(
        InvalidSignature, jose.verify_jwt, f"{head}.{_b64(changed)}.{signature}", resolve
    )


def test_typ_must_match(signer, resolve):
    token = jose.sign_jwt(presentation(signer.did), signer.key, signer.vm, typ="vp+jwt")
    with pytest.raises(MalformedJws, match="vc\\+jwt"):
        jose.verify_jwt(token, resolve, expected_typ="vc+jwt")


def test_vp_key_must_be_an_authentication_key(signer, resolve):
    def assertion_only(vm_id, purpose):
        if purpose != "assertionMethod":
            raise VerificationMethodError(f"{vm_id} is not listed under {purpose!r}")
        return resolve(vm_id, purpose)

    vc_token = jose.sign_jwt(credential(signer.did), signer.key, signer.vm)
    assert jose.verify_jwt(vc_token, assertion_only)
    vp_token = jose.sign_jwt(presentation(signer.did), signer.key, signer.vm, typ="vp+jwt")
    with pytest.raises(VerificationMethodError, match="authentication"):
        jose.verify_jwt(vp_token, assertion_only, expected_typ="vp+jwt")


def test_holder_binding(signer, other_signer, resolve):
    token = jose.sign_jwt(presentation(signer.did), other_signer.key, other_signer.vm, typ="vp+jwt")
    raises_exactly(KeyIdMismatch, jose.verify_jwt, token, resolve, expected_typ="vp+jwt")


def test_expired_token(signer, resolve):
    token = jose.sign_jwt(
        credential(signer.did), signer.key, signer.vm, claims={"exp": 1_700_000_000}
    )
    raises_exactly(ProofExpired, jose.verify_jwt, token, resolve)
    assert jose.verify_jwt(token, resolve, now=datetime(2023, 1, 1, tzinfo=UTC))


def test_a_revoked_key_verifies_only_tokens_issued_before_its_revocation(signer, resolve):
    def resolver(vm_id, purpose):
        return {**resolve(vm_id, purpose), "revoked": "2026-06-01T00:00:00Z"}

    revoked = int(datetime(2026, 6, 1, tzinfo=UTC).timestamp())
    later = datetime(2026, 9, 1, tzinfo=UTC)

    def token(claims):
        return jose.sign_jwt(credential(signer.did), signer.key, signer.vm, claims=claims)

    assert jose.verify_jwt(token({"iat": revoked - 1}), resolver, now=later)
    for claims in ({"iat": revoked}, {"iat": revoked + 60}, {}):
        raises_exactly(VerificationMethodError, jose.verify_jwt, token(claims), resolver, now=later)
    raises_exactly(MalformedJws, jose.verify_jwt, token({"iat": "yesterday"}), resolver, now=later)


@pytest.mark.parametrize(
    "token",
    [
        "not-a-jwt",
        "a.b",
        "a.b.c.d",
        "!!!.e30.sig",
        _b64(b"[1]") + ".e30.",
        _b64({"typ": "vc+jwt"}) + ".e30.",
    ],
)
def test_malformed_tokens(token, resolve):
    with pytest.raises(MalformedJws):
        jose.verify_jwt(token, resolve)


def test_missing_kid_issuer_and_unknown_crit(signer, resolve):
    vc = credential(signer.did)
    no_kid = jose.sign_jws(json.dumps(vc).encode(), signer.key, {"alg": "EdDSA", "typ": "vc+jwt"})
    with pytest.raises(MalformedJws, match="kid"):
        jose.verify_jwt(no_kid, resolve)
    no_issuer = jose.sign_jwt({k: v for k, v in vc.items() if k != "issuer"}, signer.key, signer.vm)
    with pytest.raises(MalformedJws, match="issuer"):
        jose.verify_jwt(no_issuer, resolve)
    header = {"alg": "EdDSA", "typ": "vc+jwt", "kid": signer.vm, "crit": ["exp"], "exp": 1}
    signing_input = f"{_b64(header)}.{_b64(vc)}"
    crit = f"{signing_input}.{_b64(signer.key.sign(signing_input.encode()))}"
    with pytest.raises(MalformedJws, match="critical"):
        jose.verify_jwt(crit, resolve)
    payload_iss = jose.sign_jwt(vc, signer.key, signer.vm, claims={"iss": "did:example:other"})
    with pytest.raises(MalformedJws, match="iss"):
        jose.verify_jwt(payload_iss, resolve)


def test_refuses_to_sign_with_other_algs(signer):
    with pytest.raises(AlgorithmNotAllowed):
        jose.sign_jws(b"{}", signer.key, {"alg": "none"})


def test_verify_jws_returns_header_and_payload(signer):
    token = jose.sign_jws(b'{"a":1}', signer.key, {"alg": "EdDSA", "kid": signer.vm})
    assert jose.verify_jws(token, signer.key) == ({"alg": "EdDSA", "kid": signer.vm}, b'{"a":1}')
    with pytest.raises(InvalidSignature):
        jose.verify_jws(token, signer.key.__class__.generate())


def test_altered_header_and_reencoded_parts(signer, resolve):
    """The signature covers the header and payload parts byte for byte as sent: an added header
    parameter, or the same JSON encoded differently, no longer verifies."""
    token = jose.sign_jwt(credential(signer.did), signer.key, signer.vm)
    head, payload, signature = token.split(".")
    header, claims, _ = _parts(token)
    extra = _b64({**header, "x-note": "added"})
    raises_exactly(InvalidSignature, jose.verify_jwt, f"{extra}.{payload}.{signature}", resolve)
    spaced = base64.urlsafe_b64encode(json.dumps(claims, indent=1).encode()).rstrip(b"=").decode()
    raises_exactly(InvalidSignature, jose.verify_jwt, f"{head}.{spaced}.{signature}", resolve)
    assert jose.verify_jwt(token, resolve) == claims
