"""Shared helpers for the conformance tests: small documents shaped like the requests the W3C and
CCG suites send (written here from the requirements, not copied from the suites' fixtures)."""

from __future__ import annotations

import copy
from typing import Any

from proofs.didkey import did_key, did_key_verification_method_id
from proofs.keys import Ed25519Key

V2 = "https://www.w3.org/ns/credentials/v2"
EXAMPLES = "https://www.w3.org/ns/credentials/examples/v2"
ISSUER = "did:example:issuer-7"


class Signer:
    """A fresh did:key identity."""

    def __init__(self) -> None:
        self.key = Ed25519Key.generate()
        self.did = did_key(self.key.public)
        self.vm = did_key_verification_method_id(self.did)


def minimal(issuer: Any = ISSUER, **extra: Any) -> dict[str, Any]:
    """The smallest VC 2.0 credential the suites start from, plus `extra` members."""
    doc: dict[str, Any] = {
        "@context": [V2],
        "type": ["VerifiableCredential"],
        "issuer": issuer,
        "credentialSubject": {"id": "did:example:subject-1"},
    }
    doc.update(copy.deepcopy(extra))
    return doc


def with_examples(issuer: Any = ISSUER, **extra: Any) -> dict[str, Any]:
    doc = minimal(issuer, **extra)
    doc["@context"] = [V2, EXAMPLES]
    return doc


def presentation(**extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"@context": [V2], "type": ["VerifiablePresentation"]}
    doc.update(copy.deepcopy(extra))
    return doc
