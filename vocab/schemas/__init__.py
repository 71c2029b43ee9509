"""JSON Schemas for the tier credentials (VC JSON Schema: `credentialSchema: {"id": URL,
"type": "JsonSchema"}`), one file per tier, generated from the models and the catalogue by
`python -m vocab.schemas --write` and committed here. Lookups are offline.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any, Final

from vocab.catalogue import Tier
from vocab.errors import SchemaNotFound
from vocab.tiers import credential_type

SCHEMA_BASE_URL: Final = "https://w3id.org/dbp/schemas/v1"
# Where the service publishes the files: SCHEMA_PATH_PREFIX + "/" + file name.
SCHEMA_PATH_PREFIX: Final = "/dbp/schemas/v1"
SCHEMA_TYPE: Final = "JsonSchema"


def schema_file_name(tier: Tier) -> str:
    """`PublicBatteryPassportCredential` -> `public-battery-passport-credential.json`."""
    name = credential_type(tier)
    words = "".join("-" + c.lower() if c.isupper() else c for c in name).lstrip("-")
    return f"{words}.json"


def schema_url(tier: Tier) -> str:
    """The `credentialSchema.id` of `tier`'s credential."""
    return f"{SCHEMA_BASE_URL}/{schema_file_name(Tier(tier))}"


def credential_schema(tier: Tier) -> dict[str, str]:
    """The `credentialSchema` entry a tier credential carries."""
    return {"id": schema_url(tier), "type": SCHEMA_TYPE}


def schema_urls() -> list[str]:
    return [schema_url(tier) for tier in Tier]


@cache
def _published() -> dict[str, bytes]:
    files = resources.files(__name__)
    return {
        f"{SCHEMA_BASE_URL}/{entry.name}": entry.read_bytes()
        for entry in files.iterdir()
        if entry.name.endswith(".json")
    }


def schema_bytes(url: str) -> bytes:
    """The committed schema file published at `url`, byte for byte; `SchemaNotFound` otherwise."""
    try:
        return _published()[url]
    except KeyError:
        raise SchemaNotFound(url) from None


def schema_for(url: str) -> dict[str, Any]:
    """A fresh parsed copy of the schema published at `url`; `SchemaNotFound` otherwise."""
    return json.loads(schema_bytes(url))
