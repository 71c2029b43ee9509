"""What the verifier suites send to /credentials/verify and /presentations/verify, checked on the
verification functions themselves (no database): the data-integrity-test-suite-assertion
negatives, the VC-API verify options, VCDM 2.0 presentation rules and VC-JOSE-COSE claims."""

from __future__ import annotations

import copy

import pytest
from conformance_testkit import EXAMPLES, V2, Signer, with_examples

from proofs import dataintegrity, jose
from proofs.didkey import resolve_did_key_verification_method as resolve
from verifier.credentials import verify_credential, verify_presentation

SUITES = ["eddsa-rdfc-2022", "eddsa-jcs-2022"]


def failed(result) -> dict[str, str]:
    return {c.name: c.code for c in result.checks if c.status == "failed"}


@pytest.fixture
def signer() -> Signer:
    return Signer()


def issued(signer: Signer, cryptosuite: str, **proof_options) -> dict:
    cred = with_examples(
        signer.did,
        credentialSubject={"id": "did:example:s", "note": "x"},
        validFrom="2024-01-01T00:00:00Z",
    )
    return dataintegrity.create_proof(
        cred, signer.key, signer.vm, cryptosuite=cryptosuite, **proof_options
    )


def mutated(vc: dict, change) -> dict:
    doc = copy.deepcopy(vc)
    change(doc)
    return doc


def _set_proof(key, value):
    return lambda d: d["proof"].__setitem__(key, value)


def _del_proof(key):
    return lambda d: d["proof"].pop(key)


NEGATIVES = {
    "proof missing": lambda d: d.pop("proof"),
    "proof null": lambda d: d.__setitem__("proof", None),
    "proof.type missing": _del_proof("type"),
    "proof.type unknown": _set_proof("type", "UnknownProofType"),
    "verificationMethod missing": _del_proof("verificationMethod"),
    "verificationMethod invalid": _set_proof("verificationMethod", "did:key:invalidVm"),
    "proofPurpose missing": _del_proof("proofPurpose"),
    "proofPurpose invalid": _set_proof("proofPurpose", "invalidPurpose"),
    "proofValue missing": _del_proof("proofValue"),
    "proofValue null": _set_proof("proofValue", None),
    "proofValue without multibase header": lambda d: d["proof"].__setitem__(
        "proofValue", d["proof"]["proofValue"][1:]
    ),
    "cryptosuite unknown": _set_proof("cryptosuite", "UnknownCryptosuite"),
    "cryptosuite not a string": _set_proof("cryptosuite", ["eddsa-rdfc-2022"]),
    "created not a date": _set_proof("created", "invalidDate"),
    "undefined term added after issuance": lambda d: d["credentialSubject"].__setitem__(
        "undefinedTerm", "IfDroppedWillVerify"
    ),
    "type added after issuance": lambda d: d["type"].append("UndefinedType"),
}


@pytest.mark.parametrize("cryptosuite", SUITES)
@pytest.mark.parametrize("name", sorted(NEGATIVES))
def test_data_integrity_negatives_fail(signer, cryptosuite, name):
    vc = issued(signer, cryptosuite)
    assert verify_credential(vc, resolve).verified
    result = verify_credential(mutated(vc, NEGATIVES[name]), resolve)
    assert not result.verified
    assert set(failed(result)) & {"proof", "dataModel"}


@pytest.mark.parametrize("cryptosuite", SUITES)
def test_expected_proof_purpose_is_enforced(signer, cryptosuite):
    vc = issued(signer, cryptosuite)
    result = verify_credential(vc, resolve, expected_purpose="authentication")
    assert failed(result) == {"proof": "proof-purpose-mismatch"}


@pytest.mark.parametrize("cryptosuite", SUITES)
def test_challenge_and_domain_options_are_enforced_on_credentials(signer, cryptosuite):
    vc = issued(
        signer,
        cryptosuite,
        proof_purpose="authentication",
        challenge="1235abcd6789",
        domain="invalid-vc-domain.example.com",
    )
    ok = verify_credential(vc, resolve, expected_purpose="authentication", challenge="1235abcd6789")
    assert ok.verified, failed(ok)
    wrong_domain = verify_credential(
        vc, resolve, expected_purpose="authentication", domain="domain.example"
    )
    assert failed(wrong_domain) == {"proof": "domain-mismatch"}
    wrong_challenge = verify_credential(
        vc, resolve, expected_purpose="authentication", challenge="other"
    )
    assert failed(wrong_challenge) == {"proof": "challenge-mismatch"}


def test_jcs_credential_with_a_term_no_context_defines_is_refused(signer):
    # eddsa-jcs-2022 signs the JSON as it is, so the signature holds; JSON-LD consumers would
    # still drop the term, which VC Data Integrity calls data loss.
    cred = {
        "@context": [V2],
        "type": ["VerifiableCredential"],
        "issuer": signer.did,
        "credentialSubject": {"id": "did:example:s", "undefinedTerm": "dropped"},
    }
    vc = dataintegrity.create_proof(cred, signer.key, signer.vm, cryptosuite="eddsa-jcs-2022")
    result = verify_credential(vc, resolve)
    assert failed(result) == {"dataModel": "undefined-term"}


def test_time_without_offset_is_read_as_utc_with_a_warning(signer):
    cred = with_examples(signer.did, validFrom="2024-01-01T00:00:00")
    vc = dataintegrity.create_proof(cred, signer.key, signer.vm)
    result = verify_credential(vc, resolve)
    assert result.verified
    assert [c.code for c in result.checks if c.status == "warning"] == ["no-offset"]
    assert result.as_dict()["warnings"][0]["type"].endswith("/no-offset")


def test_verify_result_carries_problem_details(signer):
    vc = mutated(issued(signer, "eddsa-rdfc-2022"), NEGATIVES["proofValue null"])
    body = verify_credential(vc, resolve).as_dict()
    assert body["verified"] is False
    assert body["problemDetails"] == body["errors"]
    assert {"type", "title", "detail"} <= set(body["problemDetails"][0])


# --- presentations (VCDM 2.0 4.13) -------------------------------------------------------------


def signed_vp(signer: Signer, vp: dict, **options) -> dict:
    options.setdefault("proof_purpose", "authentication")
    return dataintegrity.create_proof(vp, signer.key, signer.vm, **options)


def test_self_asserted_credential_without_holder_verifies_with_a_warning(signer):
    # issue 14 item 3: `holder` is optional (VCDM 2.0; the VC 2.0 suite's valid VP has none)
    vc = issued(signer, "eddsa-rdfc-2022")
    vp = {"@context": [V2], "type": ["VerifiablePresentation"], "verifiableCredential": [vc]}
    no_holder = verify_presentation(signed_vp(signer, vp, challenge="c1"), resolve)
    assert no_holder.verified, failed(no_holder)
    warnings = {c.name: c.code for c in no_holder.checks if c.status == "warning"}
    assert warnings == {"holder": "holder-recommended"}
    vp["holder"] = signer.did
    with_holder = verify_presentation(signed_vp(signer, vp, challenge="c1"), resolve)
    assert with_holder.verified, failed(with_holder)


def test_holder_other_than_the_signer_is_refused(signer):
    vc = issued(signer, "eddsa-rdfc-2022")
    vp = {
        "@context": [V2],
        "type": ["VerifiablePresentation"],
        "holder": "did:example:acme",
        "verifiableCredential": [vc],
    }
    result = verify_presentation(signed_vp(signer, vp), resolve)
    assert failed(result) == {"holder": "holder-mismatch"}


def test_credential_from_another_issuer_needs_no_holder(signer):
    vc = issued(Signer(), "eddsa-rdfc-2022")
    vp = {"@context": [V2], "type": ["VerifiablePresentation"], "verifiableCredential": [vc]}
    result = verify_presentation(signed_vp(signer, vp), resolve)
    assert result.verified, failed(result)


@pytest.mark.parametrize(
    "item",
    [
        "https://example.org/credentials/1",
        42,
        {"@context": [V2], "type": ["Other"], "issuer": "did:example:i"},
    ],
)
def test_presentation_items_must_be_credential_objects(signer, item):
    # checked before any proof (such a presentation cannot even be signed as JSON-LD)
    vp = {"@context": [V2], "type": ["VerifiablePresentation"], "verifiableCredential": [item]}
    result = verify_presentation(vp, resolve)
    assert failed(result) == {"dataModel": "malformed-credential"}


def test_holder_object_without_url_id_is_refused(signer):
    vp = {
        "@context": [V2],
        "type": ["VerifiablePresentation"],
        "holder": {"id": "z6MkpJySvETLnxhQG9DzEdmKJtysBDjuuTeDfUj1uNNCUqcj"},
    }
    result = verify_presentation(vp, resolve)
    assert failed(result) == {"dataModel": "malformed-credential"}


def test_expected_proof_purpose_for_presentations(signer):
    vp = {"@context": [V2], "type": ["VerifiablePresentation"], "holder": signer.did}
    signed = signed_vp(signer, vp, proof_purpose="assertionMethod")
    assert failed(verify_presentation(signed, resolve)) == {"proof": "proof-purpose-mismatch"}
    assert verify_presentation(signed, resolve, expected_purpose="assertionMethod").verified


# --- VC-JOSE-COSE ------------------------------------------------------------------------------


def test_enveloped_credential_in_a_presentation(signer):
    token = jose.sign_jwt(with_examples(signer.did), signer.key, signer.vm, typ="vc+jwt")
    vp = {
        "@context": [V2],
        "type": ["VerifiablePresentation"],
        "verifiableCredential": [jose.envelope(token, "vc+jwt")],
    }
    holder = Signer()
    result = verify_presentation(signed_vp(holder, vp), resolve)
    assert result.verified, failed(result)


@pytest.mark.parametrize("claim", ["vc", "vp"])
def test_vc_and_vp_claims_are_refused(signer, claim):
    # VC-JOSE-COSE: the claim names vc and vp MUST NOT be present in a credential's claims set.
    payload = with_examples(signer.did)
    header = {"alg": "EdDSA", "typ": "vc+jwt", "cty": "vc", "kid": signer.vm}
    body = jose.json.dumps({**payload, claim: "oops"}).encode()
    token = jose.sign_jws(body, signer.key, header)
    result = verify_credential(jose.envelope(token, "vc+jwt"), resolve)
    assert failed(result) == {"proof": "malformed-jws"}
    with pytest.raises(jose.MalformedJws):
        jose.sign_jwt({**payload, claim: {}}, signer.key, signer.vm)


@pytest.mark.parametrize(
    "change",
    [
        lambda e: e.__setitem__("@context", []),
        lambda e: e.__setitem__("@context", EXAMPLES),
        lambda e: e.__setitem__("id", e["id"].split(",", 1)[1]),
        lambda e: e.pop("type"),
        lambda e: e.__setitem__("type", "VerifiableCredential"),
    ],
)
def test_enveloped_credential_negatives(signer, change):
    token = jose.sign_jwt(with_examples(signer.did), signer.key, signer.vm, typ="vc+jwt")
    envelope = jose.envelope(token, "vc+jwt")
    assert verify_credential(envelope, resolve).verified
    change(envelope)
    assert not verify_credential(envelope, resolve).verified


def test_enveloped_credential_payload_must_be_well_formed_json_ld(signer):
    cred = with_examples(signer.did)
    cred["@context"] = [V2]
    cred["credentialSubject"] = {"id": "did:example:s", "undefinedTerm": 1}
    token = jose.sign_jwt(cred, signer.key, signer.vm, typ="vc+jwt")
    result = verify_credential(jose.envelope(token, "vc+jwt"), resolve)
    assert failed(result) == {"dataModel": "undefined-term"}


@pytest.mark.parametrize("cryptosuite", SUITES)
def test_unresolvable_key_is_a_failed_proof_not_a_resolver_error(signer, cryptosuite):
    from resolver.errors import DidNotAllowed, DidResolutionFailed

    vc = issued(signer, cryptosuite)
    for error in (DidNotAllowed("host not allowed"), DidResolutionFailed("timeout")):

        def unreachable(vm_id, purpose, error=error):
            raise error

        result = verify_credential(vc, unreachable)
        assert not result.verified
        assert "proof" in failed(result)
        token = jose.sign_jwt(with_examples(signer.did), signer.key, signer.vm)
        assert "proof" in failed(verify_credential(jose.envelope(token), unreachable))


@pytest.mark.parametrize(
    "previous",
    ["urn:uuid:not-among-the-proofs", 42, ["urn:uuid:first", "urn:uuid:missing"]],
)
def test_previous_proof_must_name_proofs_of_the_document(signer, previous):
    vc = issued(signer, "eddsa-rdfc-2022", proof_id="urn:uuid:first")
    chained = dataintegrity.create_proof(
        vc, signer.key, signer.vm, proof_id="urn:uuid:second", previous_proof="urn:uuid:first"
    )
    assert verify_credential(chained, resolve).verified
    chained["proof"][1]["previousProof"] = previous
    assert failed(verify_credential(chained, resolve)) == {"proof": "malformed-proof"}


def test_further_signers_besides_the_issuer_are_accepted():
    # issue 14 item 3: the Data Integrity suite's previousProof vectors are signed by another key
    # first, then by the issuer; a proof set or chain may carry other parties' proofs
    issuer, other = Signer(), Signer()
    cred = with_examples(issuer.did, credentialSubject={"id": "did:example:s", "note": "x"})
    first = dataintegrity.create_proof(cred, other.key, other.vm, proof_id="urn:uuid:first-proof")
    chained = dataintegrity.create_proof(
        first, issuer.key, issuer.vm, previous_proof="urn:uuid:first-proof"
    )
    result = verify_credential(chained, resolve)
    assert result.verified, failed(result)
    # without the issuer's own proof it is someone else's word
    assert failed(verify_credential(first, resolve)) == {"issuer": "issuer-mismatch"}
