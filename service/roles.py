"""The roles of `dbp serve --role` and the background workers each runs; `service.app.ROUTERS`
assigns the routes.

Routers are assigned whole, per package, so a route a package adds to its router follows that
package's role without a change here.

Status lists (`GET /status-lists/{id}`) and operators' DID documents stay with the issuer: the
issuer writes them, and the verifier and the resolver of this deployment read this service's own
lists and DID documents from the database, never over HTTP; other parties fetch them through the
public URL, which the reverse proxy routes to the issuer. Anchor receipts (`GET /anchors/{id}`)
are evidence for verification and go with the verifier.

`backup` is not part of a primary deployment: another organisation runs it (`dbp serve --role
backup`, issue 19). It takes the snapshots the primary's issuer pushes (issuer/backup) and serves
the primary's public data read-only from them: resolution, battery and operator DID documents,
status lists, public documents. `all` does not include it.
"""

from __future__ import annotations

from typing import Final

ISSUER: Final = "issuer"
VERIFIER: Final = "verifier"
RESOLVER: Final = "resolver"
BACKUP: Final = "backup"
ALL: Final = "all"
# The roles of a primary deployment (docker-compose.yml, deploy/Caddyfile).
ROLES: Final = (ISSUER, VERIFIER, RESOLVER)


def serves(role: str, router_role: str) -> bool:
    return role == router_role or (role == ALL and router_role != BACKUP)


def runs_workers(role: str) -> bool:
    """The bulk worker (it issues) and the anchor worker thread (embedded chain) belong to the
    issuer; verifier and resolver copies stay stateless so any number of them can run."""
    return role in (ISSUER, ALL)
