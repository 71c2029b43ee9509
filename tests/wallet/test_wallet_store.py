"""The encrypted store: round trip, wrong passphrase, tampering, file mode, atomic replacement."""

from __future__ import annotations

import json
import os
import stat

import pytest

from wallet import store as store_module
from wallet.errors import StoreError, WrongPassphrase
from wallet.store import FILE_NAME, Store, WalletData


def sample() -> WalletData:
    return WalletData(
        identity={"did": "did:key:z6Mkexample", "privateKeyMultibase": "z3u2secret"},
        credentials=[{"id": "urn:uuid:1", "format": "di", "credential": {"a": "ü"}}],
    )


def test_round_trip_and_nothing_readable_on_disk(tmp_path):
    store = Store(tmp_path / "w", "correct horse")
    store.save(sample())
    assert Store(tmp_path / "w", "correct horse").load() == sample()
    raw = (tmp_path / "w" / FILE_NAME).read_bytes()
    assert b"z3u2secret" not in raw and b"urn:uuid:1" not in raw
    header = json.loads(raw)
    assert header["format"] == "dbp-wallet" and header["version"] == 1
    assert header["kdf"]["name"] == "scrypt" and header["cipher"] == "AES-256-GCM"


def test_every_save_uses_a_fresh_salt_and_nonce(tmp_path):
    store = Store(tmp_path, "pw")
    store.save(sample())
    first = json.loads(store.path.read_bytes())
    store.save(sample())
    second = json.loads(store.path.read_bytes())
    assert first["kdf"]["salt"] != second["kdf"]["salt"]
    assert first["nonce"] != second["nonce"]


def test_wrong_passphrase_is_a_clear_error(tmp_path):
    Store(tmp_path, "right").save(sample())
    with pytest.raises(WrongPassphrase, match="passphrase does not open"):
        Store(tmp_path, "wrong").load()


def test_changed_header_fails_like_a_wrong_passphrase(tmp_path):
    # The header is associated data: weakening the KDF in the file is detected, not obeyed.
    store = Store(tmp_path, "pw")
    store.save(sample())
    outer = json.loads(store.path.read_bytes())
    outer["kdf"]["p"] = 2
    store.path.write_text(json.dumps(outer))
    with pytest.raises(WrongPassphrase):
        store.load()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": 2}, "format version 2"),
        ({"format": "other"}, "not a dbp wallet"),
        ({"kdf": {"name": "scrypt", "salt": "AAAA", "n": 1024, "r": 8, "p": 1}}, "too weak"),
        ({"cipher": "ChaCha20"}, "KDF or cipher"),
    ],
)
def test_unknown_or_weak_formats_are_refused(tmp_path, change, message):
    store = Store(tmp_path, "pw")
    store.save(sample())
    outer = {**json.loads(store.path.read_bytes()), **change}
    store.path.write_text(json.dumps(outer))
    with pytest.raises(StoreError, match=message):
        store.load()


def test_not_json_and_missing_wallet(tmp_path):
    with pytest.raises(StoreError, match="dbp wallet init"):
        Store(tmp_path, "pw").load()
    (tmp_path / FILE_NAME).write_text("garbage")
    with pytest.raises(StoreError, match="not JSON"):
        Store(tmp_path, "pw").load()


def test_file_mode_is_0600_and_directory_0700(tmp_path):
    old = os.umask(0o022)
    try:
        store = Store(tmp_path / "new", "pw")
        store.save(sample())
    finally:
        os.umask(old)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.directory.stat().st_mode) == 0o700


def test_a_failed_write_leaves_the_old_wallet_and_no_temp_file(tmp_path, monkeypatch):
    store = Store(tmp_path, "pw")
    store.save(sample())
    before = store.path.read_bytes()

    def crash(*_args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store_module.os, "replace", crash)
    changed = sample()
    changed.credentials.append({"id": "urn:uuid:2", "format": "di", "credential": {}})
    with pytest.raises(StoreError, match="No space left"):
        store.save(changed)
    assert store.path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [FILE_NAME]
    monkeypatch.undo()
    assert store.load() == sample()


def test_fsync_happens_before_the_rename(tmp_path, monkeypatch):
    calls: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(
        store_module.os, "fsync", lambda fd: (calls.append("fsync"), real_fsync(fd))
    )
    monkeypatch.setattr(
        store_module.os, "replace", lambda a, b: (calls.append("replace"), real_replace(a, b))
    )
    Store(tmp_path, "pw").save(sample())
    # the file's data, then the rename, then the directory entry
    assert calls == ["fsync", "replace", "fsync"]
