"""Verifying: credentials and presentations check by check, the trust registry and
accreditations, challenges, restricted-data release by role or grant, the hash-chained access log.

The verifier owns verification. A credential goes through the one verification core
(`proofs.verification`, shared with the wallet) and then the verifier's pipeline
(`pipeline.credential_checks`: related resources, schema, trust, status, anchor, in that order);
the composition root only hands in the resolver, the status-list fetcher, the anchor check, the
trust registry and our documents' bytes.

Public modules:

- `credentials`: `verify_credential`, `verify_presentation`; `result`: `Result`, `Check`.
- `pipeline`: the checks after the core and their order.
- `status`: `StatusListFetcher` (ours from the database, others through `infra.fetch`, cached)
  and `status_check`; `related`: the relatedResource check; `memo`: per-process memos.
- `trust`, `peer_registries`: the trust registry and peer registries.
- `access`, `policy`, `passports`, `presentations`, `challenges`, `audit`: restricted-data
  release and its log.
- `ports`: `VerifierRuntime`, what the verifier's routers need of the running service (a
  Protocol), and the `operator_did` dependency.
- `api`, `cli`, `errors`.

Internal (used only inside `verifier`): `authority` (the trust check; responsibility from
`resolver.registry`), `accreditation`, `entitlements`, `oversight`, `schemas`, `tables`.
"""

__all__ = [
    "access",
    "api",
    "audit",
    "challenges",
    "cli",
    "credentials",
    "errors",
    "memo",
    "passports",
    "peer_registries",
    "pipeline",
    "policy",
    "ports",
    "presentations",
    "related",
    "result",
    "status",
    "trust",
]
