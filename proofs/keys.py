"""Ed25519 key pairs and their encodings (Multikey multibase, JWK per RFC 8037)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import pybase64
from cryptography.exceptions import InvalidSignature as _CryptoInvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from proofs.errors import InvalidKey
from proofs.multibase import (
    ED25519_PRIV_PREFIX,
    ED25519_PUB_PREFIX,
    decode_base58btc,
    describe_prefix,
    encode_base58btc,
)

KEY_BYTES = 32
SIGNATURE_BYTES = 64


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode unpadded base64url strictly (RFC 7515 §2: no padding, no other alphabet)."""
    if not isinstance(text, str) or "=" in text or "+" in text or "/" in text:
        raise ValueError("not unpadded base64url")
    padded = text + "=" * (-len(text) % 4)
    # pybase64 (SIMD) first: the stdlib decoder was ~45 us of the ~12 KiB payload of the public
    # passport's vc+jwt, a third of the raw Ed25519 verify next to it; pybase64 ~3 us
    # (`.venv/bin/python -m timeit -s "import pybase64, base64; t = base64.urlsafe_b64encode(
    # bytes(9000)).decode()" "pybase64.b64decode(t, altchars=b'-_', validate=True)"`, against
    # "base64.urlsafe_b64decode(t)": 7 us vs 101 us in one run). It takes the strict alphabet
    # only; anything else (characters the stdlib skips, other padding) goes to the stdlib as
    # before, so what is accepted and what it decodes to do not change.
    try:
        return pybase64.b64decode(padded, altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        pass
    try:
        return base64.urlsafe_b64decode(padded)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"not base64url: {exc}") from None


@dataclass(frozen=True)
class Ed25519Key:
    """An Ed25519 public key, with its 32-byte private seed when we hold it."""

    public: bytes
    private: bytes | None = field(default=None, repr=False)
    # Parsed key objects, built once: constructing them costs more than a signature check.
    _verifier: Ed25519PublicKey = field(init=False, repr=False, compare=False)
    _signer: Ed25519PrivateKey | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.public, bytes) or len(self.public) != KEY_BYTES:
            raise InvalidKey("an Ed25519 public key is exactly 32 bytes")
        try:
            verifier = Ed25519PublicKey.from_public_bytes(self.public)
        except ValueError as exc:
            raise InvalidKey(f"not a valid Ed25519 public key: {exc}") from None
        signer = None
        if self.private is not None:
            if not isinstance(self.private, bytes) or len(self.private) != KEY_BYTES:
                raise InvalidKey("an Ed25519 private key (seed) is exactly 32 bytes")
            signer = Ed25519PrivateKey.from_private_bytes(self.private)
            if signer.public_key().public_bytes_raw() != self.public:
                raise InvalidKey("the Ed25519 private key does not belong to the public key")
        object.__setattr__(self, "_verifier", verifier)
        object.__setattr__(self, "_signer", signer)

    @classmethod
    def generate(cls) -> Ed25519Key:
        return cls.from_private(Ed25519PrivateKey.generate().private_bytes_raw())

    @classmethod
    def from_private(cls, seed: bytes) -> Ed25519Key:
        if not isinstance(seed, bytes) or len(seed) != KEY_BYTES:
            raise InvalidKey("an Ed25519 private key (seed) is exactly 32 bytes")
        public = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()
        return cls(public, seed)

    @classmethod
    def from_public(cls, public: bytes) -> Ed25519Key:
        return cls(public)

    @classmethod
    def from_multibase(
        cls, public_multibase: str, private_multibase: str | None = None
    ) -> Ed25519Key:
        """From Multikey values: `z6Mk…` (0xed01) and optionally `z3u2…` (0x1300)."""
        public = _unwrap(public_multibase, ED25519_PUB_PREFIX, "publicKeyMultibase")
        private = None
        if private_multibase is not None:
            private = _unwrap(private_multibase, ED25519_PRIV_PREFIX, "privateKeyMultibase")
        return cls(public, private)

    @property
    def public_multibase(self) -> str:
        return encode_base58btc(ED25519_PUB_PREFIX + self.public)

    @property
    def private_multibase(self) -> str:
        if self.private is None:
            raise InvalidKey("this key has no private part")
        return encode_base58btc(ED25519_PRIV_PREFIX + self.private)

    def to_jwk(self, private: bool = False) -> dict[str, str]:
        jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(self.public)}
        if private:
            if self.private is None:
                raise InvalidKey("this key has no private part to put in a JWK")
            jwk["d"] = b64url_encode(self.private)
        return jwk

    @classmethod
    def from_jwk(cls, jwk: dict[str, Any]) -> Ed25519Key:
        if not isinstance(jwk, dict):
            raise InvalidKey("a JWK must be a JSON object")
        if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
            raise InvalidKey(
                f"only OKP/Ed25519 JWKs are supported, not kty={jwk.get('kty')!r} "
                f"crv={jwk.get('crv')!r}"
            )
        try:
            public = b64url_decode(jwk["x"])
            private = b64url_decode(jwk["d"]) if "d" in jwk else None
        except KeyError:
            raise InvalidKey("an OKP JWK needs the public key in 'x'") from None
        except ValueError as exc:
            raise InvalidKey(f"JWK 'x'/'d' is {exc}") from None
        return cls(public, private)

    @property
    def has_private(self) -> bool:
        return self._signer is not None

    def public_only(self) -> Ed25519Key:
        return Ed25519Key(self.public)

    def sign(self, data: bytes) -> bytes:
        if self._signer is None:
            raise InvalidKey("cannot sign: this key has no private part")
        return self._signer.sign(data)

    def verify(self, signature: bytes, data: bytes) -> bool:
        if len(signature) != SIGNATURE_BYTES:
            return False
        try:
            self._verifier.verify(signature, data)
        except _CryptoInvalidSignature:
            return False
        return True


@lru_cache(maxsize=1024)
def verifying_key(public: bytes) -> Ed25519Key:
    """The (public-only) Ed25519Key of `public`, kept per key: an issuer's every proof is
    checked with the same few keys, and parsing one (`Ed25519PublicKey.from_public_bytes`) was
    ~3 us of each verify. Ed25519Key is frozen, so one instance serves every caller."""
    return Ed25519Key(public)


def _unwrap(value: str, prefix: bytes, what: str) -> bytes:
    try:
        data = decode_base58btc(value)
    except ValueError as exc:
        raise InvalidKey(f"{what} {value!r} is {exc}") from None
    if data[:2] != prefix:
        raise InvalidKey(
            f"{what} {value!r} holds {describe_prefix(data)}, expected {describe_prefix(prefix)}"
        )
    if len(data) != 2 + KEY_BYTES:
        raise InvalidKey(f"{what} {value!r} does not hold exactly 32 key bytes")
    return data[2:]
