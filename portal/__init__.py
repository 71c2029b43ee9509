"""Server-rendered pages for people: the company portal (`/portal`), the authority portal
(`/authority`) and the dashboards (`/dashboards`). No script runs on any page; the pages reach
the issuer, verifier and resolver through their public functions (issuer.views and the like).

Public (routers the service mounts): `authority`, `company`, `dashboards`, `pages`,
`pipeline_pages`; `ports`: `PortalRuntime`, what the pages need of the running service (a
Protocol). Internal: `areas` (the signed-in page frame and signing out, shared by both portals),
`charts`, `errors`, `federation` (the search over peer instances), `figures`, `flags`, `forms`,
`peer_trust` (lasting trust between instances for that search), `pipeline_issuing` (a fixed
quarantined record issued at once), `render`, `sessions`, `tables`.
"""

__all__ = [
    "authority",
    "company",
    "dashboards",
    "pages",
    "pipeline_pages",
    "ports",
]
