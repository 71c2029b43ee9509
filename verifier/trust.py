"""The trust registry: who accredits roles, and who may issue which credential type.

A JSON file (`DBP_TRUST_REGISTRY`) with three parts, all optional:

    {
      "trustAnchors": [
        {"id": "did:web:accreditation.example", "name": "…",
         "accredits": ["recycling", "repair", "notified-body", …]}
      ],
      "notifiedBodies": [{"id": "did:web:nb.example", "name": "…", "number": "0123"}],
      "issuers": {"AuthorityBatteryPassportCredential": ["responsible-operator", "notified-body"]}
    }

`accredits` names roles: the legitimate-interest purposes of `vocab.models.roles.Purpose` and the
authority types of `AuthorityType`. `issuers` maps a credential type to the principals that may
issue it: `responsible-operator` (the battery's responsible operator, per the routing registry),
`trust-anchor` (an anchor accrediting every role the credential states), `notified-body` (a DID
listed under `notifiedBodies`) or a literal DID. Rules in the file replace the default rule of the
same type; types the file does not name keep their default. The DID `self` stands for this
instance's own DID (`did:web:{host}`).

Without a file, this instance's DID is the one trust anchor and accredits every role.

Trust across instances: `"peerRegistries": [{"url": "https://a.example/trust-registry",
"name": "…", "accredits": [roles]?}]` adds the trust anchors another dbp instance's registry
lists (its `GET /trust-registry`), limited to `accredits` when given. Peer registries are fetched
through the one outbound fetch (infra/fetch.py: allowed hosts only, size and time limits), kept
with their ETag and re-validated (`If-None-Match`) every `DBP_TRUST_PEER_REFRESH_S`, so a peer's
change arrives without a restart; a peer that cannot be reached keeps its last good answer.
Anchors a peer itself took from its own peers (`via`) are not taken over: trust is not
transitive. Every anchor says where it came from (`dbp trust show`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from proofs.canonical import jcs
from verifier.errors import VerifierError
from vocab.context import (
    ACCESS_GRANT_CREDENTIAL,
    AUTHORITY_CREDENTIAL,
    AUTHORITY_PASSPORT_CREDENTIAL,
    BATTERY_EVENT_CREDENTIAL,
    BATTERY_PASSPORT_CREDENTIAL,
    BATTERY_TRANSFER_CREDENTIAL,
    COMMISSION_PASSPORT_CREDENTIAL,
    LEGITIMATE_INTEREST_CREDENTIAL,
    LEGITIMATE_INTEREST_PASSPORT_CREDENTIAL,
    PUBLIC_PASSPORT_CREDENTIAL,
    TIER_CREDENTIAL_TYPES,
)
from vocab.models.roles import AuthorityType, Purpose

log = logging.getLogger("dbp.verifier")

RESPONSIBLE_OPERATOR: Final = "responsible-operator"
TRUST_ANCHOR: Final = "trust-anchor"
NOTIFIED_BODY: Final = "notified-body"
PRINCIPAL_KEYWORDS: Final = (RESPONSIBLE_OPERATOR, TRUST_ANCHOR, NOTIFIED_BODY)
SELF: Final = "self"

PURPOSE_ROLES: Final = frozenset(p.value for p in Purpose)
AUTHORITY_ROLES: Final = frozenset(a.value for a in AuthorityType)
ROLES: Final = PURPOSE_ROLES | AUTHORITY_ROLES

DEFAULT_ISSUERS: Final[Mapping[str, tuple[str, ...]]] = {
    # Passport data and dynamic data: only whoever is responsible for the battery (Art 77(4)).
    BATTERY_PASSPORT_CREDENTIAL: (RESPONSIBLE_OPERATOR,),
    PUBLIC_PASSPORT_CREDENTIAL: (RESPONSIBLE_OPERATOR,),
    LEGITIMATE_INTEREST_PASSPORT_CREDENTIAL: (RESPONSIBLE_OPERATOR,),
    COMMISSION_PASSPORT_CREDENTIAL: (RESPONSIBLE_OPERATOR,),
    # Test reports (Annex XIII point 3) may also come from the notified body that made them.
    AUTHORITY_PASSPORT_CREDENTIAL: (RESPONSIBLE_OPERATOR, NOTIFIED_BODY),
    BATTERY_EVENT_CREDENTIAL: (RESPONSIBLE_OPERATOR,),
    # A hand-over is issued by the operator responsible when it offered the battery.
    BATTERY_TRANSFER_CREDENTIAL: (RESPONSIBLE_OPERATOR,),
    # Roles are accredited by trust anchors; access to one battery is granted by its operator.
    LEGITIMATE_INTEREST_CREDENTIAL: (TRUST_ANCHOR,),
    AUTHORITY_CREDENTIAL: (TRUST_ANCHOR,),
    ACCESS_GRANT_CREDENTIAL: (RESPONSIBLE_OPERATOR,),
}


class TrustRegistryInvalid(VerifierError):
    """The trust registry file cannot be used; the service refuses to start with it."""

    code = "trust-registry-invalid"
    status = 500


@dataclass(frozen=True)
class TrustAnchor:
    id: str
    accredits: frozenset[str]
    name: str | None = None
    via: str | None = None  # the peer registry URL it came from; None: this instance's own

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "accredits": sorted(self.accredits)}
        if self.name:
            out["name"] = self.name
        if self.via:
            out["via"] = self.via
        return out


@dataclass(frozen=True)
class PeerRegistry:
    """Another instance's trust registry whose anchors this one trusts (up to `accredits`)."""

    url: str
    name: str | None = None
    accredits: frozenset[str] | None = None  # None: every role the peer's anchors accredit

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"url": self.url}
        if self.name:
            out["name"] = self.name
        if self.accredits is not None:
            out["accredits"] = sorted(self.accredits)
        return out


@dataclass(frozen=True)
class NotifiedBody:
    id: str
    name: str | None = None
    number: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id}
        if self.name:
            out["name"] = self.name
        if self.number:
            out["number"] = self.number
        return out


@dataclass(frozen=True)
class TrustRegistry:
    anchors: tuple[TrustAnchor, ...]
    notified_bodies: tuple[NotifiedBody, ...] = ()
    issuers: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_ISSUERS))
    peers: tuple[PeerRegistry, ...] = ()

    def anchor(self, did: str) -> TrustAnchor | None:
        for anchor in self.anchors:
            if anchor.id == did:
                return anchor
        return None

    def accredits(self, did: str, roles: Iterable[str]) -> bool:
        """Whether `did` is a trust anchor that accredits every role in `roles` (its own entry
        and those peer registries give it together)."""
        granted: set[str] = set()
        for anchor in self.anchors:
            if anchor.id == did:
                granted |= anchor.accredits
        wanted = set(roles)
        return bool(wanted) and wanted <= granted

    def with_peer_anchors(self, anchors: Iterable[TrustAnchor]) -> TrustRegistry:
        return TrustRegistry(
            (*self.anchors, *anchors), self.notified_bodies, self.issuers, self.peers
        )

    def is_notified_body(self, did: str) -> bool:
        return any(nb.id == did for nb in self.notified_bodies)

    def rules_for(self, types: Iterable[str]) -> dict[str, tuple[str, ...]]:
        """The issuer rules that apply to a credential of `types`.

        A tier type's rule replaces the rule of its super-type BatteryPassportCredential (a test
        report credential may come from a notified body, a plain passport credential may not)."""
        types = [t for t in types if t in self.issuers]
        if BATTERY_PASSPORT_CREDENTIAL in types and any(t in TIER_CREDENTIAL_TYPES for t in types):
            types.remove(BATTERY_PASSPORT_CREDENTIAL)
        return {t: self.issuers[t] for t in types}

    def as_json(self) -> dict[str, Any]:
        out = {
            "trustAnchors": [a.as_json() for a in self.anchors],
            "notifiedBodies": [nb.as_json() for nb in self.notified_bodies],
            "issuers": {t: list(p) for t, p in sorted(self.issuers.items())},
        }
        if self.peers:
            out["peerRegistries"] = [p.as_json() for p in self.peers]
        return out

    def document(self, **extra: Any) -> tuple[bytes, str]:
        """The registry as served (canonical JSON, with `extra` members) and its strong ETag."""
        body = jcs({**self.as_json(), **extra})
        return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def default_registry(instance_did: str) -> TrustRegistry:
    return TrustRegistry(anchors=(TrustAnchor(instance_did, ROLES, "this dbp instance"),))


def _did(value: Any, where: str, instance_did: str) -> str:
    if value == SELF:
        return instance_did
    if not isinstance(value, str) or not value.startswith("did:"):
        raise TrustRegistryInvalid(f"{where}: {value!r} is not a DID (or {SELF!r})")
    return value


def _optional_str(entry: dict, key: str, where: str) -> str | None:
    value = entry.get(key)
    if value is not None and not isinstance(value, str):
        raise TrustRegistryInvalid(f"{where}.{key} must be a string")
    return value


def _entries(data: dict, key: str, known: set[str]) -> list[tuple[str, dict]]:
    entries = data.get(key, [])
    if not isinstance(entries, list):
        raise TrustRegistryInvalid(f"{key} must be a list")
    out = []
    for i, entry in enumerate(entries):
        where = f"{key}[{i}]"
        if not isinstance(entry, dict):
            raise TrustRegistryInvalid(f"{where} must be an object")
        unknown = sorted(set(entry) - known)
        if unknown:
            raise TrustRegistryInvalid(f"{where}: unknown member(s) {', '.join(unknown)}")
        out.append((where, entry))
    return out


def parse_registry(data: Any, instance_did: str) -> TrustRegistry:
    """A registry from its JSON form; `TrustRegistryInvalid` names the first problem."""
    if not isinstance(data, dict):
        raise TrustRegistryInvalid("the trust registry must be a JSON object")
    unknown = sorted(
        set(data) - {"trustAnchors", "notifiedBodies", "issuers", "peerRegistries", "$comment"}
    )
    if unknown:
        raise TrustRegistryInvalid(f"unknown member(s) {', '.join(unknown)}")

    anchors = []
    for where, entry in _entries(data, "trustAnchors", {"id", "name", "accredits"}):
        accredits = entry.get("accredits")
        if not isinstance(accredits, list) or not accredits:
            raise TrustRegistryInvalid(f"{where}.accredits must be a non-empty list of roles")
        bad = sorted(str(r) for r in accredits if r not in ROLES)
        if bad:
            raise TrustRegistryInvalid(
                f"{where}.accredits: unknown role(s) {', '.join(bad)}; "
                f"known: {', '.join(sorted(ROLES))}"
            )
        anchors.append(
            TrustAnchor(
                _did(entry.get("id"), f"{where}.id", instance_did),
                frozenset(accredits),
                _optional_str(entry, "name", where),
            )
        )
    if len({a.id for a in anchors}) != len(anchors):
        raise TrustRegistryInvalid("trustAnchors lists a DID twice")

    bodies = [
        NotifiedBody(
            _did(entry.get("id"), f"{where}.id", instance_did),
            _optional_str(entry, "name", where),
            _optional_str(entry, "number", where),
        )
        for where, entry in _entries(data, "notifiedBodies", {"id", "name", "number"})
    ]

    issuers = dict(DEFAULT_ISSUERS)
    rules = data.get("issuers", {})
    if not isinstance(rules, dict):
        raise TrustRegistryInvalid("issuers must be an object: credential type -> principals")
    for type_name, principals in rules.items():
        where = f"issuers.{type_name}"
        if not isinstance(principals, list) or not principals:
            raise TrustRegistryInvalid(f"{where} must be a non-empty list of principals")
        issuers[type_name] = tuple(
            p if p in PRINCIPAL_KEYWORDS else _did(p, where, instance_did) for p in principals
        )
    peers = []
    for where, entry in _entries(data, "peerRegistries", {"url", "name", "accredits"}):
        url = entry.get("url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise TrustRegistryInvalid(f"{where}.url must be the http(s) URL of a trust registry")
        limit = entry.get("accredits")
        if limit is not None:
            if not isinstance(limit, list) or not limit:
                raise TrustRegistryInvalid(f"{where}.accredits must be a non-empty list of roles")
            bad = sorted(str(r) for r in limit if r not in ROLES)
            if bad:
                raise TrustRegistryInvalid(f"{where}.accredits: unknown role(s) {', '.join(bad)}")
        peers.append(
            PeerRegistry(
                url,
                _optional_str(entry, "name", where),
                frozenset(limit) if limit is not None else None,
            )
        )
    if len({p.url for p in peers}) != len(peers):
        raise TrustRegistryInvalid("peerRegistries lists a URL twice")
    return TrustRegistry(tuple(anchors), tuple(bodies), issuers, tuple(peers))


def load_registry(path: Path, instance_did: str) -> TrustRegistry:
    try:
        data = json.loads(Path(path).read_text("utf-8"))
    except OSError as exc:
        raise TrustRegistryInvalid(f"cannot read the trust registry {path}: {exc}") from None
    except ValueError as exc:
        raise TrustRegistryInvalid(f"the trust registry {path} is not JSON: {exc}") from None
    try:
        return parse_registry(data, instance_did)
    except TrustRegistryInvalid as exc:
        raise TrustRegistryInvalid(f"{path}: {exc}") from None


class RegistrySource:
    """The registry in force: the defaults, or the file, re-read when it changes on disk.

    A file that breaks after start-up is logged and the last good registry stays in force: an
    operator's typo must neither stop the service nor silently trust nobody (or everybody)."""

    def __init__(
        self,
        path: Path | None,
        instance_did: str,
        peer_anchors: Callable[[Sequence[PeerRegistry]], list[TrustAnchor]] | None = None,
    ) -> None:
        # peer_anchors: the anchors of the file's peer registries, fetched and kept up to date
        # (verifier.peer_registries.PeerAnchors.anchors); None leaves them out.
        self._peer_anchors = peer_anchors
        self._path = Path(path) if path else None
        self._instance = instance_did
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        if self._path is None:
            self._registry = default_registry(instance_did)
        else:
            self._registry = load_registry(self._path, instance_did)
            self._stamp = self._stat()

    def _stat(self) -> tuple[int, int] | None:
        assert self._path is not None
        try:
            st = os.stat(self._path)
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def current(self) -> TrustRegistry:
        registry = self._from_file()
        if registry.peers and self._peer_anchors is not None:
            return registry.with_peer_anchors(self._peer_anchors(registry.peers))
        return registry

    def _from_file(self) -> TrustRegistry:
        if self._path is None:
            return self._registry
        stamp = self._stat()
        if stamp == self._stamp:
            return self._registry
        with self._lock:
            if stamp != self._stamp:
                try:
                    self._registry = load_registry(self._path, self._instance)
                except TrustRegistryInvalid as exc:
                    log.error("trust registry not reloaded, the previous one stays: %s", exc)
                self._stamp = stamp
        return self._registry

    @property
    def origin(self) -> str:
        """Where this instance's own anchors come from: the file, or the default."""
        return f"file {self._path}" if self._path else "default (no DBP_TRUST_REGISTRY)"
