"""VC-API IssueCredentialOptions as the issuer suites send them (pure functions).

The suites pass the `options` an implementation registers, plus `credentialId` (used later by
`POST /credentials/status`) and, for selective-disclosure suites, `mandatoryPointers`.
"""

from __future__ import annotations

import pytest
from conformance_testkit import ISSUER, minimal

from issuer.credentials import (
    IssueOptions,
    IssuerMismatch,
    _resolve_pointer,
    parse_options,
    prepare,
)
from issuer.errors import InvalidCredentialRequest


def test_credential_id_is_a_reference_not_a_credential_property():
    options = parse_options({"credentialId": "example.com/ad5d541f-db7a-4bff-97e1-d403ce403767"})
    prepared = prepare(minimal(), ISSUER, options)
    # VC-API: credentialId identifies the credential without setting credential.id
    assert "id" not in prepared
    assert options.reference(prepared) == "example.com/ad5d541f-db7a-4bff-97e1-d403ce403767"


def test_reference_falls_back_to_the_credential_id():
    cred = minimal(id="urn:uuid:9a1b0f5e-3c43-4f67-9a35-5a7a0a0c2c11")
    assert IssueOptions().reference(cred) == cred["id"]
    assert IssueOptions().reference(minimal()) is None


@pytest.mark.parametrize("value", ["", "  ", 5, {"a": 1}, ["urn:x"]])
def test_credential_id_must_be_a_non_empty_string(value):
    with pytest.raises(InvalidCredentialRequest):
        parse_options({"credentialId": value})


def test_mandatory_pointers_are_accepted_and_must_select_something():
    options = parse_options({"mandatoryPointers": ["/issuer", "/credentialSubject/id"]})
    assert options.mandatory_pointers == ("/issuer", "/credentialSubject/id")
    prepare(minimal(), ISSUER, options)
    with pytest.raises(InvalidCredentialRequest, match="/validFrom"):
        prepare(minimal(), ISSUER, parse_options({"mandatoryPointers": ["/validFrom"]}))


@pytest.mark.parametrize("value", ["/issuer", [3], ["issuer"], {"a": "/b"}])
def test_mandatory_pointers_must_be_json_pointers(value):
    with pytest.raises(InvalidCredentialRequest):
        parse_options({"mandatoryPointers": value})


def test_json_pointer_escapes():
    cred = minimal(**{"a/b": {"c~d": [0, 1]}})
    cred["@context"] = [cred["@context"][0], {"a/b": "https://example.org/#ab"}]
    options = parse_options({"mandatoryPointers": ["/a~1b/c~0d/1"]})
    assert _resolve_pointer(cred, "/a~1b/c~0d/1")
    assert not _resolve_pointer(cred, "/a~1b/c~0d/2")
    assert options.mandatory_pointers == ("/a~1b/c~0d/1",)


@pytest.mark.parametrize("options", [{"unknownOption": True}, {"returnCredential": True}])
def test_options_outside_the_schema_are_refused(options):
    # IssueCredentialOptions has additionalProperties: false
    with pytest.raises(InvalidCredentialRequest, match="unsupported option"):
        parse_options(options)


def test_issuer_mismatch_is_a_400_not_a_403():
    with pytest.raises(IssuerMismatch) as caught:
        prepare(minimal(issuer="https://some-url.example/issuer/foo"), ISSUER, IssueOptions())
    assert caught.value.status == 400
    assert caught.value.code == "issuer-mismatch"
    with pytest.raises(IssuerMismatch):
        prepare(minimal(issuer={"id": "did:example:other"}), ISSUER, IssueOptions())
