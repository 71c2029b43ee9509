"""Cross-cutting helpers every package may use: the one outbound-fetch function, the OpenAPI
documentation of responses, database pool guards. Imports only `vocab` and third-party
packages."""
