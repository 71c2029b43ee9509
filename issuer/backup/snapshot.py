"""Snapshots: what the primary pushes to the independent backup, and how either side checks one.

A snapshot is one JSON document (the *payload*), signed as bytes:

* `public`: the rows the backup serves while the primary is gone (operators without token
  hashes, operator keys without their sealed private parts, batteries, passports, the public-tier
  credentials, status lists, routes and tenures, hand-overs, holder DIDs, public documents'
  metadata and bytes). The backup writes them into its own tables and answers from them with the
  same read-only handlers the primary's resolver uses.
* `restricted`: every row of every copied table (the full dump: restricted-tier credentials,
  sealed keys, token hashes, the access log, anchor records, all documents), AES-256-GCM
  encrypted under the snapshot key (DBP_BACKUP_SNAPSHOT_KEY_FILE). A restore decrypts it.

The envelope (what is pushed) carries the payload, an Ed25519 signature over its bytes by the
primary's instance key (`did:web:{host}#key-1`) and that key's id. The backup accepts an envelope
only when the signature verifies under a key it was configured to trust
(DBP_BACKUP_TRUSTED_KEYS), and checks that the public part is consistent with the signed
credentials it carries (every public credential's and status list's Data Integrity proof is
verified against the operator keys in the same snapshot).

Why the backup "cannot alter anything" although it keeps everything:

* Everything it serves is either a signed credential (passport tiers, status lists) whose proof
  names an operator key, or data derived from the routing rows. It holds no private key: the
  public part carries no sealed keys, and the sealed keys inside the restricted part are sealed
  under the primary's master key (DBP_MASTER_KEY), which the backup never sees. It cannot make a
  credential or a status list that verifies; changing one byte of a stored one breaks its proof.
* The snapshot key is a confidentiality key only: it encrypts, it does not authenticate anything
  a reader relies on. The envelope signature (the primary's instance key) is what authenticates a
  snapshot, so a backup holding the snapshot key still cannot forge or alter one that a restore
  would accept: `dbp backup restore` verifies the signature against the primary's key first.
* Restricted data stay ciphertext at rest on the backup in every case: it stores the envelope as
  pushed and writes only the public part into its tables. Given the snapshot key
  (DBP_BACKUP_SNAPSHOT_KEY_FILE on the backup), it decrypts the restricted part into memory to
  answer `/access` to entitled readers with the primary's own release rules
  (issuer/backup/restricted.py); the credentials it hands out are the primary's signed bytes,
  so a reader verifies them as always. Without the key it releases the public tier only (503
  `restricted-data-unavailable` for more), and only whoever restores can read the rest.

Rows are written as JSON with per-column-type encodings (timestamps ISO 8601, bytes base64), so a
restore writes back the values exactly; JSON columns (signed credentials) round-trip as the same
JSON values, which the service serializes to the same bytes.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, DateTime, LargeBinary, MetaData, Table, select
from sqlmodel import SQLModel

from issuer.backup.errors import (
    SnapshotInvalid,
    SnapshotKeyError,
    SnapshotSignatureInvalid,
    SnapshotUntrusted,
)
from proofs.errors import ProofError
from proofs.keys import Ed25519Key
from vocab.catalogue import Tier
from vocab.datetimes import format_datetime, utcnow

FORMAT = "dbp-backup-snapshot/1"
ENVELOPE_FORMAT = "dbp-backup-envelope/1"
KEY_BYTES = 32

# Never copied: per-process caches and sessions, the backup's own bookkeeping, the pipeline's
# work tables (it re-stages from its sources).
EXCLUDED = frozenset(
    {
        "alembic_version",
        "resolver_views",
        "verifier_challenges",
        "portal_sessions",
        "backup_changes",
        "backup_push",
        "backup_snapshots",
    }
)

# The public part: table -> columns left out (secrets). Order: parents before children.
PUBLIC_TABLES: dict[str, frozenset[str]] = {
    "operators": frozenset({"token_hash"}),
    "operator_keys": frozenset({"sealed_private", "key_ref"}),
    "operator_aliases": frozenset(),
    "holder_dids": frozenset(),
    "batteries": frozenset(),
    "passports": frozenset(),
    "issued_credentials": frozenset(),
    "status_lists": frozenset(),
    "status_entries": frozenset(),
    "battery_routes": frozenset(),
    "battery_tenures": frozenset(),
    "transfers": frozenset(),
    "battery_documents": frozenset(),
}


def copied_tables(metadata: MetaData | None = None) -> list[Table]:
    """Every table a snapshot copies, parents before children."""
    metadata = metadata or SQLModel.metadata
    return [t for t in metadata.sorted_tables if t.name not in EXCLUDED]


def public_tables(metadata: MetaData | None = None) -> list[Table]:
    metadata = metadata or SQLModel.metadata
    return [t for t in metadata.sorted_tables if t.name in PUBLIC_TABLES]


# --- rows as JSON -------------------------------------------------------------------------------


def _encode(table: Table, row: Any, drop: frozenset[str] = frozenset()) -> dict:
    out: dict[str, Any] = {}
    for column in table.columns:
        if column.name in drop:
            continue
        value = row._mapping[column]
        if value is None:
            out[str(column.name)] = None
        elif isinstance(column.type, LargeBinary):
            out[str(column.name)] = base64.b64encode(value).decode()
        elif isinstance(column.type, DateTime):
            out[str(column.name)] = value.isoformat()
        else:
            out[str(column.name)] = value
    return out


def decode_row(table: Table, row: dict) -> dict:
    """A row of a snapshot as values to insert into `table` (unknown keys refused)."""
    if not isinstance(row, dict):
        raise SnapshotInvalid(f"a row of {table.name} is not an object")
    out: dict[str, Any] = {}
    for name, value in row.items():
        column = table.columns.get(name)
        if column is None:
            raise SnapshotInvalid(f"{table.name} has no column {name!r}")
        try:
            if value is None:
                out[name] = None
            elif isinstance(column.type, LargeBinary):
                out[name] = base64.b64decode(value, validate=True)
            elif isinstance(column.type, DateTime):
                out[name] = datetime.fromisoformat(value)
            else:
                out[name] = value
        except (TypeError, ValueError) as exc:
            raise SnapshotInvalid(f"{table.name}.{name}: {exc}") from None
    missing = [
        c.name
        for c in table.columns
        if out.get(c.name) is None and not c.nullable and c.default is None
    ]
    if missing:
        raise SnapshotInvalid(f"a row of {table.name} lacks {', '.join(missing)}")
    return out


def _rows(conn: Connection, table: Table, where=None, drop=frozenset()) -> list[dict]:
    statement = select(table).order_by(*table.primary_key.columns)
    if where is not None:
        statement = statement.where(where)
    return [_encode(table, row, drop) for row in conn.execute(statement)]


def dump_full(conn: Connection) -> dict[str, list[dict]]:
    return {str(table.name): _rows(conn, table) for table in copied_tables()}


def dump_public(conn: Connection) -> dict[str, list[dict]]:
    """The public part: secrets left out, only public-tier credentials (and their status
    entries and documents)."""
    tables = {t.name: t for t in public_tables()}
    credentials = tables["issued_credentials"]
    public_rows = select(credentials.c.id).where(credentials.c.tier == Tier.PUBLIC.value)
    out: dict[str, list[dict]] = {}
    for name, drop in PUBLIC_TABLES.items():
        table = tables[name]
        where = None
        if name == "issued_credentials":
            where = credentials.c.tier == Tier.PUBLIC.value
        elif name == "status_entries":
            where = table.c.credential_row_id.in_(public_rows)
        elif name == "battery_documents":
            where = table.c.tier == Tier.PUBLIC.value
        out[name] = _rows(conn, table, where, drop)
    return out


# --- the snapshot key ---------------------------------------------------------------------------


def load_key(path: Path) -> bytes:
    """The AES-256 snapshot key: base64 of 32 bytes in a file (`dbp backup keygen` writes one)."""
    try:
        raw = path.read_bytes().strip()
    except OSError as exc:
        raise SnapshotKeyError(f"cannot read the snapshot key {path}: {exc.strerror}") from None
    try:
        key = base64.b64decode(raw, validate=True)
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        raise SnapshotKeyError(f"{path} does not hold base64 of a 32-byte key")
    return key


def new_key() -> str:
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


def key_id(key: bytes) -> str:
    return hashlib.sha256(b"dbp-backup-key:" + key).hexdigest()[:16]


def _aad(source: str, sequence: int) -> bytes:
    return f"{FORMAT}|{source}|{sequence}".encode()


def encrypt(key: bytes, plaintext: bytes, source: str, sequence: int) -> dict:
    nonce = os.urandom(12)
    ciphertext = AESGCM(key).encrypt(nonce, plaintext, _aad(source, sequence))
    return {
        "alg": "A256GCM",
        "kid": key_id(key),
        "nonce": base64.b64encode(nonce).decode(),
        "ciphertext": base64.b64encode(ciphertext).decode(),
    }


def decrypt(key: bytes, sealed: dict, source: str, sequence: int) -> bytes:
    if not isinstance(sealed, dict) or sealed.get("alg") != "A256GCM":
        raise SnapshotInvalid("the restricted part is not A256GCM ciphertext")
    if sealed.get("kid") != key_id(key):
        raise SnapshotKeyError(
            f"the restricted part was encrypted under key {sealed.get('kid')!r}, "
            f"not the one given ({key_id(key)})"
        )
    try:
        nonce = base64.b64decode(sealed["nonce"], validate=True)
        ciphertext = base64.b64decode(sealed["ciphertext"], validate=True)
        return AESGCM(key).decrypt(nonce, ciphertext, _aad(source, sequence))
    except (KeyError, TypeError, ValueError) as exc:
        raise SnapshotInvalid(f"the restricted part is malformed: {exc}") from None
    except InvalidTag:
        raise SnapshotKeyError("the restricted part does not decrypt under this key") from None


# --- building and signing -----------------------------------------------------------------------


def build_payload(
    *,
    source: str,
    sequence: int,
    change: int,
    public: dict[str, list[dict]],
    public_documents: dict[str, str],
    full: dict[str, list[dict]],
    all_documents: dict[str, str],
    key: bytes,
) -> bytes:
    restricted = orjson.dumps({"tables": full, "documents": all_documents})
    payload = {
        "format": FORMAT,
        "source": source,
        "sequence": sequence,
        "change": change,
        "createdAt": format_datetime(utcnow()),
        "public": {"tables": public, "documents": public_documents},
        "restricted": encrypt(key, restricted, source, sequence),
    }
    return orjson.dumps(payload)


def digest(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def envelope(payload: bytes, signing_key: Ed25519Key, verification_method: str) -> bytes:
    return orjson.dumps(
        {
            "format": ENVELOPE_FORMAT,
            "verificationMethod": verification_method,
            "publicKeyMultibase": signing_key.public_multibase,
            "signature": base64.b64encode(signing_key.sign(payload)).decode(),
            "payload": base64.b64encode(payload).decode(),
        }
    )


@dataclass(frozen=True)
class Opened:
    """An envelope whose signature verified under a trusted key."""

    payload: bytes
    document: dict
    digest: str
    sequence: int
    source: str
    signed_by: str

    def public_tables(self) -> dict[str, list[dict]]:
        return self.document["public"]["tables"]

    def public_documents(self) -> dict[str, str]:
        return self.document["public"].get("documents") or {}

    def restricted(self, key: bytes) -> dict:
        plaintext = decrypt(key, self.document["restricted"], self.source, self.sequence)
        try:
            return orjson.loads(plaintext)
        except orjson.JSONDecodeError:
            raise SnapshotInvalid("the restricted part is not JSON") from None


def parse_trusted_keys(text: str | None) -> frozenset[str]:
    return frozenset(k.strip() for k in (text or "").split(",") if k.strip())


def open_envelope(raw: bytes, trusted: Iterable[str]) -> Opened:
    """Check `raw` and its signature; SnapshotUntrusted when the signing key is not one of
    `trusted` (public key multibase values), SnapshotSignatureInvalid when it does not verify."""
    trusted = frozenset(trusted)
    if not trusted:
        raise SnapshotUntrusted("no trusted key is configured (DBP_BACKUP_TRUSTED_KEYS)")
    try:
        env = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise SnapshotInvalid("the snapshot envelope is not JSON") from None
    if not isinstance(env, dict) or env.get("format") != ENVELOPE_FORMAT:
        raise SnapshotInvalid(f"the envelope's format is not {ENVELOPE_FORMAT}")
    public = env.get("publicKeyMultibase")
    vm = env.get("verificationMethod")
    if not isinstance(public, str) or not isinstance(vm, str):
        raise SnapshotInvalid("the envelope names no verification method and key")
    if public not in trusted:
        raise SnapshotUntrusted(f"{vm} ({public}) is not a key this backup trusts")
    try:
        payload = base64.b64decode(env.get("payload") or "", validate=True)
        signature = base64.b64decode(env.get("signature") or "", validate=True)
        key = Ed25519Key.from_multibase(public)
    except (TypeError, ValueError, ProofError) as exc:
        raise SnapshotInvalid(f"the envelope is malformed: {exc}") from None
    if not key.verify(signature, payload):
        raise SnapshotSignatureInvalid(f"the snapshot's signature does not verify under {vm}")
    try:
        document = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise SnapshotInvalid("the snapshot payload is not JSON") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise SnapshotInvalid(f"the snapshot's format is not {FORMAT}")
    sequence, source = document.get("sequence"), document.get("source")
    public_part = document.get("public")
    if (
        not isinstance(sequence, int)
        or sequence < 1
        or not isinstance(source, str)
        or not isinstance(public_part, dict)
        or not isinstance(public_part.get("tables"), dict)
    ):
        raise SnapshotInvalid("the snapshot lacks its sequence, source or public part")
    return Opened(payload, document, digest(payload), sequence, source, vm)
