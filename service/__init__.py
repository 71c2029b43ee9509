"""The composition root: settings, the database engine and migrations, the FastAPI app with every
package's router, roles, health and metrics, the `dbp` command. It holds no business rules: the
workflows live in their packages (`issuer.instance`, `issuer.operator_exit`, the verifier's
`pipeline`) and `service` wires them together. Nothing imports `service` (the layer contracts in
`.importlinter`): routers get the runtime through their package's Protocol, command lines their
settings, engine and runtime through `infra.cli` (`cli_services.Services`).

Public modules (for tests and tools; `bodies` and `deps` re-export what moved to `infra` and
`issuer.auth`): `bodies`, `db`, `deps`, `problems`, `registry`, `runtime`, `settings`.

Internal: `app`, `asgi`, `cli`, `cli_services`, `custody`, `demo`, `documents`, `health`, `logs`,
`metrics`, `migrations`, `observe`, `provision`, `roles`, `scans`, `settings_doc`,
`signer_server`.
"""

__all__ = ["bodies", "db", "deps", "problems", "registry", "runtime", "settings"]
