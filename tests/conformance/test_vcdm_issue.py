"""VC Data Model 2.0 requirements the vc-data-model-2.0-test-suite checks at `/credentials/issue`:
each negative case must be refused (400/422, never 401/403/500), each positive one accepted.

`issuer.credentials.prepare` is the whole pre-signing check (data model rules, then strict
JSON-LD), so these run without a database; the HTTP shape is covered in test_vcapi_shapes.py.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from conformance_testkit import EXAMPLES, ISSUER, V2, minimal, with_examples

from issuer.credentials import IssueOptions, prepare
from issuer.errors import IssuerError
from proofs.errors import ProofError
from vocab.datetimes import InvalidDateTime, has_timezone, parse_datetime
from vocab.errors import VocabError
from vocab.vcdm import CredentialMalformed, check_credential

SHA384 = "sha384-" + base64.b64encode(hashlib.sha384(b"resource").digest()).decode()
SHA256_MULTIBASE = "u" + base64.urlsafe_b64encode(hashlib.sha256(b"r").digest()).decode().rstrip(
    "="
)


def refused(credential: Any) -> Exception:
    with pytest.raises((IssuerError, ProofError, VocabError)) as caught:
        prepare(credential, ISSUER, IssueOptions())
    status = caught.value.status
    assert status in (400, 422), f"{type(caught.value).__name__} -> {status}"
    return caught.value


def lang(value: str, language: str = "en", **extra: Any) -> dict[str, Any]:
    return {"@value": value, "@language": language, **extra}


NEGATIVE = {
    # 4.3 Contexts
    "no @context": {k: v for k, v in minimal().items() if k != "@context"},
    "@context a number": minimal(**{"@context": 4}),
    "@context empty": minimal(**{"@context": []}),
    "@context null": minimal(**{"@context": None}),
    "base context not first": minimal(**{"@context": [EXAMPLES, V2]}),
    "base context missing": minimal(**{"@context": [EXAMPLES]}),
    "context item a number": minimal(**{"@context": [V2, 123192875]}),
    "context item not a URL": minimal(**{"@context": [V2, "https ://no-url/ctx/v1"]}),
    "context items of wrong types": minimal(**{"@context": [V2, {"a": "https://a.example/"}, 4]}),
    # 4.4 Identifiers
    "id null": minimal(id=None),
    "id a list": minimal(id=["urn:uuid:1", "urn:uuid:2"]),
    "id not a URL": minimal(id="https ://no-url/vcs/1"),
    "id without scheme": minimal(id="vcs/1"),
    "subject id a list": minimal(credentialSubject={"id": ["did:example:a", "did:example:b"]}),
    # 4.5 Types
    "no type": {k: v for k, v in minimal().items() if k != "type"},
    "type a number": minimal(type=4),
    "type items not strings": minimal(type=[2, None, {"foo": True}, False]),
    "type an empty list": minimal(type=[]),
    "type without VerifiableCredential": minimal(type=["ExampleTestCredential"]),
    "type term not defined by any context": minimal(
        **{
            "@context": [V2, {"@vocab": None}],
            "type": ["VerifiableCredential", "ExampleTestCredential"],
        }
    ),
    "type mapped to a non-URL": minimal(
        **{
            "@context": [V2, {"ExampleTestCredential": "https ://no-url#ExampleTestCredential"}],
            "type": ["VerifiableCredential", "ExampleTestCredential"],
        }
    ),
    "credentialStatus without type": minimal(credentialStatus={"id": "https://s.example/1"}),
    "credentialStatus type a number": minimal(
        credentialStatus={"id": "https://s.example/1", "type": 2}
    ),
    "credentialStatus type an empty list": minimal(
        credentialStatus={"id": "https://s.example/1", "type": []}
    ),
    "termsOfUse without type": minimal(termsOfUse={"id": "https://t.example/policy/1"}),
    "evidence without type": minimal(evidence=[{"id": "https://e.example/1"}]),
    "refreshService without type": minimal(refreshService={"id": "https://r.example/1"}),
    "credentialSchema without type": minimal(credentialSchema={"id": "https://s.example/1"}),
    # 4.6 Names and descriptions
    "name with an extra member": minimal(name=lang("Example", url="did:example:c")),
    "description with an extra member": minimal(description=lang("Example", url="x:y")),
    "issuer name with an extra member": minimal(
        issuer={"id": ISSUER, "name": lang("Issuer", url="did:example:i")}
    ),
    "issuer description with an extra member": minimal(
        issuer={"id": ISSUER, "description": lang("Issuer", url="did:example:i")}
    ),
    "name a number": minimal(name=5),
    "name language not a tag": minimal(name=lang("Example", language="en us")),
    "name direction unknown": minimal(name=lang("Example", **{"@direction": "up"})),
    "name an empty list": minimal(name=[]),
    # 4.7 Issuer
    "no issuer": {k: v for k, v in minimal().items() if k != "issuer"},
    "issuer null": minimal(issuer=None),
    "issuer a boolean": minimal(issuer=True),
    "issuer a number": minimal(issuer=4),
    "issuer an empty list": minimal(issuer=[]),
    "issuer object without id": minimal(issuer={"name": "No id"}),
    "issuer object id a number": minimal(issuer={"id": 4}),
    "issuer object id not a URL": minimal(issuer={"id": "not-a-url"}),
    # 4.8 Credential subject
    "no credentialSubject": {k: v for k, v in minimal().items() if k != "credentialSubject"},
    "credentialSubject without claims": minimal(credentialSubject={}),
    "credentialSubject an empty list": minimal(credentialSubject=[]),
    "credentialSubject list with an empty object": minimal(
        credentialSubject=[{"id": "did:example:a"}, {}]
    ),
    "credentialSubject a string": minimal(credentialSubject="did:example:1234"),
    "credentialSubject null": minimal(credentialSubject=None),
    "credentialSubject list of non-objects": minimal(credentialSubject=[None, True, 4]),
    # 4.9 Validity period
    "validFrom not a date": minimal(validFrom="2024-13-45T99:00:00Z"),
    "validFrom without offset": minimal(validFrom="2024-01-01T00:00:00"),
    "validUntil not a date": minimal(validUntil="next year"),
    "validUntil before validFrom": minimal(
        validFrom="2030-01-01T00:00:00Z", validUntil="2020-01-01T00:00:00Z"
    ),
    # 4.10 Status
    "credentialStatus id a list": minimal(
        credentialStatus={"id": ["https://s.example/1", "https://s.example/2"], "type": "X"}
    ),
    "credentialStatus id not a URL": minimal(credentialStatus={"id": "not a url", "type": "X"}),
    # 4.11 Data schemas
    "credentialSchema without id": minimal(credentialSchema={"type": "JsonSchema"}),
    "credentialSchema id a number": minimal(credentialSchema={"id": 3, "type": "JsonSchema"}),
    # 5.2.1 Semantic interoperability: no redefinition of protected terms
    "VerifiableCredential redefined": minimal(
        **{"@context": [V2, {"VerifiableCredential": "https://example.org/#Redefined"}]}
    ),
    "protected term redefined by a later context": minimal(
        **{
            "@context": [
                V2,
                {"@protected": True, "Example": "https://example.org/#Example"},
                {"Example": "https://example.org/#Other"},
            ],
            "type": ["VerifiableCredential", "Example"],
        }
    ),
    # 5.3 Integrity of related resources
    "relatedResource without a digest": minimal(
        relatedResource=[{"id": "https://r.example/a", "mediaType": "text/plain"}]
    ),
    "relatedResource id not a URL": minimal(relatedResource=[{"id": "a", "digestSRI": SHA384}]),
    "relatedResource bad digestSRI": minimal(
        relatedResource=[{"id": "https://r.example/a", "digestSRI": "md5-abc"}]
    ),
    "relatedResource digestSRI of the wrong length": minimal(
        relatedResource=[{"id": "https://r.example/a", "digestSRI": "sha384-AAAA"}]
    ),
    "relatedResource bad digestMultibase": minimal(
        relatedResource=[{"id": "https://r.example/a", "digestMultibase": "xyz"}]
    ),
    "relatedResource duplicate ids": minimal(
        relatedResource=[
            {"id": "https://r.example/a", "digestSRI": SHA384},
            {"id": "https://r.example/a", "digestMultibase": SHA256_MULTIBASE},
        ]
    ),
    # Securing: an unsigned credential is what /credentials/issue takes
    "already has a proof": minimal(proof={"type": "DataIntegrityProof"}),
}


@pytest.mark.parametrize("name", sorted(NEGATIVE))
def test_issuer_refuses(name):
    refused(NEGATIVE[name])


POSITIVE = {
    "minimal": minimal(),
    "examples context": with_examples(credentialSubject={"id": "did:example:s", "note": "hi"}),
    "inline context object after the base context": minimal(
        **{"@context": [V2, {"note": "https://example.org/#note"}]},
        credentialSubject={"note": "x"},
    ),
    "id a URN": minimal(id="urn:uuid:7f5f6a2e-0b4e-4f52-9a7e-5a1c1d0e9b11"),
    "id an https URL": minimal(id="https://university.example/credentials/1872"),
    "type an absolute URL": minimal(type=["VerifiableCredential", "https://example.org/#T"]),
    "type mapped to a URL": minimal(
        **{"@context": [V2, {"T": "https://example.org/#T"}]},
        type=["VerifiableCredential", "T"],
    ),
    "type order A": minimal(
        type=["VerifiableCredential", "https://example.org/#A", "https://example.org/#B"]
    ),
    "type order B": minimal(
        type=["https://example.org/#B", "VerifiableCredential", "https://example.org/#A"]
    ),
    "name a string": minimal(name="Example credential"),
    "name a language value": minimal(name=lang("Example credential")),
    "name with direction": minimal(name=lang("مثال", "ar", **{"@direction": "rtl"})),
    "name in several languages": minimal(
        name=[lang("Dog"), lang("Chien", "fr"), lang("Cane", "it")]
    ),
    "description a language value": minimal(description=lang("Described", "en-GB")),
    "issuer object with id, name and description": minimal(
        issuer={"id": ISSUER, "name": lang("Issuer"), "description": [lang("A"), lang("B", "de")]}
    ),
    "subject id and claims": with_examples(credentialSubject={"id": "did:example:s", "age": 3}),
    "several subjects": with_examples(
        credentialSubject=[{"id": "did:example:a"}, {"id": "did:example:b", "x": 1}]
    ),
    "validFrom with fractional seconds": minimal(validFrom="2023-02-26T00:36:23.123Z"),
    "validFrom with an offset": minimal(validFrom="2023-02-26T00:36:23+01:00"),
    "validUntil after validFrom": minimal(
        validFrom="2020-01-01T00:00:00Z", validUntil="2030-01-01T00:00:00.5-05:00"
    ),
    "validFrom equals validUntil": minimal(
        validFrom="2030-01-01T00:00:00Z", validUntil="2030-01-01T01:00:00+01:00"
    ),
    "credentialStatus without id": minimal(
        credentialStatus={"type": "https://example.org/#StatusList"}
    ),
    "termsOfUse with id": minimal(
        termsOfUse={"id": "https://t.example/policy/1", "type": "https://example.org/#Policy"}
    ),
    "several evidence objects": minimal(
        evidence=[
            {"type": "https://example.org/#Ev"},
            {"id": "urn:uuid:1", "type": "https://example.org/#X"},
        ]
    ),
    "refreshService without id": minimal(refreshService={"type": "https://example.org/#Refresh"}),
    "several schemas": minimal(
        credentialSchema=[
            {"id": "https://s.example/a.json", "type": "JsonSchema"},
            {"id": "https://s.example/b.json", "type": "JsonSchema"},
        ]
    ),
    "relatedResource with both digests": minimal(
        relatedResource=[
            {"id": "https://r.example/a", "digestSRI": SHA384, "mediaType": "text/plain"},
            {"id": "https://r.example/b", "digestMultibase": SHA256_MULTIBASE},
        ]
    ),
}


@pytest.mark.parametrize("name", sorted(POSITIVE))
def test_issuer_accepts(name):
    prepared = prepare(POSITIVE[name], ISSUER, IssueOptions())
    assert prepared == POSITIVE[name]  # nothing added, nothing dropped


def test_issuer_object_without_id_is_named_precisely():
    exc = refused(minimal(issuer={"name": "No id"}))
    assert isinstance(exc, CredentialMalformed)
    assert exc.path == "issuer.id"


def test_language_object_extra_member_names_the_member():
    exc = refused(minimal(name=lang("Example", url="x:y")))
    assert isinstance(exc, CredentialMalformed)
    assert "url" in exc.rule and exc.path == "name"


def test_the_base_context_alone_defines_no_custom_claims():
    # The published v2 context has no @vocab: a claim needs a context that defines it (the
    # examples context, the battery context, ...), or it would be dropped from the signed data.
    refused(minimal(credentialSubject={"id": "did:example:s", "age": 3}))
    prepare(with_examples(credentialSubject={"age": 3}), ISSUER, IssueOptions())


def test_verifier_reads_times_without_offset_as_utc_but_the_issuer_refuses_them():
    cred = minimal(validFrom="2024-01-01T00:00:00", validUntil="2099-01-01T00:00:00")
    assert check_credential(cred, lenient_time=True) == "2.0"
    with pytest.raises(CredentialMalformed):
        check_credential(cred)


@pytest.mark.parametrize(
    ("extra", "path", "rule"),
    [
        ({"id": "urn:uuid:7f5f6a2e-0b4e-4f52-9a7e-5a1c1d0e9b11\n"}, "id", "must be a URL"),
        ({"name": lang("Example", "en\n")}, "name.@language", "BCP 47"),
        (
            {"relatedResource": [{"id": "https://r.example/a\n", "digestSRI": SHA384}]},
            "relatedResource[0].id",
            "must be a URL",
        ),
        (
            {"relatedResource": [{"id": "https://r.example/a", "digestMultibase": "uAbc\n"}]},
            "relatedResource[0].digestMultibase",
            "multibase",
        ),
        (
            {"relatedResource": [{"id": "https://r.example/a", "digestMultibase": "z2Dr\n"}]},
            "relatedResource[0].digestMultibase",
            "multibase",
        ),
        ({"validFrom": "2024-01-01T00:00:00Z\n"}, "validFrom", "is not an XML Schema dateTime"),
        (
            {"validUntil": "2099-01-01T00:00:00+01:00\n"},
            "validUntil",
            "is not an XML Schema dateTime",
        ),
    ],
)
def test_a_trailing_newline_is_refused(extra, path, rule):
    # `$` in a Python regex also matches before a final "\n": the checks take the whole text.
    with pytest.raises(CredentialMalformed) as caught:
        check_credential(minimal(**extra))
    assert caught.value.path == path
    assert rule in caught.value.rule


def test_a_date_time_with_a_trailing_newline_is_not_one():
    assert has_timezone("2024-01-01T00:00:00Z")
    assert not has_timezone("2024-01-01T00:00:00Z\n")
    with pytest.raises(InvalidDateTime, match="is not an XML Schema dateTime"):
        parse_datetime("2024-01-01T00:00:00+00:00\n")
