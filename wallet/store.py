"""The wallet's encrypted store: one file, `wallet.dbpw`, in the wallet directory.

Format (version 1), a JSON object:

    {"format": "dbp-wallet", "version": 1,
     "kdf": {"name": "scrypt", "salt": b64, "n": 32768, "r": 8, "p": 1},
     "cipher": "AES-256-GCM", "nonce": b64, "ciphertext": b64}

The key is scrypt(passphrase, salt); the plaintext is the wallet's JSON (identity and
credentials). The header (everything but `nonce` and `ciphertext`) is the AEAD's associated data,
so changing the KDF parameters or the version makes decryption fail instead of silently weakening
the next write. Every save draws a fresh salt and nonce. Writes go to a temporary file in the same
directory (mode 0600), are fsync'd, then renamed over the old file, and the directory is fsync'd:
a crash leaves either the old wallet or the new one, never half of one.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from wallet.errors import StoreError, WrongPassphrase

FILE_NAME = "wallet.dbpw"
FORMAT = "dbp-wallet"
VERSION = 1
# scrypt cost: 2^15 * 8 * 128 B = 32 MiB and well under a second; OWASP's minimum for scrypt.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
MIN_SCRYPT_N = 2**14
DEFAULT_DIR = Path("~/.dbp-wallet")


def default_dir() -> Path:
    env = os.environ.get("DBP_WALLET_DIR")
    return Path(env).expanduser() if env else DEFAULT_DIR.expanduser()


@dataclass
class WalletData:
    """What the store holds once decrypted."""

    identity: dict[str, Any] | None = None
    credentials: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"identity": self.identity, "credentials": self.credentials}

    @classmethod
    def from_json(cls, data: object) -> WalletData:
        if not isinstance(data, dict) or not isinstance(data.get("credentials", []), list):
            raise StoreError("the wallet's contents are not in the expected shape")
        return cls(identity=data.get("identity"), credentials=list(data.get("credentials", [])))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise StoreError(f"the wallet file's {what} is missing")
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        raise StoreError(f"the wallet file's {what} is not base64") from None


def _derive(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))


def _aad(header: dict[str, Any]) -> bytes:
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")


def encrypt(data: WalletData, passphrase: str) -> bytes:
    salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
    header = {
        "format": FORMAT,
        "version": VERSION,
        "kdf": {"name": "scrypt", "salt": _b64(salt), "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P},
        "cipher": "AES-256-GCM",
    }
    key = _derive(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    plaintext = json.dumps(data.as_json(), separators=(",", ":")).encode("utf-8")
    ciphertext = AESGCM(key).encrypt(nonce, plaintext, _aad(header))
    return json.dumps(
        {**header, "nonce": _b64(nonce), "ciphertext": _b64(ciphertext)}, indent=1
    ).encode("utf-8")


def decrypt(blob: bytes, passphrase: str) -> WalletData:
    try:
        outer = json.loads(blob)
    except ValueError:
        raise StoreError("the wallet file is not a dbp wallet (not JSON)") from None
    if not isinstance(outer, dict) or outer.get("format") != FORMAT:
        raise StoreError("the wallet file is not a dbp wallet")
    if outer.get("version") != VERSION:
        raise StoreError(
            f"the wallet file has format version {outer.get('version')!r}; this dbp reads "
            f"version {VERSION}"
        )
    kdf = outer.get("kdf")
    if (
        not isinstance(kdf, dict)
        or kdf.get("name") != "scrypt"
        or outer.get("cipher") != ("AES-256-GCM")
    ):
        raise StoreError("the wallet file names a KDF or cipher this dbp does not support")
    n, r, p = kdf.get("n"), kdf.get("r"), kdf.get("p")
    if not all(isinstance(v, int) and v > 0 for v in (n, r, p)) or n < MIN_SCRYPT_N:
        raise StoreError("the wallet file's scrypt parameters are missing or too weak")
    if n & (n - 1) or n > 2**22 or r > 64 or p > 16:
        raise StoreError("the wallet file's scrypt parameters are out of range")
    header = {k: v for k, v in outer.items() if k not in ("nonce", "ciphertext")}
    key = _derive(passphrase, _unb64(kdf.get("salt"), "salt"), n, r, p)
    try:
        plaintext = AESGCM(key).decrypt(
            _unb64(outer.get("nonce"), "nonce"),
            _unb64(outer.get("ciphertext"), "ciphertext"),
            _aad(header),
        )
    except InvalidTag:
        raise WrongPassphrase(
            "the passphrase does not open this wallet (or the wallet file was altered)"
        ) from None
    except ValueError as exc:
        raise StoreError(f"the wallet file cannot be decrypted: {exc}") from None
    return WalletData.from_json(json.loads(plaintext))


def atomic_write(path: Path, content: bytes) -> None:
    """Replace `path` with `content` all at once (temp file + fsync + rename), mode 0600."""
    directory = path.parent
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class Store:
    """The wallet directory and its passphrase."""

    def __init__(self, directory: Path, passphrase: str) -> None:
        self.directory = Path(directory).expanduser()
        self.passphrase = passphrase

    @property
    def path(self) -> Path:
        return self.directory / FILE_NAME

    def exists(self) -> bool:
        return self.path.is_file()

    def load(self) -> WalletData:
        if not self.exists():
            raise StoreError(f"no wallet at {self.directory}; create one with `dbp wallet init`")
        try:
            blob = self.path.read_bytes()
        except OSError as exc:
            raise StoreError(f"cannot read {self.path}: {exc.strerror}") from None
        return decrypt(blob, self.passphrase)

    def save(self, data: WalletData) -> None:
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            atomic_write(self.path, encrypt(data, self.passphrase))
        except OSError as exc:
            raise StoreError(f"cannot write {self.path}: {exc.strerror}") from None
