"""Encryption at rest for private keys: AES-256-GCM under a master key.

The associated data binds a sealed blob to the row it belongs to (e.g. a key id), so a blob copied
into another row does not open.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MASTER_KEY_BYTES = 32
_NONCE_BYTES = 12
_VERSION = b"\x01"


class SealError(Exception):
    """A sealed blob could not be opened: wrong master key, wrong associated data, or corrupted."""


def new_master_key() -> bytes:
    return os.urandom(MASTER_KEY_BYTES)


def seal(master_key: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
    nonce = os.urandom(_NONCE_BYTES)
    return _VERSION + nonce + AESGCM(master_key).encrypt(nonce, plaintext, associated_data)


def unseal(master_key: bytes, blob: bytes, associated_data: bytes) -> bytes:
    if len(blob) < 1 + _NONCE_BYTES + 16 or blob[:1] != _VERSION:
        raise SealError("sealed blob is malformed")
    nonce, body = blob[1 : 1 + _NONCE_BYTES], blob[1 + _NONCE_BYTES :]
    try:
        return AESGCM(master_key).decrypt(nonce, body, associated_data)
    except InvalidTag:
        raise SealError("sealed blob does not open with this master key") from None
