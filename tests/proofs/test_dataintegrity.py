"""DataIntegrityProof (eddsa-rdfc-2022, eddsa-jcs-2022): round trips, proof sets and chains, and
tampering, each rejected with its own exception class."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest
from proofs_testkit import V2, credential

from proofs.dataintegrity import CRYPTOSUITES, create_proof, verify_proof
from proofs.didkey import did_key_document
from proofs.errors import (
    ChallengeMismatch,
    ContextNotAllowed,
    DomainMismatch,
    InvalidSignature,
    MalformedDocument,
    MalformedProof,
    MissingProof,
    ProofExpired,
    ProofPurposeMismatch,
    UndefinedTerm,
    UnsupportedCryptosuite,
    VerificationMethodError,
)
from proofs.multikey import multikey_verification_method


@pytest.fixture(params=CRYPTOSUITES)
def suite(request) -> str:
    return request.param


def raises_exactly(cls, fn, *args, **kwargs):
    with pytest.raises(cls) as excinfo:
        fn(*args, **kwargs)
    assert excinfo.type is cls, f"{excinfo.type.__name__} raised, {cls.__name__} expected"
    return excinfo.value


@pytest.fixture
def signed(signer, suite):
    return create_proof(credential(signer.did), signer.key, signer.vm, cryptosuite=suite)


def test_round_trip(signed, signer, resolve, suite):
    [result] = verify_proof(signed, resolve)
    assert result.cryptosuite == suite
    assert result.verification_method == signer.vm
    assert result.controller == signer.did
    proof = signed["proof"]
    assert proof["type"] == "DataIntegrityProof"
    assert proof["proofValue"].startswith("z")
    # created: XML Schema dateTime, UTC, no fractional seconds
    assert len(proof["created"]) == 20 and proof["created"].endswith("Z")
    assert ("@context" in proof) is (suite == "eddsa-jcs-2022")


def test_input_is_not_modified(signer, suite):
    document = credential(signer.did)
    before = copy.deepcopy(document)
    create_proof(document, signer.key, signer.vm, cryptosuite=suite)
    assert document == before


# --- tampering ------------------------------------------------------------------------------


def test_changed_subject_value(signed, resolve):
    signed["credentialSubject"]["stateOfHealth"] = 12
    raises_exactly(InvalidSignature, verify_proof, signed, resolve)


def test_changed_issuer(signed, resolve, other_signer):
    signed["issuer"] = other_signer.did
    raises_exactly(InvalidSignature, verify_proof, signed, resolve)


def test_changed_proof_option(signed, resolve):
    signed["proof"]["created"] = "2020-01-01T00:00:00Z"
    raises_exactly(InvalidSignature, verify_proof, signed, resolve)


def test_removed_proof(signed, resolve):
    del signed["proof"]
    error = raises_exactly(MissingProof, verify_proof, signed, resolve)
    assert "no proof" in str(error)


def test_altered_proof_value(signed, resolve):
    value = signed["proof"]["proofValue"]
    signed["proof"]["proofValue"] = value[:-3] + ("abc" if value[-3:] != "abc" else "abd")
    raises_exactly(InvalidSignature, verify_proof, signed, resolve)


def test_undecodable_proof_value(signed, resolve):
    signed["proof"]["proofValue"] = "z0OIl"  # not base58btc
    raises_exactly(MalformedProof, verify_proof, signed, resolve)


def test_wrong_key(signed, signer, other_signer, resolve):
    """The verification method resolves, but to another key than the one that signed."""

    def lying_resolver(vm_id, purpose):
        return multikey_verification_method(other_signer.key, vm_id, signer.did)

    error = raises_exactly(InvalidSignature, verify_proof, signed, lying_resolver)
    assert signer.vm in str(error)


def test_signed_with_another_key_than_the_method_names(signer, other_signer, resolve, suite):
    forged = create_proof(credential(signer.did), other_signer.key, signer.vm, cryptosuite=suite)
    raises_exactly(InvalidSignature, verify_proof, forged, resolve)


def test_wrong_purpose(signed, resolve):
    error = raises_exactly(
        ProofPurposeMismatch, verify_proof, signed, resolve, expected_purpose="authentication"
    )
    assert "'assertionMethod'" in str(error) and "'authentication'" in str(error)


def test_purpose_not_authorised_by_controller(signer, suite):
    """The resolver refuses a method that its controller does not list under the purpose."""
    doc = did_key_document(signer.did)
    doc["assertionMethod"] = []

    from proofs.controller import verification_method_for_purpose

    def resolver(vm_id, purpose):
        return verification_method_for_purpose(doc, vm_id, purpose)

    secured = create_proof(credential(signer.did), signer.key, signer.vm, cryptosuite=suite)
    error = raises_exactly(VerificationMethodError, verify_proof, secured, resolver)
    assert "not listed under 'assertionMethod'" in str(error)


def test_challenge_and_domain(signer, resolve, suite):
    vp = create_proof(
        {"@context": [V2], "type": ["VerifiablePresentation"], "holder": signer.did},
        signer.key,
        signer.vm,
        cryptosuite=suite,
        proof_purpose="authentication",
        challenge="c-123",
        domain="dbp.example",
    )
    [result] = verify_proof(
        vp, resolve, expected_purpose="authentication", challenge="c-123", domain="dbp.example"
    )
    assert result.challenge == "c-123" and result.domain == ("dbp.example",)
    raises_exactly(
        ChallengeMismatch,
        verify_proof,
        vp,
        resolve,
        expected_purpose="authentication",
        challenge="c-999",
    )
    raises_exactly(
        DomainMismatch,
        verify_proof,
        vp,
        resolve,
        expected_purpose="authentication",
        domain="evil.example",
    )
    # a replayed challenge value inside a re-signed proof is a different signature
    vp["proof"]["challenge"] = "c-999"
    raises_exactly(
        InvalidSignature,
        verify_proof,
        vp,
        resolve,
        expected_purpose="authentication",
        challenge="c-999",
    )


def test_missing_challenge_when_one_is_expected(signed, resolve):
    error = raises_exactly(ChallengeMismatch, verify_proof, signed, resolve, challenge="c-1")
    assert "no challenge" in str(error)


def test_domain_list(signer, resolve, suite):
    secured = create_proof(
        credential(signer.did), signer.key, signer.vm, cryptosuite=suite, domain=["a.example", "b"]
    )
    assert verify_proof(secured, resolve, domain="b")[0].domain == ("a.example", "b")
    raises_exactly(DomainMismatch, verify_proof, secured, resolve, domain="c")


def test_expired_proof(signer, resolve, suite):
    now = datetime(2026, 1, 1, tzinfo=UTC)
    secured = create_proof(
        credential(signer.did),
        signer.key,
        signer.vm,
        cryptosuite=suite,
        created=now - timedelta(days=2),
        expires=now - timedelta(days=1),
    )
    assert secured["proof"]["expires"] == "2025-12-31T00:00:00Z"
    error = raises_exactly(ProofExpired, verify_proof, secured, resolve, now=now)
    assert "2025-12-31T00:00:00Z" in str(error)
    assert verify_proof(secured, resolve, now=now - timedelta(days=1, seconds=1))


def test_undefined_term(signed, resolve, suite):
    """Signed with a context that defines the term, then presented without it."""
    signed["@context"] = [V2]
    expected = UndefinedTerm if suite == "eddsa-rdfc-2022" else InvalidSignature
    raises_exactly(expected, verify_proof, signed, resolve)


def test_undefined_term_added_after_signing(signer, resolve):
    secured = create_proof(
        {
            "@context": [V2],
            "type": ["VerifiableCredential"],
            "issuer": signer.did,
            "credentialSubject": {"id": "did:example:1"},
        },
        signer.key,
        signer.vm,
    )
    secured["credentialSubject"]["unsignedClaim"] = "pyld would drop and ignore this"
    error = raises_exactly(UndefinedTerm, verify_proof, secured, resolve)
    assert error.terms == ("unsignedClaim",)


def test_unknown_context_url(signed, resolve, suite):
    signed["@context"] = [*signed["@context"], "https://evil.example/context.jsonld"]
    if suite == "eddsa-rdfc-2022":
        error = raises_exactly(ContextNotAllowed, verify_proof, signed, resolve)
        assert "https://evil.example/context.jsonld" in str(error)
    else:
        # JCS proofs name their contexts; the document's may only add after them.
        assert verify_proof(signed, resolve)


def test_signing_refuses_undefined_terms_and_unknown_contexts(signer):
    doc = credential(signer.did)
    doc["@context"] = [V2]
    raises_exactly(UndefinedTerm, create_proof, doc, signer.key, signer.vm)
    doc["@context"] = [V2, "https://evil.example/c"]
    raises_exactly(ContextNotAllowed, create_proof, doc, signer.key, signer.vm)


def test_unsupported_cryptosuite(signed, resolve):
    signed["proof"]["cryptosuite"] = "ecdsa-rdfc-2019"
    raises_exactly(UnsupportedCryptosuite, verify_proof, signed, resolve)
    signed["proof"]["type"] = "BbsBlsSignature2020"
    raises_exactly(UnsupportedCryptosuite, verify_proof, signed, resolve)


@pytest.mark.parametrize("field", ["type", "verificationMethod", "proofPurpose"])
def test_malformed_proof(signed, resolve, field):
    del signed["proof"][field]
    error = raises_exactly(MalformedProof, verify_proof, signed, resolve)
    assert field in str(error)


def test_malformed_created(signed, resolve):
    signed["proof"]["created"] = "yesterday"
    raises_exactly(MalformedProof, verify_proof, signed, resolve)


def test_not_a_document(resolve):
    raises_exactly(MalformedDocument, verify_proof, ["not", "an", "object"], resolve)


# --- verification methods -------------------------------------------------------------------


def test_resolver_returning_another_method(signed, signer, resolve):
    def resolver(vm_id, purpose):
        method = resolve(vm_id, purpose)
        return {**method, "id": signer.did + "#other"}

    raises_exactly(VerificationMethodError, verify_proof, signed, resolver)


def test_method_claiming_another_controller(signed, signer, other_signer, resolve):
    def resolver(vm_id, purpose):
        return {**resolve(vm_id, purpose), "controller": other_signer.did}

    error = raises_exactly(VerificationMethodError, verify_proof, signed, resolver)
    assert other_signer.did in str(error)


def test_revoked_method(signed, resolve):
    def resolver(vm_id, purpose):
        return {**resolve(vm_id, purpose), "revoked": "2020-01-01T00:00:00Z"}

    raises_exactly(VerificationMethodError, verify_proof, signed, resolver)


def test_a_revoked_method_verifies_only_proofs_created_before_its_revocation(
    signer, resolve, suite
):
    """A retired key (CID `revoked`) keeps verifying what it signed before, and refuses a proof
    whose `created` is at or after the revocation, even when verified later still."""
    revoked = datetime(2026, 6, 1, tzinfo=UTC)

    def resolver(vm_id, purpose):
        return {**resolve(vm_id, purpose), "revoked": "2026-06-01T00:00:00Z"}

    def signed_at(moment):
        doc = credential(signer.did)
        return create_proof(doc, signer.key, signer.vm, cryptosuite=suite, created=moment)

    later = revoked + timedelta(days=30)
    [ok] = verify_proof(signed_at(revoked - timedelta(seconds=1)), resolver, now=later)
    assert ok.verification_method == signer.vm
    for moment in (revoked, revoked + timedelta(seconds=1)):
        error = raises_exactly(
            VerificationMethodError, verify_proof, signed_at(moment), resolver, now=later
        )
        assert "revoked at 2026-06-01T00:00:00Z" in str(error)
        assert f"created at {moment.strftime('%Y-%m-%dT%H:%M:%SZ')}" in str(error)


def test_an_expired_method_verifies_nothing_after_it_expired(signer, resolve, suite):
    def resolver(vm_id, purpose):
        return {**resolve(vm_id, purpose), "expires": "2026-06-01T00:00:00Z"}

    early = datetime(2026, 1, 1, tzinfo=UTC)
    doc = create_proof(
        credential(signer.did), signer.key, signer.vm, cryptosuite=suite, created=early
    )
    verify_proof(doc, resolver, now=early + timedelta(days=1))
    raises_exactly(
        VerificationMethodError, verify_proof, doc, resolver, now=datetime(2026, 7, 1, tzinfo=UTC)
    )


def test_unknown_method_type(signed, resolve):
    def resolver(vm_id, purpose):
        return {**resolve(vm_id, purpose), "type": "EcdsaSecp256k1VerificationKey2019"}

    raises_exactly(VerificationMethodError, verify_proof, signed, resolver)


# --- proof sets and chains ------------------------------------------------------------------


def test_proof_set(signer, other_signer, resolve, suite):
    doc = credential(signer.did)
    once = create_proof(doc, signer.key, signer.vm, cryptosuite=suite)
    twice = create_proof(once, other_signer.key, other_signer.vm, cryptosuite=suite)
    assert isinstance(twice["proof"], list) and len(twice["proof"]) == 2
    results = verify_proof(twice, resolve)
    assert [r.controller for r in results] == [signer.did, other_signer.did]
    # every proof must hold: break the second one only
    twice["proof"][1]["created"] = "2000-01-01T00:00:00Z"
    error = raises_exactly(InvalidSignature, verify_proof, twice, resolve)
    assert "proof 2 of 2" in str(error)


def test_proof_chain(signer, other_signer, resolve, suite):
    first = create_proof(
        credential(signer.did), signer.key, signer.vm, cryptosuite=suite, proof_id="urn:uuid:p1"
    )
    chained = create_proof(
        first, other_signer.key, other_signer.vm, cryptosuite=suite, previous_proof="urn:uuid:p1"
    )
    assert len(verify_proof(chained, resolve)) == 2
    # the second proof signed the first: replacing the first (even validly) breaks the chain
    replaced = create_proof(
        credential(signer.did), signer.key, signer.vm, cryptosuite=suite, proof_id="urn:uuid:p1",
        created="2001-01-01T00:00:00Z",
    )  # fmt: skip
    chained["proof"][0] = replaced["proof"]
    raises_exactly(InvalidSignature, verify_proof, chained, resolve)
    del chained["proof"][0]
    raises_exactly(MalformedProof, verify_proof, chained, resolve)
