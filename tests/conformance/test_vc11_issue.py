"""Issue item 1: VC 1.1 credentials are signed when a caller sends one (the VC-API issuer suite and
the Data Integrity assertion suite issue `https://www.w3.org/2018/credentials/v1` credentials with
`issuanceDate` and `expirationDate`); passports stay VC 2.0."""

from __future__ import annotations

import pytest
from conformance_testkit import Signer

from issuer.credentials import DATA_INTEGRITY_V2, IssueOptions, parse_options, prepare, sign
from issuer.errors import InvalidCredentialRequest
from proofs.didkey import resolve_did_key_verification_method as resolve
from verifier.credentials import verify_credential

V1 = "https://www.w3.org/2018/credentials/v1"


def vc11(issuer: str, **extra) -> dict:
    return {
        "@context": [V1],
        "id": "urn:uuid:2b7f1b8e-8a55-4c43-9d0e-6c1f0c6b1c11",
        "type": ["VerifiableCredential"],
        "issuer": issuer,
        "issuanceDate": "2024-03-16T22:37:26.544Z",
        "credentialSubject": {"id": "did:example:subject-1"},
        **extra,
    }


@pytest.mark.parametrize("cryptosuite", ["eddsa-rdfc-2022", "eddsa-jcs-2022"])
def test_vc11_is_signed_with_the_data_integrity_context_and_verifies(cryptosuite):
    signer = Signer()
    options = parse_options({"cryptosuite": cryptosuite})
    cred = vc11(signer.did, expirationDate="2099-01-01T00:00:00Z")
    prepared = prepare(cred, signer.did, options)
    # credentials/v1 does not define DataIntegrityProof: the context is appended, nothing else
    assert prepared["@context"] == [V1, DATA_INTEGRITY_V2]
    assert cred["@context"] == [V1]  # the caller's document is not changed
    signed = sign(prepared, signer.key, signer.vm, options)
    assert signed["issuanceDate"] == cred["issuanceDate"]
    assert signed["expirationDate"] == "2099-01-01T00:00:00Z"
    assert signed["proof"]["cryptosuite"] == cryptosuite
    result = verify_credential(signed, resolve)
    assert result.verified, result.failed_names()


def test_vc11_keeps_a_data_integrity_context_the_caller_already_listed():
    signer = Signer()
    cred = vc11(signer.did)
    cred["@context"] = [V1, DATA_INTEGRITY_V2]
    assert prepare(cred, signer.did, IssueOptions())["@context"] == [V1, DATA_INTEGRITY_V2]


def test_vc11_needs_issuance_date():
    signer = Signer()
    cred = vc11(signer.did)
    del cred["issuanceDate"]
    with pytest.raises(Exception, match="issuanceDate"):
        prepare(cred, signer.did, IssueOptions())


def test_vc11_is_not_secured_as_vc_jwt():
    signer = Signer()
    with pytest.raises(InvalidCredentialRequest, match="VC Data Model 2.0"):
        prepare(vc11(signer.did), signer.did, parse_options({"format": "vc+jwt"}))
