"""W3C Bitstring Status List v1.0 (Recommendation, 15 May 2025): the data shapes and the bitstring
codec, shared by the issuer (which publishes lists) and the verifier (which reads them).

Encoding (spec §2.2 `encodedList`, §3.1): the uncompressed bitstring is at least 16 KiB
(131,072 entries); index 0 is the left-most bit, i.e. the most significant bit of the first
byte; the bytes are GZIP-compressed (RFC 1952) and written as multibase base64url without
padding (prefix `u`). Only `statusSize` 1 is used here (revocation and suspension).
"""

from __future__ import annotations

import base64
import gzip
import zlib
from typing import Final

from vocab.errors import VocabError

ENTRY_TYPE: Final = "BitstringStatusListEntry"
LIST_CREDENTIAL_TYPE: Final = "BitstringStatusListCredential"
LIST_TYPE: Final = "BitstringStatusList"

REVOCATION: Final = "revocation"
SUSPENSION: Final = "suspension"
PURPOSES: Final = (REVOCATION, SUSPENSION)

MIN_ENTRIES: Final = 16 * 1024 * 8  # 131,072: "at least 16KB" uncompressed (spec §2.2)
# A decoded list larger than this is refused: a GZIP bomb must not exhaust memory. 16 MiB of
# bits is 134 million entries, far beyond any real list.
MAX_DECODED_BYTES: Final = 16 * 1024 * 1024


class StatusListError(VocabError):
    """A status list that breaks the spec (the spec's STATUS_LIST_LENGTH_ERROR and friends)."""

    code = "status-list-error"
    status = 400


def empty_bitstring(entries: int = MIN_ENTRIES) -> bytearray:
    if entries < MIN_ENTRIES or entries % 8:
        raise StatusListError(
            f"a status list holds at least {MIN_ENTRIES} entries, in whole bytes; got {entries}"
        )
    return bytearray(entries // 8)


def get_bit(bits: bytes | bytearray, index: int) -> bool:
    if not 0 <= index < len(bits) * 8:
        raise StatusListError(
            f"statusListIndex {index} is outside the list of {len(bits) * 8} entries "
            "(STATUS_LIST_LENGTH_ERROR)"
        )
    return bool(bits[index // 8] & (0x80 >> (index % 8)))


def set_bit(bits: bytearray, index: int, value: bool) -> None:
    get_bit(bits, index)  # bounds check
    mask = 0x80 >> (index % 8)
    if value:
        bits[index // 8] |= mask
    else:
        bits[index // 8] &= ~mask & 0xFF


def set_indexes(bits: bytes | bytearray) -> list[int]:
    """Every index whose bit is 1, in ascending order."""
    out = []
    for byte_index, byte in enumerate(bits):
        if byte:
            for offset in range(8):
                if byte & (0x80 >> offset):
                    out.append(byte_index * 8 + offset)
    return out


def encode(bits: bytes | bytearray) -> str:
    """`encodedList`: multibase base64url (no padding) of the GZIP-compressed bitstring."""
    # mtime=0 makes the encoding a function of the bits alone (stable ETags, reproducible lists).
    compressed = gzip.compress(bytes(bits), compresslevel=9, mtime=0)
    return "u" + base64.urlsafe_b64encode(compressed).rstrip(b"=").decode("ascii")


def decode(encoded: object, *, max_bytes: int = MAX_DECODED_BYTES) -> bytes:
    """The bitstring in an `encodedList`; `StatusListError` if it is malformed, smaller than the
    spec's minimum, or would decompress to more than `max_bytes`."""
    if not isinstance(encoded, str) or not encoded.startswith("u"):
        raise StatusListError(
            "encodedList must be a multibase base64url string (prefix 'u', no padding)"
        )
    body = encoded[1:]
    if "=" in body or any(c in body for c in "+/"):
        raise StatusListError("encodedList must be base64url without padding")
    try:
        compressed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (ValueError, TypeError):
        raise StatusListError("encodedList is not valid base64url") from None
    # Decompress incrementally so that a small bomb never expands past the limit.
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        bits = inflater.decompress(compressed, max_bytes + 1)
    except zlib.error as exc:
        raise StatusListError(f"encodedList is not GZIP data: {exc}") from None
    if len(bits) > max_bytes or inflater.unconsumed_tail:
        raise StatusListError(f"encodedList decompresses to more than {max_bytes} bytes")
    if not inflater.eof:
        raise StatusListError("encodedList holds truncated GZIP data")
    if len(bits) * 8 < MIN_ENTRIES:
        raise StatusListError(
            f"the status list has {len(bits) * 8} entries; the spec requires at least "
            f"{MIN_ENTRIES} (16KB) (STATUS_LIST_LENGTH_ERROR)"
        )
    return bits


def entry(list_url: str, purpose: str, index: int) -> dict[str, str]:
    """A `BitstringStatusListEntry` (spec §2.1). Its `id` names the entry, never the list."""
    return {
        "id": f"{list_url}#{index}",
        "type": ENTRY_TYPE,
        "statusPurpose": purpose,
        "statusListIndex": str(index),
        "statusListCredential": list_url,
    }
