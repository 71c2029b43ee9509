"""The restore drill (issue 19 item 4), on PostgreSQL with real processes.

A primary pushes snapshots to an independent backup (`--role backup`). The primary is killed
(SIGKILL) and its database and data folder deleted; the battery's QR path still resolves and its
credentials still verify through the backup (found through the battery DID's `#backup` service).
Then a new primary is restored from the backup (`dbp backup restore --from URL`) and every
credential, status list and route is identical to the old primary's, byte for byte where signed.
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import orjson
import pytest
from pg_testkit import create_database
from server_testkit import REPO, free_port, uvicorn_instance
from sqlalchemy import create_engine, text

from issuer import operators
from issuer.backup import outbox
from service.db import make_engine, session_scope
from service.http_protocol import UVICORN_HTTP
from service.provision import provision
from service.settings import Settings
from vocab.examples import load_example

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

GTIN = "09520123456788"


def wait_until(what: str, check: Callable[[], object], timeout_s: float = 90.0) -> object:
    """Poll `check` until it returns something truthy; fail naming `what` at the deadline."""
    deadline = time.monotonic() + timeout_s
    last: object = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def passport_data() -> dict:
    data = load_example("ev")
    for key in ("batteryIdentifier", "passportId", "passportVersion"):
        data.pop(key)
    return data


def push_state(database_url: str) -> dict:
    engine = make_engine(database_url)
    try:
        with session_scope(engine) as session:
            return outbox.describe(session)
    finally:
        engine.dispose()


def signed_rows(database_url: str) -> dict[str, list]:
    """What must survive byte for byte: every credential as stored (all tiers), every status
    list as served, every route and tenure, operators' public keys."""
    engine = create_engine(database_url)
    queries = {
        "credentials": "SELECT id, credential_id, tier, kind, document::text FROM "
        "issued_credentials ORDER BY id",
        "status_lists": "SELECT id, version, etag, bits, credential_json FROM status_lists "
        "ORDER BY id",
        "status_entries": "SELECT list_id, list_index, credential_row_id, purpose, updated_at "
        "FROM status_entries ORDER BY list_id, list_index",
        "routes": "SELECT * FROM battery_routes ORDER BY id",
        "tenures": "SELECT * FROM battery_tenures ORDER BY id",
        "batteries": "SELECT * FROM batteries ORDER BY id",
        "passports": "SELECT * FROM passports ORDER BY id, version",
        "keys": "SELECT id, operator_id, public_multibase, sealed_private FROM operator_keys "
        "ORDER BY id",
        "operators": "SELECT * FROM operators ORDER BY id",
        "access_log": "SELECT * FROM access_log ORDER BY 1",
    }
    try:
        with engine.connect() as conn:
            return {name: [tuple(r) for r in conn.execute(text(q))] for name, q in queries.items()}
    finally:
        engine.dispose()


def dbp(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from service.cli import app; app()", *args],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_restore_drill(tmp_path: Path) -> None:
    primary_db, drop_primary = create_database("dbp_drill_primary")
    backup_db, drop_backup = create_database("dbp_drill_backup")
    restored_db, drop_restored = create_database("dbp_drill_restored")
    try:
        _drill(tmp_path, primary_db, backup_db, restored_db, drop_primary)
    finally:
        drop_restored()
        drop_backup()
        drop_primary()


def _drill(
    tmp: Path, primary_db: str, backup_db: str, restored_db: str, drop_primary: Callable
) -> None:
    p_port, b_port = free_port(), free_port()
    P, B = f"http://127.0.0.1:{p_port}", f"http://127.0.0.1:{b_port}"
    master_key = base64.b64encode(os.urandom(32)).decode()
    # kept apart from the primary, like the master key: a restore needs both
    escrow = tmp / "escrow"
    escrow.mkdir()
    key_file = escrow / "snapshot.key"
    key_file.write_text(base64.b64encode(os.urandom(32)).decode() + "\n")
    primary_dir, backup_dir = tmp / "primary", tmp / "backup"
    primary_dir.mkdir()
    backup_dir.mkdir()
    base_env = {
        **os.environ,
        "DBP_KEY_BACKEND": "sealed",
        "DBP_BULK_WORKER": "false",
        "DBP_LOG_FORMAT": "text",
    }
    primary_env = {
        **base_env,
        "DBP_DATA_DIR": str(primary_dir),
        "DBP_PUBLIC_URL": P,
        "DBP_DATABASE_URL": primary_db,
        "DBP_MASTER_KEY": master_key,
        "DBP_BACKUP_URL": B,
        "DBP_BACKUP_PUSH_URL": B,
        "DBP_BACKUP_PUSH_TOKEN": "push-secret",
        "DBP_BACKUP_SNAPSHOT_KEY_FILE": str(key_file),
        "DBP_BACKUP_PUSH_POLL_S": "0.2",
    }
    settings = Settings(
        data_dir=primary_dir, public_url=P, database_url=primary_db, master_key=master_key,
        key_backend="sealed",
    )  # fmt: skip
    done = provision(settings)
    instance_did = done.instance_did
    engine = make_engine(primary_db)
    with session_scope(engine) as session:
        instance = operators.by_did(session, instance_did)
        trusted = operators.keys_of(session, instance)[0].public_multibase
    engine.dispose()
    backup_env = {
        **base_env,
        "DBP_ROLE": "backup",
        "DBP_DATA_DIR": str(backup_dir),
        # the backup answers as the primary's copy: the DIDs and status list URLs name P
        "DBP_PUBLIC_URL": P,
        "DBP_BACKUP_URL": B,
        "DBP_DATABASE_URL": backup_db,
        "DBP_BACKUP_TRUSTED_KEYS": trusted,
        "DBP_BACKUP_PUSH_TOKEN": "push-secret",
    }
    with uvicorn_instance(B, b_port, backup_env, tmp / "backup.log") as _backup:
        backup = httpx.Client(base_url=B, timeout=60)
        primary_log = open(tmp / "primary.log", "wb")  # noqa: SIM115 - closed below
        primary_process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "service.asgi:app", "--host", "127.0.0.1",
             "--port", str(p_port), "--log-level", "warning", "--http", UVICORN_HTTP],
            env=primary_env, cwd=REPO, stdout=primary_log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            from server_testkit import wait_for_health

            wait_for_health(P, primary_process)
            issued = _issue(primary_db, settings, P)
            # wait until the backup holds a snapshot of everything (nothing left due)
            wait_until(
                "the primary's last change to reach the backup",
                lambda: (s := push_state(primary_db))["sequence"] >= 1 and not s["due"],
            )
            before = signed_rows(primary_db)
            answers = _public_answers(httpx.Client(base_url=P, timeout=60), issued)
            # --- the primary dies, and its data with it -------------------------------------
            primary_process.send_signal(signal.SIGKILL)
            primary_process.wait(timeout=30)
        finally:
            if primary_process.poll() is None:
                primary_process.kill()
                primary_process.wait(timeout=30)
            primary_log.close()
        drop_primary()
        shutil.rmtree(primary_dir)
        with pytest.raises(httpx.HTTPError):
            httpx.get(P + "/health", timeout=2)

        _through_the_backup(backup, issued, answers, B)
        _backup_refuses_what_it_must(backup, tmp)

        # --- a new primary, restored from the backup ----------------------------------------
        restored_dir = tmp / "restored"
        restored_dir.mkdir()
        restore_env = {
            **primary_env,
            "DBP_DATA_DIR": str(restored_dir),
            "DBP_DATABASE_URL": restored_db,
            "DBP_BACKUP_TRUSTED_KEYS": trusted,
        }
        result = dbp(restore_env, "backup", "restore", "--from", B, "--json")
        assert result.returncode == 0, result.stderr + result.stdout
        restored = orjson.loads(result.stdout)
        assert restored["source"] == P
        assert restored["rows"]["issued_credentials"] == len(before["credentials"])
        after = signed_rows(restored_db)
        for name in before:
            assert after[name] == before[name], f"{name} differ after the restore"

        again = dbp(restore_env, "backup", "restore", "--from", B)
        assert again.returncode == 1 and "not empty" in again.stderr

        with uvicorn_instance(P, p_port, restore_env, tmp / "restored.log"):
            new = httpx.Client(base_url=P, timeout=60)
            assert _public_answers(new, issued) == answers
            # the restored keys sign: the operator issues the next passport version
            r = new.post(
                f"/batteries/{issued['battery']['id']}/passport",
                json=passport_data(),
                headers={"Authorization": f"Bearer {issued['token']}"},
            )
            assert r.status_code == 201, r.text
            fresh = r.json()["verifiableCredentials"][0]
            r = new.post("/credentials/verify", json={"verifiableCredential": fresh})
            assert r.status_code == 200, r.text
            # and the backup keeps following the restored primary, above the sequence it held
            held = backup.get("/backup/snapshots").json()["snapshots"][0]["sequence"]
            wait_until(
                "the restored primary's first push",
                lambda: backup.get("/backup/snapshots").json()["snapshots"][0]["sequence"] > held,
            )


def _issue(primary_db: str, settings: Settings, P: str) -> dict:
    """An operator (made here, as `dbp operator create` would), two batteries with passports,
    one public credential suspended and one revoked."""
    outbox.enable()  # this test process writes the primary's tables like a CLI would
    engine = make_engine(primary_db)
    try:
        with session_scope(engine) as session:
            operator, token = operators.create_operator(
                session,
                name="acme",
                did_method="web",
                did_web_base=settings.did_web_base,
                master_key=settings.load_keystore(),
            )
    finally:
        engine.dispose()
        outbox.enable(False)
    auth = {"Authorization": f"Bearer {token}"}
    client = httpx.Client(base_url=P, timeout=60, headers=auth)
    out: dict = {"token": token, "operator": operator.did}
    for serial in ("SN-DRILL-1", "SN-DRILL-2"):
        r = client.post("/batteries", json={"gtin": GTIN, "serial": serial})
        assert r.status_code == 201, r.text
        battery = r.json()
        r = client.post(f"/batteries/{battery['id']}/passport", json=passport_data())
        assert r.status_code == 201, r.text
        out.setdefault("batteries", []).append({**battery, **r.json()})
    out["battery"] = out["batteries"][0]
    for battery, purpose in zip(out["batteries"], ("suspension", "revocation"), strict=True):
        path = "/" + battery["itemUri"].split("://", 1)[1].split("/", 1)[1]
        r = client.get(path, headers={"Accept": "application/json"})
        assert r.status_code == 200, r.text
        public = r.json()["verifiableCredential"][0]
        r = client.post(
            "/credentials/status",
            json={
                "credentialId": public["id"],
                "credentialStatus": {
                    "type": "BitstringStatusListEntry",
                    "statusPurpose": purpose,
                },
                "status": True,
            },
        )
        assert r.status_code == 200, r.text
    return out


def _public_answers(client: httpx.Client, issued: dict) -> dict:
    """The bytes a reader gets: per battery its DID document and passport JSON, the status
    lists its credentials name, the operators' and the instance's DID documents."""
    out: dict[str, bytes] = {}
    lists: set[str] = set()
    for battery in issued["batteries"]:
        path = battery["itemUri"].split("://", 1)[1].split("/", 1)[1]
        for url in (f"/batteries/{battery['id']}/did.json", "/" + path):
            r = client.get(url, headers={"Accept": "application/json"})
            assert r.status_code == 200, (url, r.text)
            out[url] = r.content
        # the QR code itself and the linkset a GS1 resolver client asks for
        for url in (f"/{path}/qr.svg", f"/{path}?linkType=linkset"):
            r = client.get(url)
            assert r.status_code == 200, (url, r.text)
            out[url] = r.content
        for vc in orjson.loads(out["/" + path]).get("verifiableCredential", []):
            for entry in vc.get("credentialStatus", []):
                lists.add(entry["statusListCredential"].split("/status-lists/", 1)[1])
    assert lists
    for list_id in sorted(lists):
        r = client.get(f"/status-lists/{list_id}")
        assert r.status_code == 200, r.text
        out[f"/status-lists/{list_id}"] = r.content
    for url in ("/operators/acme/did.json", "/.well-known/did.json"):
        r = client.get(url)
        assert r.status_code == 200, r.text
        out[url] = r.content
    return out


def _through_the_backup(backup: httpx.Client, issued: dict, answers: dict, B: str) -> None:
    # the backup serves the primary's answers, byte for byte
    assert _public_answers(backup, issued) == answers
    for battery in issued["batteries"]:
        did_doc = orjson.loads(answers[f"/batteries/{battery['id']}/did.json"])
        service = {s["id"].rsplit("#", 1)[1]: s["serviceEndpoint"] for s in did_doc["service"]}
        assert service["backup"].startswith(B + "/01/")
        # the QR's path, followed through the #backup service
        r = backup.get(service["backup"][len(B) :], headers={"Accept": "application/json"})
        assert r.status_code == 200, r.text
        credentials = r.json()["verifiableCredential"]
        assert credentials
        # the first public credential of each was suspended or revoked before the primary died
        r = backup.post("/credentials/verify", json={"verifiableCredential": credentials[0]})
        assert r.status_code == 400, r.text
        assert {e["check"] for e in r.json()["errors"]} == {"status"}, r.text
        for vc in credentials[1:]:
            r = backup.post("/credentials/verify", json={"verifiableCredential": vc})
            assert r.status_code == 200, r.text


def _backup_refuses_what_it_must(backup: httpx.Client, tmp: Path) -> None:
    auth = {"Authorization": "Bearer push-secret"}
    # writes are not served: read-only problem answers
    r = backup.post("/batteries", json={"gtin": GTIN, "serial": "X"})
    assert r.status_code == 405 and r.json()["type"].endswith("read-only-backup"), r.text
    r = backup.put("/batteries/x/route", json={"holderDid": "did:web:x"})
    assert r.status_code == 405, r.text
    latest = backup.get("/backup/snapshots/latest")
    assert latest.status_code == 200
    envelope = latest.content
    # the same snapshot again: acknowledged, nothing changes
    r = backup.post("/backup/snapshots", content=envelope, headers=auth)
    assert r.status_code == 200 and r.json()["duplicate"] is True, r.text
    # without the push token
    r = backup.post("/backup/snapshots", content=envelope)
    assert r.status_code == 403, r.text
    # a payload changed after signing
    env = orjson.loads(envelope)
    payload = orjson.loads(base64.b64decode(env["payload"]))
    payload["sequence"] += 1
    env["payload"] = base64.b64encode(orjson.dumps(payload)).decode()
    r = backup.post("/backup/snapshots", content=orjson.dumps(env), headers=auth)
    assert r.status_code == 422 and r.json()["type"].endswith("snapshot-signature-invalid"), r.text
    # signed by a key the backup does not trust
    from proofs.keys import Ed25519Key

    stranger = Ed25519Key.generate()
    env = orjson.loads(envelope)
    env["publicKeyMultibase"] = stranger.public_multibase
    env["signature"] = base64.b64encode(stranger.sign(base64.b64decode(env["payload"]))).decode()
    r = backup.post("/backup/snapshots", content=orjson.dumps(env), headers=auth)
    assert r.status_code == 403 and r.json()["type"].endswith("snapshot-untrusted"), r.text
    # not JSON at all
    r = backup.post("/backup/snapshots", content=b"\x00garbage", headers=auth)
    assert r.status_code == 422, r.text
