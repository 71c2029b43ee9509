"""Key custody: one interface in front of every private key dbp signs with.

A `Keystore` creates keys, finds them again from what the database keeps about them (a `HeldKey`)
and signs with them. Two implementations:

- `SealedKeystore` (the embedded default): private keys live in the database sealed with AES-256-GCM
  under the master key (`proofs.sealing`); they are opened in this process to sign.
- `proofs.pkcs11.Pkcs11Keystore`: keys are generated inside a PKCS#11 token (an HSM, SoftHSM2) as
  sensitive and non-extractable; the database keeps only a reference (`pkcs11:id=<hex>`).

Two kinds of key: Ed25519 (credential proofs, status lists, presentations, JWS) and secp256k1
(Ethereum transactions). An Ed25519 signer has the `Ed25519Key` surface signing code uses
(`public`, `sign`, `verify`, `public_multibase`, `to_jwk()`), so proofs and JOSE sign with either.

Code that used to take the master key (`master_key: bytes`) now accepts either the bytes or a
`Keystore` in the same argument; `as_keystore` turns bytes into a `SealedKeystore`.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature

from proofs.keys import Ed25519Key
from proofs.sealing import seal, unseal

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


class KeystoreError(Exception):
    """A key cannot be created, found or used: the token is unreachable, the PIN is wrong, the
    reference names no key. An operations problem, not bad input."""

    code = "keystore-unavailable"
    status = 503


@dataclass(frozen=True)
class HeldKey:
    """What the database keeps about a private key: its sealed bytes, or a reference into a
    token. Exactly one of the two is set."""

    sealed: bytes | None = field(default=None, repr=False)
    ref: str | None = None


Label = str | Callable[[bytes], str]


def label_for(label: Label, public: bytes) -> str:
    return label if isinstance(label, str) else label(public)


class DigestSigner(Protocol):
    """A secp256k1 key that signs 32-byte digests; answers (r, s) with s already low."""

    def sign_digest(self, digest: bytes) -> tuple[int, int]: ...


# Signing latency hook: service.metrics sets it so that proofs does not import the service.
SignObserver = Callable[[str, str, float], None]
_observers: list[SignObserver] = []


def add_sign_observer(observer: SignObserver) -> None:
    if observer not in _observers:
        _observers.append(observer)


def observe_sign(backend: str, algorithm: str, started: float) -> None:
    elapsed = time.perf_counter() - started
    for observer in _observers:
        observer(backend, algorithm, elapsed)


def low_s(r: int, s: int) -> tuple[int, int]:
    """Ethereum accepts only s <= n/2 (EIP-2); ECDSA's (r, n - s) is the same signature."""
    return (r, SECP256K1_N - s) if s > SECP256K1_N // 2 else (r, s)


class Keystore(ABC):
    """Creates, finds and signs with private keys. `label` names a key for people (the token's
    CKA_LABEL) and, for sealed keys, is the associated data that binds a blob to its row."""

    backend: str

    @abstractmethod
    def new_ed25519(self, label: Label) -> tuple[bytes, HeldKey]:
        """A fresh Ed25519 key: (32-byte public key, what to store). `label` may be a function
        of the public key (a did:key's verification method is named by its key)."""

    @abstractmethod
    def import_ed25519(self, seed: bytes, label: str) -> HeldKey:
        """Take an existing Ed25519 private key (32-byte seed) into custody."""

    @abstractmethod
    def ed25519(self, held: HeldKey, label: str, public: bytes) -> Ed25519Key:
        """A signer for a stored key (an `Ed25519Key`, or an object with its surface)."""

    @abstractmethod
    def new_secp256k1(self, label_of: Callable[[bytes], str]) -> tuple[bytes, HeldKey]:
        """A fresh secp256k1 key: (64-byte public point x||y, what to store). `label_of` gives
        the label from the public point (an Ethereum account is named by its address)."""

    @abstractmethod
    def import_secp256k1(self, private_key: bytes, label: str) -> HeldKey:
        """Take an existing 32-byte secp256k1 private key into custody."""

    @abstractmethod
    def secp256k1(self, held: HeldKey, label: str) -> DigestSigner: ...

    @abstractmethod
    def check(self) -> None:
        """Raise `KeystoreError` when keys cannot be used now (readiness)."""

    def describe(self) -> str:
        return self.backend


def as_keystore(master_key_or_keystore: bytes | Keystore) -> Keystore:
    """Callers pass what they always passed (the master key) or a keystore."""
    if isinstance(master_key_or_keystore, Keystore):
        return master_key_or_keystore
    if isinstance(master_key_or_keystore, bytes | bytearray):
        return SealedKeystore(bytes(master_key_or_keystore))
    raise TypeError(f"expected a master key or a Keystore, not {type(master_key_or_keystore)}")


# --- sealed keys --------------------------------------------------------------------------------


class SealedSecp256k1:
    def __init__(self, private_key: bytes) -> None:
        self._key = ec.derive_private_key(int.from_bytes(private_key, "big"), ec.SECP256K1())

    def sign_digest(self, digest: bytes) -> tuple[int, int]:
        started = time.perf_counter()
        # Prehashed: the digest is already Keccak-256 (32 bytes, like SHA-256's length).
        der = self._key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))
        observe_sign("sealed", "secp256k1", started)
        return low_s(*decode_dss_signature(der))

    def __repr__(self) -> str:  # never show the key
        return "SealedSecp256k1()"


def secp256k1_public(private_key: bytes) -> bytes:
    point = (
        ec.derive_private_key(int.from_bytes(private_key, "big"), ec.SECP256K1())
        .public_key()
        .public_numbers()
    )
    return point.x.to_bytes(32, "big") + point.y.to_bytes(32, "big")


class SealedKeystore(Keystore):
    """Private keys sealed under the master key, stored in the database, opened to sign."""

    backend = "sealed"

    def __init__(self, master_key: bytes) -> None:
        self.master_key = master_key

    def new_ed25519(self, label: Label) -> tuple[bytes, HeldKey]:
        key = Ed25519Key.generate()
        assert key.private is not None
        return key.public, self.import_ed25519(key.private, label_for(label, key.public))

    def import_ed25519(self, seed: bytes, label: str) -> HeldKey:
        return HeldKey(sealed=seal(self.master_key, seed, label.encode()))

    def ed25519(self, held: HeldKey, label: str, public: bytes) -> Ed25519Key:
        key = Ed25519Key.from_private(self._open(held, label))
        if key.public != public:
            raise KeystoreError(f"the sealed key of {label} does not belong to its public key")
        return key

    def new_secp256k1(self, label_of: Callable[[bytes], str]) -> tuple[bytes, HeldKey]:
        import secrets

        while True:
            private = secrets.token_bytes(32)
            if 0 < int.from_bytes(private, "big") < SECP256K1_N:
                break
        public = secp256k1_public(private)
        return public, self.import_secp256k1(private, label_of(public))

    def import_secp256k1(self, private_key: bytes, label: str) -> HeldKey:
        return HeldKey(sealed=seal(self.master_key, private_key, label.encode()))

    def secp256k1(self, held: HeldKey, label: str) -> SealedSecp256k1:
        return SealedSecp256k1(self._open(held, label))

    def open_secp256k1(self, held: HeldKey, label: str) -> bytes:
        """The raw private key (sealed keys only): the anchoring account signs with eth_account."""
        return self._open(held, label)

    def open_ed25519(self, held: HeldKey, label: str) -> bytes:
        """The raw seed (sealed keys only): `dbp keys migrate` imports it into a token."""
        return self._open(held, label)

    def _open(self, held: HeldKey, label: str) -> bytes:
        if held.sealed is None:
            raise KeystoreError(
                f"key {label} is held in a token ({held.ref}), not sealed: "
                "set DBP_KEY_BACKEND to the backend that holds it"
            )
        # SealError (wrong master key, blob moved to another row) passes as it always did.
        return unseal(self.master_key, held.sealed, label.encode())

    def check(self) -> None:
        return None
