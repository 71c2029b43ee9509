"""P-256 (secp256r1) public keys for verifying ES256 JWS (VC-JOSE-COSE; the VC 2.0 suite's
envelopes are signed by a P-256 `did:key:zDn…`). dbp never signs with P-256: verification only."""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature as _CryptoInvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from proofs.errors import InvalidKey
from proofs.keys import b64url_decode

# Unsigned-varint multicodec p256-pub (0x1200); the key is the 33-byte compressed point.
P256_PUB_PREFIX = b"\x80\x24"
COMPRESSED_BYTES = 33
_COORDINATE = 32


@dataclass(frozen=True)
class P256PublicKey:
    """A P-256 public key; `verify` takes a JWS signature (r || s, 64 bytes, RFC 7518 §3.4)."""

    public: bytes  # the compressed point
    _key: ec.EllipticCurvePublicKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), self.public)
        except ValueError as exc:
            raise InvalidKey(f"not a P-256 public key: {exc}") from None
        object.__setattr__(self, "_key", key)

    @classmethod
    def from_jwk(cls, jwk: dict) -> P256PublicKey:
        if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
            raise InvalidKey(f"a P-256 JWK has kty EC and crv P-256, not {jwk.get('crv')!r}")
        try:
            x, y = b64url_decode(jwk.get("x")), b64url_decode(jwk.get("y"))
        except (TypeError, ValueError) as exc:
            raise InvalidKey(f"the JWK's x or y is not base64url: {exc}") from None
        if len(x) != _COORDINATE or len(y) != _COORDINATE:
            raise InvalidKey("a P-256 JWK's x and y are 32 bytes each")
        point = ec.EllipticCurvePublicNumbers(
            int.from_bytes(x, "big"), int.from_bytes(y, "big"), ec.SECP256R1()
        )
        try:
            key = point.public_key()
        except ValueError as exc:
            raise InvalidKey(f"the JWK is not a point on P-256: {exc}") from None
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        return cls(key.public_bytes(Encoding.X962, PublicFormat.CompressedPoint))

    def verify(self, signature: bytes, data: bytes) -> bool:
        if len(signature) != 2 * _COORDINATE:
            return False
        der = encode_dss_signature(
            int.from_bytes(signature[:_COORDINATE], "big"),
            int.from_bytes(signature[_COORDINATE:], "big"),
        )
        try:
            self._key.verify(der, data, ec.ECDSA(hashes.SHA256()))
        except _CryptoInvalidSignature:
            return False
        return True
