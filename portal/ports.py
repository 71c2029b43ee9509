"""What the portal's pages need of the running service, as a `Protocol`:
`service.runtime.Runtime` implements it and the app hands it in (`infra.app.app_runtime`), so
that the pages do not import `service`. The portal works through the issuer and the verifier,
so it needs what their routers need (`issuer.ports`, `verifier.ports`) and a few settings of
its own."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from issuer.ports import IssuerRuntime, IssuerSettings
from verifier.ports import VerifierRuntime, VerifierSettings

__all__ = ["PortalRuntime"]


class _Settings(IssuerSettings, VerifierSettings, Protocol):
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
    def authority_peer_instance_dids(self) -> frozenset[str]: ...

    @property
    def pipeline_config(self) -> Path | None: ...

    @property
    def portal_pipeline_operators(self) -> str: ...


class PortalRuntime(IssuerRuntime, VerifierRuntime, Protocol):
    """The running service, as the company and authority portals and the pipeline pages use it:
    the issuer's and the verifier's runtime, with the portal's settings."""

    @property
    def settings(self) -> _Settings: ...
