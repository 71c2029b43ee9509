"""Integrity on chain: a credential existed, unchanged, at a point in time.

Issuing a credential queues its leaf (`outbox.enqueue`, same database transaction); the worker
closes batches of leaves into a Merkle tree and puts the root on an Ethereum chain with one
transaction; each credential keeps its inclusion proof; anyone can recompute leaf, proof and root
from the credential and a receipt and ask the chain when that root was anchored.

- `contracts/`: `PassportAnchor.sol`, its solc-js build script and the committed artifact.
- `merkle`: SHA-256 sorted-pair trees with leaf/node domain separation; proofs.
- `leaves`: what a leaf hashes (JCS of a Data Integrity credential, the compact JWS of vc+jwt).
- `tables`, `migrations/`: outbox, batches, transactions, sealed accounts, cursors, leases.
- `outbox`: `enqueue` / `enqueue_many` in the caller's transaction.
- `chain`: the web3 code path over an embedded EVM (eth-tester) or any JSON-RPC node (anvil).
- `runtime`: `AnchorRuntime`, the chain opened lazily (the embedded one rebuilt from the database).
- `worker`: close, send, confirm, record; resumes after crashes without double anchoring.
- `listener`: follows `Anchored` events at a safe depth, marks batches confirmed, webhook.
- `receipts`: the receipt `GET /anchors/{credential-id}` returns; `verify`: the verifier's check.
- `api`, `cli`: the HTTP route and `dbp anchor worker|listen|status|deploy|import-key|receipt`.

The consumer page gets the anchor check with everything else from `Runtime.verify_credential`
(check `anchor`; its detail names transaction, block and time). To show the anchor itself, call
`anchor.verify.anchor_report(session, runtime.anchor, credential)`: an `AnchorReport` with
`status` (`anchored`, `pending`, `unknown`, `unavailable`, `mismatch`), a `detail` sentence,
`chain` (transaction, block, time, confirmations) and the `receipt` (what `GET /anchors/{id}`
returns, for a "check it yourself" link).

Nothing here blocks issuance on the chain. web3 and eth-account are imported lazily (1.5 s) and
through `ethlibs`, which keeps them from changing the interpreter's recursion limit.

`runtime.record_deployment` is the one place a contract deployment is recorded (the embedded
chain's first start and `dbp anchor deploy` both use it).

Public: `accounts`, `api`, `chain`, `cli`, `errors`, `outbox`, `runtime`, `tables`, `verify`.
Internal (used only inside `anchor`): `ethlibs`, `leases`, `leaves`, `listener`, `merkle`,
`receipts`, `worker`.
"""

__all__ = [
    "accounts",
    "api",
    "chain",
    "cli",
    "errors",
    "outbox",
    "runtime",
    "tables",
    "verify",
]
