"""The composition root: settings, the database engine and migrations, the FastAPI app with every
package's router, roles, health and metrics, the `dbp` command. It holds no business rules: the
workflows live in their packages (`issuer.instance`, `issuer.operator_exit`, the verifier's
`pipeline`) and `service` wires them together. Nothing imports `service` (the routers that still
do are known debt, listed in `.importlinter`).

Public modules (still imported by the routers and CLIs, as debt): `bodies`, `db`, `deps`,
`problems`, `registry`, `runtime`, `settings`.

Internal: `app`, `asgi`, `cli`, `custody`, `demo`, `documents`, `health`, `logs`, `metrics`,
`migrations`, `observe`, `provision`, `roles`, `settings_doc`, `signer_server`.
"""

__all__ = ["bodies", "db", "deps", "problems", "registry", "runtime", "settings"]
