"""Cross-cutting helpers every package may use. Imports only `vocab` and third-party packages.

Module map (all public):

- `fetch`: the one outbound-fetch function (allow list, public addresses, one DNS answer, size and
  time caps, no redirects); did:web, status lists, peers and the pipeline's HTTP sources use it.
- `responses`: `json_response`, the one JSON response helper of the routers (`json_bytes`: its
  bytes, for ETags), and
  `problem_response` (RFC 9457).
- `bodies`: request-body size limits and strict JSON bodies (`json_object`).
- `app`: `app_runtime` (the running service, typed by each package's own Protocol),
  `bearer_token` and `operator_did` (the calling operator, for routes outside the issuer).
- `cli`: `cli_services`, the settings, engine and runtime the `dbp` command hands the
  packages' command lines.
- `openapi`: OpenAPI documentation of responses and request bodies.
- `db`: database pool guards, `session_scope` (one transaction) and `db_session` (the
  per-request session dependency); `files`: private files; `headers`: security headers;
  `ratelimit`: per-client rate limits; `polling`: `PollingThread`, the background-round loop of
  the bulk worker, the EU registry sync and the backup pusher; `async_db`: the async psycopg
  pool QR scans read stored answers from on PostgreSQL (no thread, no SQLAlchemy).

The one bounded cache is `vocab.lru` (one layer lower, because `proofs` uses it too).
"""

__all__ = [
    "app",
    "async_db",
    "bodies",
    "cli",
    "db",
    "fetch",
    "files",
    "headers",
    "openapi",
    "polling",
    "ratelimit",
    "responses",
]
