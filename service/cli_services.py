"""The services the `dbp` command hands the packages' command lines (`dbp anchor`, `audit`,
`trust`, `grant`, `registry`): `service/cli.py` puts one `Services` in the root context's `obj`
and the commands take it with `infra.cli.cli_services`, so that they need not import `service`.
Everything is made on first use: `dbp --help` reads no settings and opens no database."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported when used: `dbp wallet` and `dbp --help` stay quick
    from sqlalchemy import Engine

    from issuer.dppregistry.sync import RegistrySync
    from service.settings import Settings

__all__ = ["Services"]


class Services:
    """Implements `infra.cli.CliServices` (and `issuer.dppregistry.cli`'s extension of it)."""

    def __init__(self) -> None:
        self._settings: Settings | None = None

    def settings(self) -> Settings:
        if self._settings is None:
            from service.settings import Settings

            self._settings = Settings()
        return self._settings

    def engine(self) -> Engine:
        from service.db import make_engine, migrate

        engine = make_engine(self.settings().resolved_database_url)
        migrate(engine)
        return engine

    def runtime(self):
        from service.runtime import Runtime

        return Runtime.start(self.settings())

    def registry_sync(self, engine: Engine) -> RegistrySync | None:
        """The EU registry sync on `engine`, or None when no registry is configured."""
        from service.registry import make_sync

        return make_sync(self.settings(), engine)
