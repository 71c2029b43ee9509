"""What the resolver's routers need of the running service, as a `Protocol`:
`service.runtime.Runtime` implements it and the app hands it in (`infra.app.app_runtime`), so
that the routers do not import `service` (nor the issuer or the verifier, which sit above the
resolver: their data come through `resolver.sources.PassportSource`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from sqlalchemy import Engine
from sqlmodel import Session

# the calling operator's DID (a FastAPI dependency; the runtime authenticates the token)
from infra.app import operator_did
from resolver.dids import DidResolver
from resolver.sources import PassportSource

__all__ = ["ResolverRuntime", "operator_did"]


class _Settings(Protocol):
    @property
    def public_url(self) -> str: ...

    @property
    def backup_url(self) -> str | None: ...

    @property
    def resolver_view_max_age_s(self) -> float: ...


class ResolverRuntime(Protocol):
    """The running service, as the resolver's routers (`api`, and `service.scans` through
    `api.stored_scan`) use it."""

    @property
    def settings(self) -> _Settings: ...

    @property
    def engine(self) -> Engine: ...

    @property
    def passports(self) -> PassportSource: ...

    def resolver(self, session: Session, *, read_once: bool = False) -> DidResolver: ...

    def document_facts(self, session: Session, battery_id: str) -> dict[str, dict]: ...

    def related_resource_matches(self, session: Session) -> Callable[[dict], bool | None]: ...

    def operator_did(self, session: Session, token: str | None) -> str: ...
