"""Keys behind a remote signer: a KMS-style HTTP interface, mutually authenticated with TLS.

dbp asks the signer to make keys, to give their public keys and to sign with them; the signer
keeps the keys (a cloud KMS, an enclave, an HSM). The interface, which `dbp signer serve`
implements over a PKCS#11 token (service/signer_server.py), is four JSON calls:

- `POST /v1/keys` `{"algorithm": "Ed25519" | "secp256k1", "label": str}` -> 201
  `{"name", "algorithm", "publicKey"}` (a new key, made where the signer keeps keys);
- `GET /v1/keys/{name}` -> `{"name", "algorithm", "publicKey"}`;
- `POST /v1/keys/{name}/sign` `{"data": base64url}` -> `{"signature": base64url}`: Ed25519
  signs the data (pure Ed25519, RFC 8032: the data is the message); secp256k1 signs the data as a
  32-byte digest and answers r||s (64 bytes, s low);
- `GET /v1/health` -> `{"status": "ok"}` when the keys can be used.

Public keys are base64url: Ed25519 32 bytes, secp256k1 64 bytes (x||y). Errors are RFC 9457
problems. Both sides authenticate with TLS certificates: dbp presents a client certificate
(DBP_SIGNER_CLIENT_CERT / _KEY) and trusts only the signer's CA (DBP_SIGNER_CA), the signer
accepts only clients whose certificate its CA issued. The database keeps `remote:<name>`.

A remote signer takes no private keys (no import): `dbp keys migrate --rotate` moves operators to
new keys; an anchoring account's funded key cannot move there.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from proofs.keys import Ed25519Key, b64url_decode, b64url_encode
from proofs.signer import HeldKey, Keystore, KeystoreError, Label, low_s, observe_sign

PREFIX = "remote:"


@dataclass(frozen=True)
class RemoteConfig:
    url: str
    client_cert: str
    client_key: str = field(repr=False)
    ca: str
    timeout_s: float = 10.0


def name_of(held: HeldKey, label: str) -> str:
    if held.ref is None or not held.ref.startswith(PREFIX):
        raise KeystoreError(
            f"key {label} is not held by the remote signer ({held.ref or 'sealed'}): "
            "run `dbp keys migrate --rotate` to give operators keys there"
        )
    return held.ref[len(PREFIX) :]


class RemoteKeystore(Keystore):
    backend = "remote"

    def __init__(self, config: RemoteConfig) -> None:
        self.config = config
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def describe(self) -> str:
        return f"remote signer {self.config.url}"

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                try:
                    context = ssl.create_default_context(cafile=self.config.ca)
                    context.load_cert_chain(self.config.client_cert, self.config.client_key)
                except (OSError, ssl.SSLError) as exc:
                    raise KeystoreError(f"the signer's TLS files cannot be used: {exc}") from None
                self._client = httpx.Client(
                    base_url=self.config.url.rstrip("/"),
                    verify=context,
                    timeout=self.config.timeout_s,
                    trust_env=False,
                )
            return self._client

    def _call(self, method: str, path: str, body: dict | None = None) -> dict[str, Any]:
        try:
            response = self._http().request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise KeystoreError(
                f"{self.describe()} is unreachable ({exc.__class__.__name__}: {exc})"
            ) from None
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail") or response.text
            except ValueError:
                detail = response.text
            raise KeystoreError(
                f"{self.describe()} answered {response.status_code} to {method} {path}: "
                f"{str(detail)[:300]}"
            )
        try:
            return response.json()
        except ValueError:
            raise KeystoreError(
                f"{self.describe()} answered {method} {path} with no JSON"
            ) from None

    def _create(self, algorithm: str, label: str, size: int) -> tuple[bytes, HeldKey]:
        answer = self._call("POST", "/v1/keys", {"algorithm": algorithm, "label": label})
        public = _decode(answer, "publicKey", size)
        return public, HeldKey(ref=PREFIX + str(answer["name"]))

    def _sign(self, name: str, data: bytes) -> bytes:
        answer = self._call("POST", f"/v1/keys/{name}/sign", {"data": b64url_encode(data)})
        return _decode(answer, "signature", 64)

    def new_ed25519(self, label: Label) -> tuple[bytes, HeldKey]:
        return self._create("Ed25519", label if isinstance(label, str) else "dbp-key", 32)

    def import_ed25519(self, seed: bytes, label: str) -> HeldKey:
        raise KeystoreError(
            f"{self.describe()} takes no private keys: use `dbp keys migrate --rotate`"
        )

    def ed25519(self, held: HeldKey, label: str, public: bytes) -> RemoteEd25519Key:
        return RemoteEd25519Key(public, remote=RemoteKey(self, name_of(held, label)))

    def new_secp256k1(self, label_of: Callable[[bytes], str]) -> tuple[bytes, HeldKey]:
        return self._create("secp256k1", "dbp-anchor-account", 64)

    def import_secp256k1(self, private_key: bytes, label: str) -> HeldKey:
        raise KeystoreError(
            f"{self.describe()} takes no private keys: an anchoring account's key cannot move "
            "there; let the signer make a new account and fund it"
        )

    def secp256k1(self, held: HeldKey, label: str) -> RemoteKey:
        return RemoteKey(self, name_of(held, label))

    def public_key(self, held: HeldKey, label: str) -> tuple[str, bytes]:
        answer = self._call("GET", f"/v1/keys/{name_of(held, label)}")
        size = 32 if answer.get("algorithm") == "Ed25519" else 64
        return str(answer.get("algorithm")), _decode(answer, "publicKey", size)

    def check(self) -> None:
        self._call("GET", "/v1/health")


def _decode(answer: dict, key: str, size: int) -> bytes:
    try:
        value = b64url_decode(answer[key])
    except (KeyError, ValueError, TypeError):
        raise KeystoreError(f"the remote signer's answer has no valid {key!r}") from None
    if len(value) != size:
        raise KeystoreError(f"the remote signer's {key!r} is {len(value)} bytes, not {size}")
    return value


@dataclass(frozen=True)
class RemoteKey:
    store: RemoteKeystore = field(compare=False)
    name: str

    def sign_ed25519(self, data: bytes) -> bytes:
        started = time.perf_counter()
        signature = self.store._sign(self.name, data)
        observe_sign("remote", "ed25519", started)
        return signature

    def sign_digest(self, digest: bytes) -> tuple[int, int]:
        started = time.perf_counter()
        raw = self.store._sign(self.name, digest)
        observe_sign("remote", "secp256k1", started)
        return low_s(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))

    def __reduce__(self) -> tuple:
        # into a bulk worker process: the configuration, not the open connection
        return (_rebuild_key, (self.store.config, self.name))


_stores: dict[RemoteConfig, RemoteKeystore] = {}
_stores_lock = threading.Lock()


def keystore(config: RemoteConfig) -> RemoteKeystore:
    """The process's client for this signer (one connection pool per process)."""
    with _stores_lock:
        found = _stores.get(config)
        if found is None:
            found = _stores[config] = RemoteKeystore(config)
        return found


def _rebuild_key(config: RemoteConfig, name: str) -> RemoteKey:
    return RemoteKey(keystore(config), name)


@dataclass(frozen=True)
class RemoteEd25519Key(Ed25519Key):
    """An Ed25519 key the remote signer holds: `sign` asks it, and checks the answer (a signer
    that signs with another key would otherwise go unnoticed until verification)."""

    remote: RemoteKey | None = field(default=None, compare=False)

    @property
    def has_private(self) -> bool:
        return True

    def sign(self, data: bytes) -> bytes:
        assert self.remote is not None
        signature = self.remote.sign_ed25519(data)
        if not self.verify(signature, data):
            raise KeystoreError(f"the remote signer's signature with {self.remote.name} is wrong")
        return signature

    def __reduce__(self) -> tuple:
        return (_rebuild_ed25519, (self.public, self.remote))


def _rebuild_ed25519(public: bytes, remote: RemoteKey) -> RemoteEd25519Key:
    return RemoteEd25519Key(public, remote=remote)
