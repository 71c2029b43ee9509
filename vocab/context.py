"""The battery passport JSON-LD context: its URL, its vocabulary namespace and the type names it
defines. The context file itself is `vocab/contexts/battery-v1.jsonld` (see BATTERY_CONTEXT.md)."""

from __future__ import annotations

from typing import Final

BATTERY_CONTEXT_URL: Final = "https://w3id.org/dbp/v1"
BATTERY_VOCAB: Final = "https://w3id.org/dbp/vocab#"
# Where the service publishes the context file; w3id.org redirects BATTERY_CONTEXT_URL here.
BATTERY_CONTEXT_PATH: Final = "/dbp/v1"

VC_CONTEXT_URL: Final = "https://www.w3.org/ns/credentials/v2"
# The order a dbp credential names its contexts in: VC 2.0 first (required by the VC data model),
# then ours, whose protected terms never redefine a VC term.
CREDENTIAL_CONTEXTS: Final = (VC_CONTEXT_URL, BATTERY_CONTEXT_URL)

# Credential types. Every passport tier credential also carries BATTERY_PASSPORT_CREDENTIAL.
BATTERY_PASSPORT_CREDENTIAL: Final = "BatteryPassportCredential"
PUBLIC_PASSPORT_CREDENTIAL: Final = "PublicBatteryPassportCredential"
LEGITIMATE_INTEREST_PASSPORT_CREDENTIAL: Final = "LegitimateInterestBatteryPassportCredential"
COMMISSION_PASSPORT_CREDENTIAL: Final = "CommissionBatteryPassportCredential"
AUTHORITY_PASSPORT_CREDENTIAL: Final = "AuthorityBatteryPassportCredential"
BATTERY_EVENT_CREDENTIAL: Final = "BatteryEventCredential"
BATTERY_TRANSFER_CREDENTIAL: Final = "BatteryTransferCredential"
LEGITIMATE_INTEREST_CREDENTIAL: Final = "LegitimateInterestCredential"
AUTHORITY_CREDENTIAL: Final = "AuthorityCredential"
ACCESS_GRANT_CREDENTIAL: Final = "AccessGrantCredential"

TIER_CREDENTIAL_TYPES: Final = (
    PUBLIC_PASSPORT_CREDENTIAL,
    LEGITIMATE_INTEREST_PASSPORT_CREDENTIAL,
    COMMISSION_PASSPORT_CREDENTIAL,
    AUTHORITY_PASSPORT_CREDENTIAL,
)
CREDENTIAL_TYPES: Final = (
    BATTERY_PASSPORT_CREDENTIAL,
    *TIER_CREDENTIAL_TYPES,
    BATTERY_EVENT_CREDENTIAL,
    BATTERY_TRANSFER_CREDENTIAL,
    LEGITIMATE_INTEREST_CREDENTIAL,
    AUTHORITY_CREDENTIAL,
    ACCESS_GRANT_CREDENTIAL,
)


def vocab_iri(term: str) -> str:
    """The IRI a dbp term expands to."""
    return BATTERY_VOCAB + term
