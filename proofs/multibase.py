"""Multibase (base58btc only) and the multicodec prefixes of Ed25519 keys.

Why not the `multiformats` package: encoding one did:key with it costs ~280 µs against ~10 µs
with `base58` plus a fixed two-byte prefix (`bench/bench_proofs.py` measures both), and the only
codecs we need are two constants. `tests/proofs/test_keys.py` checks that our output equals
`multiformats`' output.
"""

from __future__ import annotations

from functools import lru_cache

import base58

BASE58BTC_PREFIX = "z"
# Unsigned-varint multicodec prefixes: 0xed = ed25519-pub, 0x1300 = ed25519-priv.
ED25519_PUB_PREFIX = b"\xed\x01"
ED25519_PRIV_PREFIX = b"\x80\x26"
# Other key types are recognised only to name them in error messages.
KNOWN_KEY_PREFIXES: dict[bytes, str] = {
    ED25519_PUB_PREFIX: "an Ed25519 public key (0xed)",
    ED25519_PRIV_PREFIX: "an Ed25519 private key (0x1300)",
    b"\xec\x01": "an X25519 public key (0xec)",
    b"\xe7\x01": "a secp256k1 public key (0xe7)",
    b"\x80\x24": "a P-256 public key (0x1200)",
    b"\x81\x24": "a P-384 public key (0x1201)",
    b"\xeb\x01": "a BLS12-381 G2 public key (0xeb)",
}


def encode_base58btc(data: bytes) -> str:
    return BASE58BTC_PREFIX + base58.b58encode(data).decode("ascii")


def decode_base58btc(text: object) -> bytes:
    """Decode a `z…` multibase string; ValueError on anything else.

    Strict: the text must be exactly the encoding of the bytes it decodes to (the `base58` library
    would otherwise accept trailing whitespace), so one value has one spelling.
    """
    if not isinstance(text, str) or not text.startswith(BASE58BTC_PREFIX):
        raise ValueError("not a base58btc multibase string (it must start with 'z')")
    if len(text) <= _KEY_SIZED:
        return _decode_key_sized(text)
    return _decode(text)


# Public keys (`z6Mk…`, 48 characters) are decoded again on every verification, several times
# (did:key, then its Multikey); pure-Python base58 both ways costs ~60 µs per key, a third of a raw
# Ed25519 verify. Key-sized values are kept (bounded); signatures are unique and are not.
# Failures raise and are not kept.
_KEY_SIZED = 64


@lru_cache(maxsize=4096)
def _decode_key_sized(text: str) -> bytes:
    return _decode(text)


_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_DIGITS = {c: i for i, c in enumerate(_ALPHABET)}
_DIGIT_BYTES = bytes(_DIGITS.get(chr(b), 255) for b in range(256))


def _decode(text: str) -> bytes:
    # Every string over the alphabet is the one encoding of its bytes (leading "1"s are the
    # leading zero bytes, the rest a number without leading zeros), so checking the alphabet
    # is the canonical-form check; the `base58` library also takes whitespace and needs a
    # re-encoding to refuse it. Int arithmetic instead of its divmod loops: decoding a
    # proofValue went from ~40 us to ~8 us (each Data Integrity verify decodes one).
    body = text[1:]
    value = 0
    # Each character's digit by one bytes.translate (255: not in the alphabet, which the loop
    # below words): ~9 -> ~7 us for a proofValue, no dict lookup per character.
    try:
        digits = body.encode("ascii").translate(_DIGIT_BYTES)
    except UnicodeEncodeError:
        digits = b"\xff"
    if 255 not in digits:
        for digit in digits:
            value = value * 58 + digit
        return _bytes(body, value)
    try:
        for char in body:
            value = value * 58 + _DIGITS[char]
    except KeyError as exc:
        if str(exc.args[0]).isspace():  # what `base58` took and the re-encoding refused
            raise ValueError("not a canonical base58btc multibase string") from None
        raise ValueError(f"not valid base58btc: character {exc.args[0]!r}") from None
    return _bytes(body, value)


def _bytes(body: str, value: int) -> bytes:
    zeros = len(body) - len(body.lstrip("1"))
    data = b"\0" * zeros + (value.to_bytes((value.bit_length() + 7) // 8, "big") if value else b"")
    if not data:
        raise ValueError("not a canonical base58btc multibase string")
    return data


def describe_prefix(data: bytes) -> str:
    """A human name, with its article, for the multicodec prefix of `data` (error messages)."""
    return KNOWN_KEY_PREFIXES.get(
        data[:2], f"a value with unknown multicodec prefix 0x{data[:2].hex()}"
    )
