"""Server-rendered pages for people: the company portal (`/portal`), the authority portal
(`/authority`) and the dashboards (`/dashboards`). No script runs on any page; the pages reach
the issuer, verifier and resolver through their public functions (issuer.views and the like)."""
