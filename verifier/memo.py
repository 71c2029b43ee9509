"""Per-process memos of the content-determined parts of credential verification.

Some answers depend only on a credential's exact bytes: whether its proofs' signatures verify over
that content (given the same public keys), and whether it matches a bundled JSON schema. The
consumer page asks them again on every scan of the same battery, at ~20-30 ms (RDFC) and ~15 ms
(jsonschema) each. These memos keep those answers, keyed by the SHA-256 of the credential's JSON
(sorted keys, so the key is the content, not the dict's insertion order): different bytes give a
different key and are verified from scratch.

What can change for the same bytes is never memoized: the verification method is resolved again
and checked (revoked, expired) on every hit and its public key must equal the one the signature
was verified with; a proof's `expires` is compared with the current time; status (revocation,
suspension), the validity window, trust/tenure and anchor state are other checks, run every time.
Only successful proof verifications are kept, so a failure (e.g. a key that could not be fetched)
is retried on the next request.

This state is per process and needs no invalidation across several copies of the service: an
entry is a fact about content, true in every process that computes it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import orjson

from proofs import dataintegrity
from proofs.controller import checked_verification_method
from proofs.dataintegrity import VerificationMethodResolver, VerifiedProof
from proofs.errors import ProofError
from proofs.multikey import public_key_from_verification_method
from resolver.errors import ResolverError
from verifier.result import Check, Result
from vocab.datetimes import as_utc, utcnow
from vocab.errors import VocabError
from vocab.lru import DEFAULT_SIZE, Lru

__all__ = ["DEFAULT_SIZE", "Lru", "ProofMemo", "content_digest", "memoized_check"]


def content_digest(document: Any) -> bytes:
    """SHA-256 of the document's JSON with sorted keys: equal for equal content only."""
    try:
        data = orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # orjson refuses integers beyond 64 bits; the standard library does not
        data = json.dumps(document, sort_keys=True).encode()
    return hashlib.sha256(data).digest()


@dataclass(frozen=True)
class _ProofEntry:
    proofs: tuple[VerifiedProof, ...]
    keys: tuple[bytes, ...]  # the public key each proof was verified with, in order


class ProofMemo:
    """`dataintegrity.verify_proof` with its signature checks remembered per exact content."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self._entries: Lru[_ProofEntry] = Lru(size)
        self.hits = 0  # for tests and profiling: how often the signature work was skipped

    def verify_proof(
        self,
        document: dict[str, Any],
        resolve: VerificationMethodResolver,
        *,
        expected_purpose: str = "assertionMethod",
        challenge: str | None = None,
        domain: str | None = None,
        now: datetime | None = None,
    ) -> list[VerifiedProof]:
        now = as_utc(now) if now is not None else utcnow()
        key = (content_digest(document), expected_purpose, challenge, domain)
        entry = self._entries.get(key)
        if entry is not None:
            again = _still_valid(entry, resolve, now)
            if again is not None:
                self.hits += 1
                return again
        proofs = dataintegrity.verify_proof(
            document,
            resolve,
            expected_purpose=expected_purpose,
            challenge=challenge,
            domain=domain,
            now=now,
        )
        keys = tuple(public_key_from_verification_method(p.method) for p in proofs)
        self._entries.put(key, _ProofEntry(tuple(proofs), keys))
        return proofs


def _still_valid(
    entry: _ProofEntry, resolve: VerificationMethodResolver, now: datetime
) -> list[VerifiedProof] | None:
    """The remembered proofs if each one's method resolves now (not revoked or expired) to the
    same public key and the proof has not expired; None to verify from scratch."""
    out = []
    for proof, key in zip(entry.proofs, entry.keys, strict=True):
        if proof.expires is not None and now >= proof.expires:
            return None
        try:
            method = checked_verification_method(
                resolve, proof.verification_method, proof.proof_purpose, now, proof.created
            )
            same_key = public_key_from_verification_method(method) == key
        except (ProofError, VocabError, ResolverError):
            return None  # the full verification reports why
        if not same_key or method.get("controller") != proof.controller:
            return None
        out.append(replace(proof, method=method))
    return out


CredentialCheck = Callable[[dict, Result], None]


def memoized_check(check: CredentialCheck, memo: Lru[tuple[Check, ...]]) -> CredentialCheck:
    """`check` answered from `memo` for content it has seen: only for checks whose outcome is a
    function of the credential's bytes alone (the bundled-schema check)."""

    def run(credential: dict, result: Result) -> None:
        key = (getattr(check, "__qualname__", repr(check)), content_digest(credential))
        recorded = memo.get(key)
        if recorded is None:
            scratch = Result()
            check(credential, scratch)
            recorded = tuple(scratch.checks)
            memo.put(key, recorded)
        result.checks.extend(replace(c) for c in recorded)  # copies: callers may edit theirs

    return run
