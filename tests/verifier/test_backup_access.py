"""Restricted data through the independent backup (issue 19 item 3): a recycler whose role the
primary's instance accredited gets, from the backup, exactly the tier credentials the primary
would release, decrypted in memory from the newest snapshot; a backup without the snapshot key
refuses restricted tiers with a problem and still serves the public tier."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from verifier_testkit import Holder, World

from issuer import operators
from issuer.backup import outbox
from issuer.backup.push import BackupPusher, PushConfig
from service.app import create_app
from service.db import session_scope
from service.settings import Settings
from vocab.catalogue import Tier

PUBLIC, LI, LIC, AUTH = (t.value for t in Tier)


def backup_app(world: World, tmp: Path, key_file: Path | None) -> TestClient:
    with session_scope(world.rt.engine) as session:
        instance = operators.by_did(session, world.rt.settings.did_web_base)
        trusted = operators.keys_of(session, instance)[0].public_multibase
    settings = Settings(
        role="backup",
        data_dir=tmp,
        public_url=world.public_url,
        backup_trusted_keys=trusted,
        backup_snapshot_key_file=key_file,
        bulk_worker=False,
        key_backend="sealed",
    )
    return TestClient(create_app(settings), raise_server_exceptions=False)


def push(world: World, backup: TestClient, key: bytes) -> None:
    rt = world.rt
    pusher = BackupPusher(
        rt.engine,
        rt.master_key,
        rt.document_store,
        PushConfig(push_url="http://testserver", public_url=world.public_url, snapshot_key=key),
        http=backup,
    )
    assert pusher.run_until_idle() >= 1


@pytest.mark.parametrize("holds_key", [True, False])
def test_restricted_tiers_through_the_backup(world: World, tmp_path: Path, holds_key: bool):
    recycler = Holder.new()
    role = world.accredit(recycler.did, "recycling")
    key = os.urandom(32)
    key_file = tmp_path / "snapshot.key"
    key_file.write_text(base64.b64encode(key).decode())
    outbox.enable()
    try:
        with backup_app(world, tmp_path / "backup", key_file if holds_key else None) as backup:
            push(world, backup, key)
            primary = world.client
            world.client = backup
            try:
                r = world.present_and_access(recycler, [role], world.b1)
            finally:
                world.client = primary
            if not holds_key:
                assert r.status_code == 503, r.text
                assert r.json()["type"].endswith("restricted-data-unavailable")
                return
            assert r.status_code == 200, r.text
            released = r.json()["verifiableCredentials"]
            assert [vc["credentialSubject"]["accessTier"] for vc in released] == [PUBLIC, LI, LIC]
            # byte for byte the credentials the primary signed
            for vc in released:
                tier = Tier(vc["credentialSubject"]["accessTier"])
                assert vc == world.tier_credentials[tier]
            # the same request to the primary releases the same
            r = world.present_and_access(recycler, [role], world.b1)
            assert r.status_code == 200 and r.json()["verifiableCredentials"] == released
    finally:
        outbox.enable(False)
