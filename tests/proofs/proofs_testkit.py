"""Test data for the proofs tests: the W3C vectors (copied into `vectors/`), a JSON-LD loader that
also serves the citizenship context of the `employ/` vector, and a sample battery credential.

A plain module (not conftest) so test modules can import it: pytest puts this directory on
sys.path because it has no __init__.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from proofs.didkey import did_key, did_key_verification_method_id
from proofs.keys import Ed25519Key
from vocab.loader import document_loader

VECTORS = Path(__file__).parent / "vectors"
CITIZENSHIP_V4RC1 = "https://w3id.org/citizenship/v4rc1"
V2 = "https://www.w3.org/ns/credentials/v2"
EXAMPLES_V2 = "https://www.w3.org/ns/credentials/examples/v2"


def read_vector(relative: str) -> Any:
    path = VECTORS / relative
    text = path.read_text("utf-8")
    return json.loads(text) if path.suffix in (".json", ".jsonld") else text


def vector_loader(url: str, options: dict | None = None) -> dict:
    """The service's offline loader plus the one extra context the `employ/` vector needs."""
    if url == CITIZENSHIP_V4RC1:
        return {
            "contextUrl": None,
            "documentUrl": url,
            "document": read_vector("contexts/citizenship-v4rc1.jsonld"),
            "tag": "static",
        }
    return document_loader(url, options)


class Signer:
    """A fresh did:key identity."""

    def __init__(self) -> None:
        self.key = Ed25519Key.generate()
        self.did = did_key(self.key.public)
        self.vm = did_key_verification_method_id(self.did)


def credential(issuer: str, **extra: Any) -> dict[str, Any]:
    """A small VC 2.0 battery credential whose terms the examples context defines."""
    doc: dict[str, Any] = {
        "@context": [V2, EXAMPLES_V2],
        "id": "urn:uuid:0f0c3b4e-6a0b-4d1e-9a59-1c5e8d2b7a10",
        "type": ["VerifiableCredential", "BatteryPassportCredential"],
        "issuer": issuer,
        "validFrom": "2025-01-01T00:00:00Z",
        "credentialSubject": {
            "id": "https://id.example/01/09506000134352/21/8812",
            "stateOfHealth": 97,
            "chemistry": {"name": "NMC811", "cathode": {"nickelShare": 0.8}},
        },
    }
    doc.update(extra)
    return doc
