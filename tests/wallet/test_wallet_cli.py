"""`dbp wallet` commands in-process (typer's CliRunner) on a wallet in tmp_path; presentations are
checked by the service's own `POST /presentations/verify`."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from wallet_testkit import Issuer, Wallet, one_line_error

from proofs.didkey import did_key_document
from wallet.store import FILE_NAME


@pytest.fixture
def wallet(tmp_path) -> Wallet:
    w = Wallet(tmp_path / "wallet")
    w.ok("init")
    return w


@pytest.fixture
def issuer() -> Issuer:
    return Issuer.new()


def identity(wallet: Wallet) -> str:
    return json.loads(wallet.ok("export", "--did-document"))["id"]


def write(path, value) -> str:
    path.write_text(value if isinstance(value, str) else json.dumps(value))
    return str(path)


def test_init_makes_a_did_key_in_an_encrypted_wallet(tmp_path):
    w = Wallet(tmp_path / "w")
    out = w.json("init")
    assert out["did"].startswith("did:key:z6Mk")
    assert out["verificationMethod"] == out["did"] + "#" + out["did"][len("did:key:") :]
    assert "privateKeyMultibase" not in out
    path = tmp_path / "w" / FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert out["did"].encode() not in path.read_bytes()
    assert json.loads(w.ok("export", "--did-document")) == did_key_document(out["did"])


def test_init_refuses_to_replace_an_identity_without_force(wallet):
    before = identity(wallet)
    result = wallet.run("init")
    assert result.exit_code == 1
    assert "--force" in one_line_error(result)
    assert identity(wallet) == before
    wallet.ok("init", "--force")
    assert identity(wallet) != before


def test_init_asks_for_the_passphrase_twice_without_the_variable(tmp_path):
    w = Wallet(tmp_path / "w")
    result = w.run("init", input="pw-1\npw-2\npw-1\npw-1\n", env={"DBP_WALLET_PASSPHRASE": None})
    assert result.exit_code == 0, result.stderr
    assert "match" in result.stdout + result.stderr  # the first two answers differed
    assert Wallet(w.directory, "pw-1").ok("list")
    result = Wallet(w.directory, "pw-2").run("list")
    assert result.exit_code == 1
    assert "passphrase does not open" in one_line_error(result)


def test_wallet_dir_option_and_many_files(tmp_path, issuer):
    from typer.testing import CliRunner

    from service.cli import app as dbp

    env = {"DBP_WALLET_PASSPHRASE": "pw", "DBP_WALLET_DIR": str(tmp_path / "not-this-one")}
    directory = str(tmp_path / "chosen")
    result = CliRunner().invoke(dbp, ["wallet", "--wallet-dir", directory, "init"], env=env)
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "chosen" / FILE_NAME).exists()
    assert not (tmp_path / "not-this-one").exists()

    w = Wallet(tmp_path / "chosen", "pw")
    files = [
        write(tmp_path / f"{i}.json", issuer.credential(f"did:example:{i}")) for i in range(40)
    ]
    assert len(w.json("import", *files)["imported"]) == 40
    assert len(w.json("list")) == 40


def test_web_identity_needs_service_name_and_token(tmp_path):
    result = Wallet(tmp_path / "w").run("init", "--did-method", "web", "--name", "r")
    assert result.exit_code == 2
    assert "--service" in result.stderr


def test_import_list_show_export(wallet, issuer, tmp_path):
    did = identity(wallet)
    a, b = issuer.credential(did), issuer.credential(did)
    token = issuer.jwt(did)
    files = [
        write(tmp_path / "a.json", a),
        write(tmp_path / "both.json", [b, a]),  # a is a duplicate
        write(tmp_path / "c.jwt", token + "\n"),
    ]
    out = wallet.json("import", *files)
    assert out["duplicates"] == [a["id"]]
    assert len(out["imported"]) == 3

    listed = wallet.json("list")
    assert [c["id"] for c in listed] == out["imported"]
    assert [c["format"] for c in listed] == ["di", "di", "vc+jwt"]
    first = listed[0]
    assert first == {
        "id": a["id"],
        "format": "di",
        "types": ["ExampleDegreeCredential"],
        "issuer": issuer.did,
        "subject": did,
        "validFrom": "2025-01-01T00:00:00Z",
        "validUntil": None,
    }
    table = wallet.ok("list", env={"COLUMNS": "400"})
    assert a["id"] in table and "ExampleDegreeCredential" in table

    shown = wallet.json("show", a["id"].removeprefix("urn:uuid:")[:8])
    assert shown["credential"] == a
    jwt_entry = wallet.json("show", listed[2]["id"])
    assert jwt_entry["credential"]["type"] == "EnvelopedVerifiableCredential"
    assert jwt_entry["credential"]["id"] == f"data:application/vc+jwt,{token}"

    exported = json.loads(wallet.ok("export", a["id"], b["id"]))
    assert exported == [a, b]
    wallet.ok("export", "--out", str(tmp_path / "all.json"))
    everything = json.loads((tmp_path / "all.json").read_text())
    assert len(everything) == 3
    assert "privateKeyMultibase" not in (tmp_path / "all.json").read_text()

    # importing the export again stores nothing twice
    again = wallet.json("import", str(tmp_path / "all.json"))
    assert again["imported"] == [] and len(again["duplicates"]) == 3


def test_import_from_stdin_and_from_a_presentation(wallet, issuer):
    did = identity(wallet)
    a = issuer.credential(did)
    vp = {"@context": ["https://www.w3.org/ns/credentials/v2"], "type": "VerifiablePresentation",
          "verifiableCredential": [a]}  # fmt: skip
    assert wallet.json("import", "-", input=json.dumps(vp))["imported"] == [a["id"]]


def test_bad_files_import_nothing(wallet, issuer, tmp_path):
    good = write(tmp_path / "good.json", issuer.credential(identity(wallet)))
    unsigned = issuer.credential("did:example:x")
    del unsigned["proof"]
    cases = {
        "missing.json": (None, "no such file"),
        "broken.json": ("{not json", "not JSON"),
        "unsigned.json": (unsigned, "has no proof"),
        "other.json": ({"hello": "world"}, "neither a credential nor a presentation"),
        "bad.jwt": ("eyJhbGciOiJub25lIn0.e30.", "never accepted"),
        # one JSON, one meaning (issue 13 item 8): a second issuer is refused, not overridden
        "twice.json": (
            json.dumps(issuer.credential(identity(wallet))).replace(
                "{", '{"issuer": "did:example:someone-else", ', 1
            ),
            "names member 'issuer' twice",
        ),
    }
    for name, (content, message) in cases.items():
        path = tmp_path / name
        if content is not None:
            write(path, content)
        result = wallet.run("import", good, str(path))
        assert result.exit_code == 1, name
        line = one_line_error(result)
        assert name in line and message in line, line
    assert wallet.json("list") == []


def test_import_verify_refuses_a_tampered_credential(wallet, issuer, tmp_path):
    did = identity(wallet)
    good = issuer.credential(did)
    tampered = issuer.credential(did)
    tampered["credentialSubject"]["degree"]["name"] = "Something else"
    result = wallet.run(
        "import", "--verify", write(tmp_path / "g.json", good), write(tmp_path / "t.json", tampered)
    )
    assert result.exit_code == 1
    line = one_line_error(result)
    assert "t.json" in line and "proof" in line and "nothing was imported" in line
    assert wallet.json("list") == []
    assert wallet.json("import", "--verify", str(tmp_path / "g.json"))["imported"] == [good["id"]]


def test_unknown_credential_and_wrong_passphrase_are_one_line(wallet):
    result = wallet.run("show", "urn:uuid:nope")
    assert result.exit_code == 1
    assert "no credential 'urn:uuid:nope'" in one_line_error(result)
    result = Wallet(wallet.directory, "not the passphrase").run("list")
    assert result.exit_code == 1
    assert "passphrase does not open this wallet" in one_line_error(result)
    result = Wallet(wallet.directory.parent / "elsewhere").run("list")
    assert result.exit_code == 1
    assert "dbp wallet init" in one_line_error(result)


@pytest.mark.parametrize("fmt", ["di", "vp+jwt"])
def test_present_is_accepted_by_the_service(app_client, wallet, fmt, tmp_path):
    # A credential the service itself issued, so every check of its pipeline applies.
    from issuer import operators
    from service.db import session_scope

    rt = app_client.app.state.runtime
    with session_scope(rt.engine) as session:
        operator, token = operators.create_operator(
            session, name="acme", did_method="web", did_web_base=rt.settings.did_web_base,
            master_key=rt.master_key,
        )  # fmt: skip
        acme_did = operator.did
    holder = identity(wallet)
    r = app_client.post(
        "/credentials/issue",
        headers={"Authorization": f"Bearer {token}"},
        json={"credential": {
            "@context": ["https://www.w3.org/ns/credentials/v2",
                         "https://www.w3.org/ns/credentials/examples/v2"],
            "type": ["VerifiableCredential"], "issuer": acme_did,
            "credentialSubject": {"id": holder, "note": "hello"}}},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    vc = r.json()["verifiableCredential"]
    (ref,) = wallet.json("import", write(tmp_path / "vc.json", vc))["imported"]
    assert ref.startswith("sha256:")  # no id: named by its digest

    challenge = app_client.post("/challenges").json()
    out = tmp_path / "vp.json"
    wallet.ok(
        "present", ref, "--challenge", challenge["challenge"], "--domain",
        challenge["domain"], "--format", fmt, "--out", str(out),
    )  # fmt: skip
    vp = json.loads(out.read_text())
    if fmt == "di":
        assert vp["holder"] == holder
        assert vp["proof"]["proofPurpose"] == "authentication"
        assert vp["proof"]["cryptosuite"] == "eddsa-rdfc-2022"
        assert vp["proof"]["challenge"] == challenge["challenge"]
    else:
        assert vp["type"] == "EnvelopedVerifiablePresentation"
    options = {"challenge": challenge["challenge"], "domain": challenge["domain"]}
    r = app_client.post(
        "/presentations/verify", json={"verifiablePresentation": vp, "options": options}
    )
    assert r.status_code == 200, r.text
    assert r.json()["verified"] is True

    # the same presentation for another challenge does not verify
    options["challenge"] = "another"
    r = app_client.post(
        "/presentations/verify", json={"verifiablePresentation": vp, "options": options}
    )
    assert r.json()["verified"] is False


def test_present_without_identity_or_with_unknown_id(tmp_path, wallet):
    result = wallet.run("present", "nope", "--challenge", "c", "--domain", "d")
    assert result.exit_code == 1
    assert "no credential 'nope'" in one_line_error(result)
    result = wallet.run("present", "--challenge", "c")
    assert result.exit_code == 2  # usage: --domain missing


def test_every_command_has_help():
    w = Wallet(Path("/nonexistent"))
    for command in ("init", "import", "list", "show", "export", "present", "request"):
        result = w.run(command, "--help")
        assert result.exit_code == 0, command
        assert "Usage" in result.stdout
