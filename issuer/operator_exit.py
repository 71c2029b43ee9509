"""An operator leaves the market (`dbp operator remove`): its token stops working, its DID
document stays so its credentials still verify, and its batteries keep resolving (Art 78(e)):
redirected to a successor instance, or served from the copy this instance keeps (backup).

The workflow lives here; the command (`service/cli.py`) only reads settings, opens the database
and prints the outcome."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from issuer import operators
from issuer.errors import IssuerError
from resolver import registry
from vocab.datetimes import utcnow

__all__ = ["ExitRefused", "OperatorExit", "remove_operator"]


class ExitRefused(IssuerError):
    """The operator cannot leave like this (not an operator, already removed, no destination)."""

    code = "operator-exit-refused"
    status = 409


@dataclass(frozen=True)
class OperatorExit:
    name: str
    did: str
    removed_at: datetime
    batteries: int  # how many batteries were handed over
    successor: str | None  # the successor instance's URL, None when served from here

    def as_json(self, backup: bool) -> dict:
        return {
            "name": self.name,
            "did": self.did,
            "removedAt": self.removed_at.isoformat(),
            "batteries": self.batteries,
            "successor": self.successor,
            "backup": bool(backup and self.batteries),
        }


def remove_operator(
    session: Session, name: str, *, own_url: str, successor: str | None, backup: bool
) -> OperatorExit:
    """Remove operator `name`; the batteries it holds here go to `successor` (a dbp instance's
    base URL) or, with `backup`, are served from the copy kept at `own_url`. Raises ExitRefused
    (and the registry's and operators' errors) without changing anything."""
    operator = operators.by_name(session, name)
    if operator.kind != "operator":
        raise ExitRefused(f"{name!r} is this service's own identity, not an operator")
    if operator.removed_at is not None:
        raise ExitRefused(
            f"operator {name!r} was already removed on {operator.removed_at:%Y-%m-%d}"
        )
    successor_url = registry.normalise_endpoint(successor, field="--successor", own_url=own_url)
    if successor and successor_url is None:
        raise ExitRefused("--successor names this instance; use --backup to keep serving here")
    held = registry.held_here(session, operator.did)
    routes = []
    if held:
        if successor_url is None and not backup:
            raise ExitRefused(
                f"operator {name!r} holds {len(held)} batteries here; say where their "
                "readers go: --successor URL or --backup"
            )
        routes = registry.hand_over(
            session,
            operator.did,
            successor=successor_url,
            backup_url=own_url if backup else None,
        )
    operator.removed_at = utcnow()
    session.add(operator)
    return OperatorExit(name, operator.did, operator.removed_at, len(routes), successor_url)
