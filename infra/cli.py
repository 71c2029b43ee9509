"""What a package's command line gets from the `dbp` command: the settings, a migrated database
engine and the running service, in a `CliServices` object that `service/cli.py` hands in as
the root command context's `obj` (each command takes its `typer.Context` and asks
`cli_services(ctx)`). So no package's command line imports `service` (the layer contracts
forbid it), and each takes only what it uses."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import Engine

__all__ = ["CliServices", "cli_services"]


class CliServices(Protocol):
    """What the `dbp` command hands its sub-commands (`service.cli.Services` in dbp)."""

    def settings(self) -> Any:
        """The service's settings (`service.settings.Settings`), read from the environment once
        per command."""
        ...

    def engine(self) -> Engine:
        """A new engine on the configured database, its schema migrated; the caller disposes
        of it."""
        ...

    def runtime(self) -> Any:
        """The running service (`service.runtime.Runtime`) started on the settings; the caller
        closes it."""
        ...


def cli_services(ctx: Any) -> Any:
    """The services the `dbp` command put in the root of `ctx` (a command's `typer.Context`),
    typed by the caller: `CliServices` or a `Protocol` extending it."""
    services = ctx.find_root().obj
    if services is None:
        raise RuntimeError("this command runs under `dbp` (service.cli), which hands in services")
    return services
