"""Registration of batteries in the EU Digital Product Passport registry (Art 77(10) of Regulation
(EU) 2023/1542; Implementing Regulation (EU) 2026/1778).

Issuing a battery's first passport, and archiving it, writes a row in `registry_entries` in the same
transaction (`outbox`); a worker (`sync`) later sends each entry through a `client.RegistryClient`
and keeps the registry's answer: its id and proof of registration, or its refusal. The entry fields
follow the CIRPASS-2 mock registry's metadata schema (`metadata.schema.json`).
"""
