"""The holder's side: local keys and credentials, presentations, restricted-data requests.

- `store`: the encrypted wallet file (scrypt + AES-256-GCM, atomic writes).
- `identity`: the Ed25519 key and its DID (did:key, or a did:web hosted by a dbp instance).
- `credentials`: reading imports (VC, arrays, presentations, vc+jwt), naming and summing up.
- `presenting`: signed presentations (Data Integrity eddsa-rdfc-2022 or vp+jwt).
- `net`, `dids`, `verify`: HTTP under the wallet's rules, DID resolution, local verification.
- `requesting`: `dbp wallet request` (linkset, challenge, presentation, verified tiers).
- `cli`: the `dbp wallet` commands.

It talks to services over HTTP only and imports nothing but `vocab` and `proofs` of ours.

Public: `cli` (the `dbp` command mounts it). Internal (used only inside `wallet`): every other
module above. Verification is the shared core (`proofs.verification`); `verify` adapts it to the
wallet's DID resolution and HTTP.
"""

__all__ = [
    "cli",
]
