"""Composing the EU registry sync from the settings (used by the service and `dbp registry`)."""

from __future__ import annotations

import httpx
from sqlalchemy import Engine

from issuer.dppregistry.client import CirpassRegistryClient
from issuer.dppregistry.sync import RegistrySync, SyncConfig
from service.settings import Settings


def sync_config(settings: Settings) -> SyncConfig:
    return SyncConfig(
        backup_url=settings.backup_url, commodity_code=settings.registry_commodity_code
    )


def make_sync(settings: Settings, engine: Engine, **overrides) -> RegistrySync | None:
    """The sync, or None when no registry is configured."""
    if not settings.registry_url:
        return None
    token = settings.registry_token.get_secret_value() if settings.registry_token else None
    # no proxies from the environment; the registry's address is the operator's own setting
    http = httpx.Client(trust_env=False, limits=httpx.Limits(max_keepalive_connections=16))
    client = CirpassRegistryClient(
        settings.registry_url, token, timeout_s=settings.registry_timeout_s, http=http
    )
    config = sync_config(settings)
    if overrides:
        from dataclasses import replace

        config = replace(config, **overrides)
    return RegistrySync(engine, client, config, poll_s=settings.registry_poll_s)
