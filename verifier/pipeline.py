"""The verifier's check pipeline: which checks every credential goes through and in which order.

1. the verification core (`proofs.verification`, via `verifier.credentials`): envelope,
   `dataModel`, `proof`, `issuer`, `validity`;
2. then, on a credential whose proof and issuer did not fail, in this order: `relatedResource`
   (digests of linked documents), `schema` (the bundled JSON Schemas), `trust` (the issuer's
   authority for the credential type, and its responsibility for the battery per the routing
   registry), `status` (Bitstring Status Lists), `anchor` (the on-chain Merkle anchor).

The composition root (`service/runtime.py`) hands in what only it can build: the DID resolver,
the status-list fetcher, the anchor check, the current trust registry, and the bytes of documents
this instance keeps. `proof_memo` / `check_memo` (the consumer page) answer the parts that depend
only on the credential's bytes from this process's memos (`verifier.memo`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from sqlmodel import Session

from proofs.verification import Check, CredentialCheck
from verifier.authority import authority_check, routing_registry_tenures
from verifier.memo import Lru, ProofMemo, memoized_check
from verifier.related import related_resources_check
from verifier.schemas import check_schema
from verifier.status import status_check
from verifier.trust import TrustRegistry

__all__ = ["CheckResolver", "credential_checks"]


class CheckResolver(Protocol):
    """What the pipeline needs of a DID resolver (`resolver.dids.DidResolver` is one)."""

    def verification_method(self, vm_id: str, purpose: str) -> dict: ...

    def also_known_as(self, did: str) -> list[str]: ...


def credential_checks(
    session: Session,
    *,
    resolver: CheckResolver,
    status_lists: Callable[[str], dict],
    anchor: CredentialCheck,
    trust: TrustRegistry,
    document_bytes: Callable[[str], bytes | None],
    proof_memo: ProofMemo | None = None,
    check_memo: Lru[tuple[Check, ...]] | None = None,
) -> list[CredentialCheck]:
    """The checks run after the core on every credential, in the pipeline's order."""
    return [
        related_resources_check(document_bytes),
        memoized_check(check_schema, check_memo) if check_memo is not None else check_schema,
        authority_check(trust, routing_registry_tenures(session), resolver.also_known_as),
        status_check(status_lists, resolver.verification_method, proof_memo=proof_memo),
        anchor,
    ]
