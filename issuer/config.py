"""What issuing needs to know about the running service, handed in by `service` (the issuer does
not read settings itself)."""

from __future__ import annotations

from dataclasses import dataclass

from proofs.signer import Keystore


@dataclass(frozen=True)
class IssuerConfig:
    public_url: str  # DBP_PUBLIC_URL without a trailing slash
    did_web_base: str  # did:web:{host}[:path]
    # The operators' keys: the master key that seals them, or the key store (proofs.signer).
    master_key: bytes | Keystore
    # DBP_VC_API_STATUS: VC-API issuance adds status entries without being asked
    vc_api_status: bool = False

    def status_list_url(self, list_id: str) -> str:
        return f"{self.public_url}/status-lists/{list_id}"

    @property
    def status_list_prefix(self) -> str:
        return f"{self.public_url}/status-lists/"
