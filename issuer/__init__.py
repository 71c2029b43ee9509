"""Issuing: operators and their keys, batteries, tiered passports, events, status lists, grants,
transfers between instances, the credential store and the read views the others use.

Public modules (other packages and the composition root use them):

- `operators`: operators, their keys (sealed or in a token) and tokens; `auth`: the calling
  operator from the request's bearer token (a FastAPI dependency); `holders`,
  `holders_api`: holder DIDs hosted for wallets.
- `batteries`: registering batteries; `responsible_did` (the routing registry's answer,
  `resolver.registry.responsible_operator`, with the registering operator as fallback).
- `passports`, `events`, `newlife`, `lifecycle`: passports per tier and their versions, event
  credentials, next lives, the battery status state machine.
- `bulk`, `worker`: bulk jobs and the worker that signs them.
- `statuslists`: Bitstring Status Lists; `transfers`, `transfer_api`: hand-overs.
- `instance`: `sign_as_instance`, issuing as this instance (role credentials it accredits).
- `operator_exit`: `remove_operator`, an operator leaving the market (`dbp operator remove`).
- `views`, `listing`: read-only views for the resolver, verifier and portals.
- `ports`: `IssuerRuntime`, what the issuer's routers need of the running service (a Protocol).
- `transactions`, `config`, `errors`, `tables`, `grant_cli`, `api`.
- `documents/` (battery documents) and `dppregistry/` (the EU registry sync): sub-packages.

Internal (used only inside `issuer`): `credentials` (signing a credential for an operator),
`store` (the credential store), `grants`, `operator_identity`, `peers` (calls to other instances,
through `infra.fetch`), `documents.tables`, `dppregistry.outbox`, `dppregistry.tables`.
"""

__all__ = [
    "api",
    "auth",
    "batteries",
    "bulk",
    "config",
    "documents",
    "dppregistry",
    "errors",
    "events",
    "grant_cli",
    "holders",
    "holders_api",
    "instance",
    "lifecycle",
    "listing",
    "newlife",
    "operator_exit",
    "operators",
    "passports",
    "ports",
    "statuslists",
    "tables",
    "transactions",
    "transfer_api",
    "transfers",
    "views",
    "worker",
]
