"""Registration of batteries in the EU Digital Product Passport registry (Art 77(10) of Regulation
(EU) 2023/1542; Implementing Regulation (EU) 2026/1778).

Issuing a battery's first passport, and archiving it, writes a row in `registry_entries` in the same
transaction (`outbox`); a worker (`sync`) later sends each entry through a `client.RegistryClient`
and keeps the registry's answer: its id and proof of registration, or its refusal. The entry fields
follow the CIRPASS-2 mock registry's metadata schema (`metadata.schema.json`).

Public modules (the composition root and the rest of `issuer` use them):

- `outbox`: the rows written in the issuing transaction (`issuer.passports`, `issuer.events`),
  their counts and states, re-queueing.
- `sync`: `RegistrySync`, the worker that sends due entries and settles them with the answer.
- `client`: `RegistryClient`, the registry's interface, and the CIRPASS-2 implementation.
- `api`: `GET /batteries/{id}/registry`, a battery's entries for its responsible operator.
- `cli`: `dbp registry` (status, sync, show, profile).

Internal (used only inside `issuer`): `tables` (registry profiles and entries; `issuer.tables`
imports it so that its migration sees it).
"""

__all__ = ["api", "cli", "client", "outbox", "sync"]
