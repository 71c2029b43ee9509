"""The backup service in one process (SQLite): what a snapshot holds and hides, how the backup
checks it, idempotent pushes after a lost answer, read-only answers, restore refusals.
The PostgreSQL restore drill with real processes is tests/issuer/test_backup_drill.py."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from issuer import operators
from issuer.backup import outbox
from issuer.backup import snapshot as snap
from issuer.backup.errors import RestoreRefused, SnapshotKeyError
from issuer.backup.push import BackupPusher, PushConfig
from issuer.backup.restore import restore
from issuer.tables import IssuedCredential, OperatorKey
from service.app import create_app
from service.db import make_engine, migrate, session_scope
from service.settings import Settings
from vocab.catalogue import Tier
from vocab.examples import load_example

PRIMARY = "http://primary.test"


@dataclass
class Pair:
    primary: TestClient
    backup: TestClient
    pusher: BackupPusher
    key: bytes
    trusted: str
    token: str
    tmp: Path

    @property
    def primary_engine(self):
        return self.primary.app.state.runtime.engine  # type: ignore[attr-defined]

    @property
    def backup_engine(self):
        return self.backup.app.state.runtime.engine  # type: ignore[attr-defined]


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    key = os.urandom(32)
    common = {"bulk_worker": False, "key_backend": "sealed"}
    primary_settings = Settings(
        data_dir=tmp_path / "p", public_url=PRIMARY, backup_url="http://backup.test", **common
    )
    outbox.enable()
    try:
        with TestClient(create_app(primary_settings)) as primary:
            rt = primary.app.state.runtime  # type: ignore[attr-defined]
            with session_scope(rt.engine) as session:
                instance = operators.by_did(session, primary_settings.did_web_base)
                trusted = operators.keys_of(session, instance)[0].public_multibase
                _, token = operators.create_operator(
                    session,
                    name="acme",
                    did_method="web",
                    did_web_base=primary_settings.did_web_base,
                    master_key=rt.master_key,
                )
            backup_settings = Settings(
                role="backup",
                data_dir=tmp_path / "b",
                public_url=PRIMARY,
                backup_url="http://backup.test",
                backup_trusted_keys=trusted,
                **common,
            )
            with TestClient(create_app(backup_settings)) as backup:
                pusher = BackupPusher(
                    rt.engine,
                    rt.master_key,
                    rt.document_store,
                    PushConfig(push_url="http://testserver", public_url=PRIMARY, snapshot_key=key),
                    http=backup,
                )
                yield Pair(primary, backup, pusher, key, trusted, token, tmp_path)
    finally:
        outbox.enable(False)


def issue(pair: Pair, serial: str) -> dict:
    auth = {"Authorization": f"Bearer {pair.token}"}
    r = pair.primary.post(
        "/batteries", json={"gtin": "09520123456788", "serial": serial}, headers=auth
    )
    assert r.status_code == 201, r.text
    battery = r.json()
    data = load_example("ev")
    for key in ("batteryIdentifier", "passportId", "passportVersion"):
        data.pop(key)
    r = pair.primary.post(f"/batteries/{battery['id']}/passport", json=data, headers=auth)
    assert r.status_code == 201, r.text
    return {**battery, **r.json()}


def due(pair: Pair) -> bool:
    with Session(pair.primary_engine) as session:
        described = outbox.describe(session)
        session.commit()
    return described["due"]


def test_changes_make_a_push_due_and_the_backup_serves_the_public_part_only(pair: Pair):
    assert due(pair)  # never pushed
    battery = issue(pair, "SN-1")
    assert pair.pusher.run_until_idle() == 1
    assert not due(pair)
    assert pair.pusher.run_once() == 0  # nothing changed since
    restricted_tiers = {vc_row.tier for vc_row in _rows(pair.primary_engine, IssuedCredential)} - {
        Tier.PUBLIC.value
    }
    assert restricted_tiers, "the example passport has restricted tiers"
    # the backup's tables hold public credentials and public keys only
    served = _rows(pair.backup_engine, IssuedCredential)
    assert served and {r.tier for r in served} == {Tier.PUBLIC.value}
    assert all(k.sealed_private is None for k in _rows(pair.backup_engine, OperatorKey))
    # the restricted part is ciphertext: no restricted credential's id appears in the envelope
    envelope = pair.backup.get("/backup/snapshots/latest").content
    payload = base64.b64decode(orjson.loads(envelope)["payload"])
    for row in _rows(pair.primary_engine, IssuedCredential):
        if row.tier != Tier.PUBLIC.value:
            assert row.id.encode() not in payload
    # resolution from the backup, identical to the primary's
    path = battery["itemUri"].removeprefix(PRIMARY)
    for url in (path, f"/batteries/{battery['id']}/did.json", "/operators/acme/did.json"):
        a = pair.primary.get(url, headers={"Accept": "application/json"})
        b = pair.backup.get(url, headers={"Accept": "application/json"})
        assert a.status_code == b.status_code == 200, (url, b.text)
        assert a.content == b.content, url
    # another change: due again, and pushed as the next version
    issue(pair, "SN-2")
    assert due(pair)
    assert pair.pusher.run_until_idle() == 1
    snapshots = pair.backup.get("/backup/snapshots").json()["snapshots"]
    assert [s["sequence"] for s in snapshots] == [2, 1]


def test_a_lost_answer_is_not_applied_twice(pair: Pair):
    issue(pair, "SN-1")
    # the push reaches the backup but the primary dies before it records the answer
    envelope, _change, digest = pair.pusher.build(1)
    r = pair.backup.post("/backup/snapshots", content=envelope)
    assert r.status_code == 201, r.text
    assert pair.backup.post("/backup/snapshots", content=envelope).status_code == 200
    assert due(pair)
    # the next worker rebuilds snapshot 1: refused as stale, then continues above it
    assert pair.pusher.run_once() == 0
    assert pair.pusher.run_once() == 1
    snapshots = pair.backup.get("/backup/snapshots").json()["snapshots"]
    assert [s["sequence"] for s in snapshots] == [2, 1]
    assert snapshots[1]["digest"] == digest
    assert not due(pair)


def test_an_altered_credential_is_refused_even_under_a_trusted_signature(pair: Pair):
    """The envelope key vouches for a snapshot, not for credentials: each new credential's own
    proof is checked, so nobody (not even a holder of the primary's instance key) can slip in
    an altered credential."""
    issue(pair, "SN-1")
    envelope, _, _ = pair.pusher.build(1)
    env = orjson.loads(envelope)
    payload = orjson.loads(base64.b64decode(env["payload"]))
    credential = payload["public"]["tables"]["issued_credentials"][0]["document"]
    credential["credentialSubject"]["tampered"] = True
    with Session(pair.primary_engine) as session:
        instance = operators.by_name(session, operators.INSTANCE_NAME)
        signing = operators.signing_key(session, instance, pair.pusher.keystore)
    forged = snap.envelope(orjson.dumps(payload), signing.key, signing.verification_method)
    r = pair.backup.post("/backup/snapshots", content=forged)
    assert r.status_code == 422 and r.json()["type"].endswith("snapshot-signature-invalid"), r.text
    assert pair.backup.get("/backup/snapshots").json()["snapshots"] == []


def test_the_backup_answers_writes_and_unknowns_with_problems(pair: Pair):
    r = pair.backup.post("/batteries", json={})
    assert r.status_code == 405 and r.json()["type"].endswith("read-only-backup")
    r = pair.backup.post("/access", json={})
    assert r.status_code == 405
    r = pair.backup.get("/backup/snapshots/latest")
    assert r.status_code == 404 and r.json()["type"].endswith("no-snapshot")
    r = pair.backup.post("/backup/snapshots", content=b"{}")
    assert r.status_code == 422 and r.json()["type"].endswith("snapshot-invalid")


def test_restore_refuses_a_wrong_key_a_wrong_url_and_a_used_database(pair: Pair):
    issue(pair, "SN-1")
    assert pair.pusher.run_until_idle() == 1
    envelope = pair.backup.get("/backup/snapshots/latest").content
    engine = make_engine(f"sqlite:///{pair.tmp / 'restored.sqlite3'}")
    migrate(engine)

    def run(**overrides):
        args = {
            "trusted": frozenset({pair.trusted}),
            "key": pair.key,
            "public_url": PRIMARY,
            "documents": pair.primary.app.state.runtime.document_store,  # type: ignore[attr-defined]
            **overrides,
        }
        return restore(engine, envelope, **args)

    with pytest.raises(SnapshotKeyError):
        run(key=os.urandom(32))
    with pytest.raises(RestoreRefused):
        run(public_url="http://elsewhere.test")
    done = run()
    assert done.rows["issued_credentials"] == len(_rows(pair.primary_engine, IssuedCredential))
    with pytest.raises(RestoreRefused):
        run()
    engine.dispose()


def _rows(engine, model) -> list:
    with Session(engine) as session:
        return list(session.exec(select(model)))


@pytest.mark.parametrize(
    "rows",
    [
        [{"tier": "public"}],  # required columns missing
        [{"nope": 1}],  # a column this version does not have
        "not a list",
    ],
)
def test_a_signed_but_malformed_snapshot_is_a_problem_and_changes_nothing(pair: Pair, rows):
    issue(pair, "SN-1")
    assert pair.pusher.run_until_idle() == 1
    envelope, _, _ = pair.pusher.build(2)
    payload = orjson.loads(base64.b64decode(orjson.loads(envelope)["payload"]))
    payload["public"]["tables"]["issued_credentials"] = rows
    with Session(pair.primary_engine) as session:
        instance = operators.by_name(session, operators.INSTANCE_NAME)
        signing = operators.signing_key(session, instance, pair.pusher.keystore)
    bad = snap.envelope(orjson.dumps(payload), signing.key, signing.verification_method)
    r = pair.backup.post("/backup/snapshots", content=bad)
    assert r.status_code == 422 and r.json()["type"].endswith("snapshot-invalid"), r.text
    assert [s["sequence"] for s in pair.backup.get("/backup/snapshots").json()["snapshots"]] == [1]
    assert {r.tier for r in _rows(pair.backup_engine, IssuedCredential)} == {Tier.PUBLIC.value}


def test_the_backup_commands(tmp_path: Path, monkeypatch):
    from typer.testing import CliRunner

    from service.cli import app as cli

    runner = CliRunner()
    key_file = tmp_path / "snapshot.key"
    made = runner.invoke(cli, ["backup", "keygen", "--out", str(key_file)])
    assert made.exit_code == 0, made.output
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert len(snap.load_key(key_file)) == 32
    again = runner.invoke(cli, ["backup", "keygen", "--out", str(key_file)])
    assert again.exit_code == 1 and "not overwritten" in again.output
    monkeypatch.setenv("DBP_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DBP_PUBLIC_URL", PRIMARY)
    monkeypatch.setenv("DBP_KEY_BACKEND", "sealed")
    assert runner.invoke(cli, ["migrate"]).exit_code == 0
    status = runner.invoke(cli, ["backup", "status", "--json"])
    assert status.exit_code == 0, status.output
    described = orjson.loads(status.output)
    assert described["trustedKeys"][0].startswith("z6Mk")
    assert described["pushUrl"] is None and described["due"] is True
    pushed = runner.invoke(cli, ["backup", "push"])
    assert pushed.exit_code == 1 and "DBP_BACKUP_PUSH_URL" in pushed.output
    restore = runner.invoke(cli, ["backup", "restore", "--from", "http://127.0.0.1:9"])
    assert restore.exit_code == 1 and "DBP_BACKUP_SNAPSHOT_KEY_FILE" in restore.output
    monkeypatch.setenv("DBP_BACKUP_SNAPSHOT_KEY_FILE", str(key_file))
    monkeypatch.setenv("DBP_BACKUP_TRUSTED_KEYS", described["trustedKeys"][0])
    monkeypatch.setenv("DBP_DATABASE_URL", f"sqlite:///{tmp_path / 'new.sqlite3'}")
    # nothing listens there: one line naming the backup, no traceback
    restore = runner.invoke(cli, ["backup", "restore", "--from", "http://127.0.0.1:9"])
    assert restore.exit_code == 1 and "127.0.0.1:9" in restore.output, restore.output


PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def test_documents_travel_public_to_the_backup_all_to_a_restore(pair: Pair):
    battery = issue(pair, "SN-1")
    auth = {"Authorization": f"Bearer {pair.token}"}
    ids = {}
    for tier, data in (("public", PDF), ("legitimate-interest", PDF + b"%restricted\n")):
        r = pair.primary.post(
            f"/batteries/{battery['id']}/documents",
            data={"type": "declaration-of-conformity", "title": "EU DoC", "language": "en",
                  "tier": tier},
            files={"file": ("doc.pdf", data, "application/pdf")},
            headers=auth,
        )  # fmt: skip
        assert r.status_code == 201, r.text
        ids[tier] = r.json()["id"]
    assert pair.pusher.run_until_idle() == 1
    r = pair.backup.get(f"/documents/{ids['public']}")
    assert r.status_code == 200 and r.content == PDF
    assert pair.backup.get(f"/documents/{ids['legitimate-interest']}").status_code != 200
    # a restore brings both back, bytes included
    envelope = pair.backup.get("/backup/snapshots/latest").content
    engine = make_engine(f"sqlite:///{pair.tmp / 'restored.sqlite3'}")
    migrate(engine)
    from issuer.documents.objectstore import FolderStore

    store = FolderStore(pair.tmp / "restored-documents")
    done = restore(
        engine,
        envelope,
        trusted=frozenset({pair.trusted}),
        key=pair.key,
        public_url=PRIMARY,
        documents=lambda: store,
    )
    engine.dispose()
    assert done.documents == 2
    assert store.get(f"sha256/{hashlib.sha256(PDF).hexdigest()}") == PDF
