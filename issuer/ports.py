"""What the issuer's routers need of the running service, as `Protocol`s: `service.runtime.Runtime`
implements them and the app hands it in (`infra.app.app_runtime`), so that the routers do not
import `service`."""

from __future__ import annotations

from typing import Protocol

import httpx
from sqlmodel import Session

from issuer.config import IssuerConfig
from issuer.documents.objectstore import ObjectStore
from proofs.dataintegrity import VerificationMethodResolver
from proofs.signer import Keystore
from resolver.didweb import DidWebPolicy

__all__ = ["IssuerRuntime", "IssuerSettings"]


class _Waker(Protocol):
    def wake(self) -> None: ...


class _Resolver(Protocol):
    @property
    def verification_method(self) -> VerificationMethodResolver: ...


class IssuerSettings(Protocol):
    @property
    def did_web_base(self) -> str: ...

    @property
    def public_url(self) -> str: ...

    @property
    def public_path(self) -> str: ...

    @property
    def document_max_bytes(self) -> int: ...


class IssuerRuntime(Protocol):
    """The running service, as the issuer's routers (`api`, `holders_api`, `transfer_api`,
    `documents.api`) use it."""

    @property
    def settings(self) -> IssuerSettings: ...

    @property
    def issuer_config(self) -> IssuerConfig: ...

    @property
    def master_key(self) -> bytes | Keystore: ...

    @property
    def bulk_worker(self) -> _Waker | None: ...

    @property
    def http(self) -> httpx.Client: ...

    @property
    def did_web_policy(self) -> DidWebPolicy: ...

    @property
    def document_link_key(self) -> bytes: ...

    def document_store(self) -> ObjectStore: ...

    def resolver(self, session: Session, *, read_once: bool = False) -> _Resolver: ...
