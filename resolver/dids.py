"""DID resolution: did:key (derived), this service's own did:web DIDs (local), and allowed
foreign did:web hosts (fetched). Also the verification-method lookup that proofs need."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from proofs.controller import verification_method_for_purpose
from proofs.didkey import did_key_document
from proofs.errors import ProofError, VerificationMethodError
from resolver.didweb import DidWebPolicy, fetch_did_web
from resolver.errors import DidNotFound, InvalidDid, MethodNotSupported
from vocab.datetimes import format_datetime, utcnow
from vocab.operator_identity import also_known_as

LocalDocuments = Callable[[str], dict | None]


@dataclass(frozen=True)
class Resolution:
    document: dict
    document_metadata: dict = field(default_factory=dict)
    resolution_metadata: dict = field(default_factory=dict)


class _TtlCache:
    def __init__(self, ttl_s: float, size: int = 1024) -> None:
        self._ttl, self._size = ttl_s, size
        self._items: dict[str, tuple[float, dict]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> dict | None:
        with self._lock:
            hit = self._items.get(key)
            if hit and hit[0] > time.monotonic():
                return hit[1]
            self._items.pop(key, None)
            return None

    def put(self, key: str, value: dict) -> None:
        with self._lock:
            if len(self._items) >= self._size:
                self._items.pop(next(iter(self._items)))
            self._items[key] = (time.monotonic() + self._ttl, value)


_foreign_cache = _TtlCache(ttl_s=300)


class DidResolver:
    def __init__(
        self,
        *,
        own_did_web_base: str,
        local: LocalDocuments,
        policy: DidWebPolicy,
        client: httpx.Client | None = None,
    ) -> None:
        self._own = own_did_web_base
        self._local = local
        self._policy = policy
        self._client = client

    def is_own(self, did: str) -> bool:
        return did == self._own or did.startswith(self._own + ":")

    def resolve(self, did: str) -> Resolution:
        if not isinstance(did, str) or not did.startswith("did:"):
            raise InvalidDid(f"{did!r} is not a DID")
        method = did.split(":", 2)[1]
        if method == "key":
            try:
                document = did_key_document(did)
            except ProofError as exc:
                raise InvalidDid(str(exc)) from None
            return Resolution(document, {}, _meta())
        if method != "web":
            raise MethodNotSupported(f"DID method {method!r} is not supported (did:key, did:web)")
        if self.is_own(did):
            document = self._local(did)
            if document is None:
                raise DidNotFound(f"{did} is not known to this service")
            return Resolution(document, {}, _meta())
        cached = _foreign_cache.get(did)
        if cached is None:
            client = self._client or httpx.Client(trust_env=False)
            try:
                cached = fetch_did_web(did, self._policy, client)
            finally:
                if self._client is None:
                    client.close()
            _foreign_cache.put(did, cached)
        return Resolution(cached, {}, _meta())

    def also_known_as(self, did: str) -> list[str]:
        """The DID document's `alsoKnownAs` identifiers (the trust check's operator binding)."""
        return also_known_as(self.resolve(did).document)

    def verification_method(self, vm_id: str, purpose: str) -> dict:
        """A `VerificationMethodResolver` for proofs: the VM, if authorised for `purpose`."""
        if not isinstance(vm_id, str) or "#" not in vm_id:
            raise VerificationMethodError(
                f"verification method {vm_id!r} is not a DID URL with a fragment"
            )
        did = vm_id.split("#", 1)[0]
        try:
            document = self.resolve(did).document
        except (InvalidDid, MethodNotSupported, DidNotFound) as exc:
            raise VerificationMethodError(f"cannot resolve {did}: {exc}") from None
        return verification_method_for_purpose(document, vm_id, purpose)


def _meta() -> dict:
    return {"contentType": "application/did+ld+json", "retrieved": format_datetime(utcnow())}
