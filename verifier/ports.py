"""What the verifier's routers need of the running service, as a `Protocol`:
`service.runtime.Runtime` implements it and the app hands it in (`infra.app.app_runtime`), so
that the routers do not import `service`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from sqlmodel import Session

# the calling operator's DID (a FastAPI dependency, shared with the resolver's routes)
from infra.app import operator_did
from infra.ratelimit import RateLimit
from verifier.passports import PassportStore
from verifier.policy import AccessPolicy
from verifier.presentations import VerifyPresentation
from verifier.result import Result
from verifier.trust import TrustRegistry

__all__ = ["VerifierRuntime", "VerifierSettings", "operator_did"]


class VerifierSettings(Protocol):
    @property
    def public_url(self) -> str: ...

    @property
    def public_host(self) -> str: ...

    @property
    def did_web_base(self) -> str: ...

    @property
    def challenge_ttl_s(self) -> int: ...

    @property
    def allowed_challenge_domains(self) -> Any: ...


class _Trust(Protocol):
    def current(self) -> TrustRegistry: ...


class VerifierRuntime(Protocol):
    """The running service, as the verifier's routers use it."""

    @property
    def settings(self) -> VerifierSettings: ...

    @property
    def passports(self) -> PassportStore: ...

    @property
    def policy(self) -> AccessPolicy: ...

    @property
    def trust(self) -> _Trust: ...

    @property
    def challenge_limit(self) -> RateLimit: ...

    def presentation_verifier(self) -> VerifyPresentation: ...

    def verify_credential(self, session: Session, credential: object, **options: Any) -> Result: ...

    def verify_presentation(
        self, session: Session, presentation: object, *, challenge: str | None, domain: str | None,
        **options: Any,
    ) -> Result: ...  # fmt: skip

    def signed_document_links(
        self, session: Session, item_uri: str, tiers: Iterable[str], reader: str
    ) -> list[dict]: ...

    def operator_did(self, session: Session, token: str | None) -> str: ...
