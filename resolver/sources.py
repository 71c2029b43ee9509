"""What the resolver needs from the rest of the service, as protocols.

The resolver may not import the issuer or the verifier. The service hands it a `PassportSource`
(service/runtime.py implements it with issuer/views.py and the full credential verification),
and tests hand it a fake. Only attributes and methods the resolver uses are named here.
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlmodel import Session


class BatteryInfo(Protocol):
    """The issuer's view of a battery (issuer.views.BatteryView)."""

    id: str
    gtin: str
    serial: str
    item_uri: str
    did: str
    operator_did: str
    category: str | None
    status: str | None
    passport_id: str | None
    passport_version: int | None
    passport_state: str | None
    # Set while the battery's new operator has issued no passport since a hand-over: `to`, `at`,
    # `passport_id` (the passport handed over) and `by` (issuer.views.Handover).
    handover: Any


class CheckOutcome(Protocol):
    """One verification check (verifier.result.Check)."""

    name: str
    status: str  # "passed", "failed", "skipped" or "warning"
    detail: str
    code: str


class Verification(Protocol):
    """The outcome of verifying one credential (verifier.result.Result)."""

    checks: list[Any]  # of CheckOutcome

    @property
    def verified(self) -> bool: ...


class PassportSource(Protocol):
    def battery_by_id(self, session: Session, battery_id: str) -> BatteryInfo | None: ...

    def public_credentials(self, session: Session, battery_id: str) -> list[dict]:
        """Signed public-tier credentials of the battery's current passport."""
        ...

    def passport_history(self, session: Session, battery_id: str) -> list[dict]:
        """Passport versions and passport-level lifecycle events, safe to show anyone."""
        ...

    def operator_names(self, session: Session, dids: list[str]) -> dict[str, str]:
        """Names this service knows for operator DIDs (its own operators); others are left out."""
        ...

    def verify_credential(self, session: Session, credential: object) -> Verification:
        """Every check the service runs on a credential (proof, issuer, status list, anchor...)."""
        ...
