"""How things are found: from the QR code on a battery to whoever holds its passport now.

- `resolver.digital_link`: GS1 Digital Link item paths (`/01/{gtin}[/22/..][/10/..]/21/{serial}`).
- `resolver.registry` (+ `tables`): battery -> DID, holder, and the instance serving it now;
  re-pointing, operators leaving the market (`hand_over`), `placement`.
- `resolver.battery_dids`: battery `did:web` documents; `resolver.dids` / `didweb`: DID resolution
  (did:key, own did:web, allowed foreign hosts); `resolver.resolution`: DID Resolution results.
- `resolver.linktypes`, `linkset`, `battery_links`: link types and their sources, RFC 9264
  linksets and `Link` headers, a battery's links.
- `resolver.negotiation`: `Accept` with q-values; `resolver.caching`: ETags.
- `resolver.qr`: QR codes (segno); `resolver.description`: `/.well-known/gs1resolver`.
- `resolver.page`, `page_values`, `verdict`, `templates/`: the consumer page.
- `resolver.views`: a battery's answers built on write and kept (linkset, passport JSON, page);
  `resolver.stored_reads`: the one prepared query scans on PostgreSQL read their stored answers
  with, in the event loop, shared by the scans that arrive together (`api.stored_scan_async`).
- `resolver.sources`: the `PassportSource` protocol the service implements with the issuer's views
  and the full verification; `resolver.ports`: `ResolverRuntime`, what the routes need of the
  running service (a Protocol); `resolver.api`: the routes.

Nothing here signs or verifies: credentials and their checks come through `PassportSource`.

`resolver.registry.responsible_operator` is the one query for the operator responsible for a
battery now (the issuer and the verifier ask it); `held_here` lists what an operator holds here.

Internal (used only inside `resolver`): `battery_links`, `caching`, `description`,
`digital_link`, `linkset`, `linktypes`, `negotiation`, `page_values`, `resolution`,
`stored_reads`, `templates/`.
"""

__all__ = [
    "api",
    "battery_dids",
    "dids",
    "didweb",
    "errors",
    "page",
    "ports",
    "qr",
    "registry",
    "sources",
    "tables",
    "verdict",
    "views",
]
