"""What the portal's pages need of the running service, as a `Protocol`:
`service.runtime.Runtime` implements it and the app hands it in (`infra.app.app_runtime`), so
that the pages do not import `service`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import httpx
from sqlmodel import Session

from infra.ratelimit import RateLimit
from issuer.config import IssuerConfig
from verifier.policy import AccessPolicy
from verifier.presentations import VerifyPresentation
from verifier.result import Result

__all__ = ["PortalRuntime"]


class _Waker(Protocol):
    def wake(self) -> None: ...


class _Settings(Protocol):
    @property
    def public_url(self) -> str: ...

    @property
    def public_host(self) -> str: ...

    @property
    def challenge_ttl_s(self) -> int: ...

    @property
    def allowed_challenge_domains(self) -> frozenset[str]: ...

    @property
    def portal_session_minutes(self) -> int: ...

    @property
    def max_body_bytes(self) -> int: ...

    @property
    def max_bulk_body_bytes(self) -> int: ...

    @property
    def allowed_did_web_hosts(self) -> frozenset[str]: ...

    @property
    def authority_peer_urls(self) -> tuple[str, ...]: ...

    @property
    def authority_peer_token_map(self) -> dict[str, str]: ...

    @property
    def authority_peer_timeout_s(self) -> float: ...

    @property
    def pipeline_config(self) -> Path | None: ...

    @property
    def portal_pipeline_operators(self) -> str: ...


class PortalRuntime(Protocol):
    """The running service, as the company and authority portals and the pipeline pages use it."""

    @property
    def settings(self) -> _Settings: ...

    @property
    def issuer_config(self) -> IssuerConfig: ...

    @property
    def bulk_worker(self) -> _Waker | None: ...

    @property
    def http(self) -> httpx.Client: ...

    @property
    def policy(self) -> AccessPolicy: ...

    @property
    def challenge_limit(self) -> RateLimit: ...

    def presentation_verifier(self) -> VerifyPresentation: ...

    def verify_credential(self, session: Session, credential: object, **options: Any) -> Result: ...
