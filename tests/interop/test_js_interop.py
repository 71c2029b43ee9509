"""Data Integrity cross-checked with Digital Bazaar's reference JavaScript implementation
(@digitalbazaar/vc + data-integrity + eddsa-rdfc-2022 / eddsa-jcs-2022 cryptosuites): what we sign
verifies there, what it signs verifies here, and each side rejects the other's tampered copy."""

from __future__ import annotations

import copy

import pytest

from proofs.dataintegrity import CRYPTOSUITES, create_proof, verify_proof
from proofs.didkey import did_key_document
from proofs.didkey import resolve_did_key_verification_method as resolve
from proofs.errors import InvalidSignature

V2 = "https://www.w3.org/ns/credentials/v2"
EXAMPLES_V2 = "https://www.w3.org/ns/credentials/examples/v2"


@pytest.fixture(params=CRYPTOSUITES)
def cryptosuite(request) -> str:
    return request.param


def battery_credential(issuer: str) -> dict:
    return {
        "@context": [V2, EXAMPLES_V2],
        "id": "urn:uuid:8f7a1c2e-3b4d-4e5f-9a0b-1c2d3e4f5a6b",
        "type": ["VerifiableCredential", "BatteryPassportCredential"],
        "issuer": issuer,
        "validFrom": "2025-03-01T00:00:00Z",
        "credentialSubject": {
            "id": "https://id.example/01/09506000134352/21/8812",
            "stateOfHealth": 97,
            "chemistry": {"name": "NMC811", "nickelShare": 0.8},
            "note": "tab\t newline\n control\x01 unicode é",
        },
    }


def rich_credential(issuer: str) -> dict:
    """Lists, doubles, language and direction strings, a JSON literal, nested blank nodes."""
    return {
        "@context": [
            V2,
            {
                "@vocab": "https://battery.example/vocab#",
                "cells": {"@container": "@list"},
                "label": {"@language": "de"},
                "title": {"@language": "ar", "@direction": "rtl"},
                "raw": {"@type": "@json"},
            },
        ],
        "type": ["VerifiableCredential", "BatteryPassportCredential"],
        "issuer": issuer,
        "validFrom": "2025-03-01T00:00:00Z",
        "credentialSubject": {
            "id": "did:example:battery",
            "capacity": 97.5,
            "huge": 1e22,
            "cells": [3, 1, 2],
            "label": "Akku",
            "title": "بطارية",
            "raw": {"b": 1, "a": [1.5, "x"]},
            "parts": [{"name": "cathode"}, {"name": "anode"}],
        },
    }


def _key(signer) -> dict:
    return {
        "id": signer.vm,
        "controller": signer.did,
        "publicKeyMultibase": signer.key.public_multibase,
        "secretKeyMultibase": signer.key.private_multibase,
    }


def test_ours_verify_in_js(js_reference, signer, cryptosuite):
    ours = create_proof(
        battery_credential(signer.did), signer.key, signer.vm, cryptosuite=cryptosuite
    )
    tampered = copy.deepcopy(ours)
    tampered["credentialSubject"]["stateOfHealth"] = 12
    good, bad = js_reference(
        [
            {"op": "verify", "cryptosuite": cryptosuite, "credential": ours},
            {"op": "verify", "cryptosuite": cryptosuite, "credential": tampered},
        ],
        {signer.did: did_key_document(signer.did)},
    )
    assert good == {"verified": True, "errors": []}
    assert bad["verified"] is False and bad["errors"]


def test_js_signed_verifies_here(js_reference, signer, cryptosuite):
    [theirs] = js_reference(
        [
            {
                "op": "issue",
                "cryptosuite": cryptosuite,
                "credential": battery_credential(signer.did),
                "key": _key(signer),
                "date": "2025-03-01T12:00:00Z",
            }
        ],
        {signer.did: did_key_document(signer.did)},
    )
    assert theirs["proof"]["cryptosuite"] == cryptosuite, theirs
    [result] = verify_proof(theirs, resolve)
    assert result.controller == signer.did
    # and the proof is the one we would have made: same options, same signature
    ours = create_proof(
        battery_credential(signer.did),
        signer.key,
        signer.vm,
        cryptosuite=cryptosuite,
        created=theirs["proof"]["created"],
    )
    assert ours["proof"]["proofValue"] == theirs["proof"]["proofValue"]
    theirs["credentialSubject"]["chemistry"]["name"] = "LFP"
    with pytest.raises(InvalidSignature):
        verify_proof(theirs, resolve)


def test_rich_json_ld_both_ways(js_reference, signer):
    """eddsa-rdfc-2022 on literals where canonical forms easily differ between implementations."""
    cryptosuite = "eddsa-rdfc-2022"
    document = rich_credential(signer.did)
    ours = create_proof(document, signer.key, signer.vm, cryptosuite=cryptosuite)
    verdict, theirs = js_reference(
        [
            {"op": "verify", "cryptosuite": cryptosuite, "credential": ours},
            {
                "op": "issue",
                "cryptosuite": cryptosuite,
                "credential": document,
                "key": _key(signer),
            },
        ],
        {signer.did: did_key_document(signer.did)},
    )
    assert verdict == {"verified": True, "errors": []}
    assert verify_proof(theirs, resolve)[0].cryptosuite == cryptosuite


def test_both_refuse_undefined_terms(js_reference, signer):
    document = battery_credential(signer.did)
    document["@context"] = [V2]  # stateOfHealth & co. are now defined by nothing
    [theirs] = js_reference(
        [
            {
                "op": "issue",
                "cryptosuite": "eddsa-rdfc-2022",
                "credential": document,
                "key": _key(signer),
            }
        ],
        {signer.did: did_key_document(signer.did)},
    )
    assert "exception" in theirs and "safe mode" in theirs["exception"].lower(), theirs


def _modules(modules: int, cells: int) -> dict:
    """Look-alike objects without ids: modules that each hold look-alike cells."""
    return {
        "id": "did:example:b",
        "modules": [{"kind": "m", "cells": [{"kind": "c"}] * cells}] * modules,
    }


def test_blank_node_work_limit_matches_the_reference(js_reference, signer):
    """Documents whose look-alike blank nodes exceed rdf-canonize's work limit are refused by
    both implementations, and only those."""
    from proofs.canonical import rdfc
    from proofs.errors import MalformedDocument

    subjects = {
        "look-alike leaves of distinct parents": {
            "id": "did:example:b",
            "materials": [{"name": f"m{i}", "origin": {"country": "DE"}} for i in range(8)],
        },
        "2 modules x 1 cell": {
            "id": "did:example:b",
            "modules": [{"kind": "m", "cells": [{"kind": "c"}]}] * 2,
        },
        "2 modules x 2 cells": {
            "id": "did:example:b",
            "modules": [{"kind": "m", "cells": [{"kind": "c"}] * 2}] * 2,
        },
        "2 modules x 4 cells": {
            "id": "did:example:b",
            "modules": [{"kind": "m", "cells": [{"kind": "c"}] * 4}] * 2,
        },
        "3 nested pairs": {"id": "did:example:b", "a": [{"b": {"c": 1}}] * 3},
        "2 equal subjects": [{"kind": "x"}, {"kind": "x"}],
    }
    documents = {
        name: {
            "@context": [V2, EXAMPLES_V2],
            "type": ["VerifiableCredential"],
            "issuer": signer.did,
            "validFrom": "2025-03-01T00:00:00Z",
            "credentialSubject": subject,
        }
        for name, subject in subjects.items()
    }
    results = js_reference(
        [
            {
                "op": "issue",
                "cryptosuite": "eddsa-rdfc-2022",
                "credential": doc,
                "key": _key(signer),
            }
            for doc in documents.values()
        ],
        {signer.did: did_key_document(signer.did)},
    )
    verdicts = {}
    for (name, document), theirs in zip(documents.items(), results, strict=True):
        try:
            rdfc(document)
            ours = True
        except MalformedDocument:
            ours = False
        verdicts[name] = (ours, "proof" in theirs)
        if not verdicts[name][1]:
            assert "Maximum deep iterations exceeded" in theirs["exception"]
    assert all(ours == theirs for ours, theirs in verdicts.values()), verdicts
    assert verdicts["2 modules x 2 cells"] == (False, False)
    assert verdicts["look-alike leaves of distinct parents"] == (True, True)
