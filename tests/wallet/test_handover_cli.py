"""The hand-over commands' interface: help texts, usage errors (exit 2), one-line errors (exit 1)
and the stable `--json` shape, without a service (an unreachable one where a call is made)."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from wallet.handover import parse_duration
from wallet.handover_cli import register

DOWN = "http://127.0.0.1:9"  # discard port: nothing listens there
DID = "did:web:second-life.example:operators:reuse"
RESULT_KEYS = {"battery", "ok", "transferId", "to", "expires", "error", "offer"}
ACCEPT_KEYS = {"offer", "ok", "transferId", "battery", "itemUri", "passportId", "predecessor",
               "error"}  # fmt: skip


def run(args: list[str], *, env: dict | None = None, **kwargs):
    app = typer.Typer()
    register(app)
    env = env or {"DBP_SERVICE_URL": DOWN, "DBP_OPERATOR_TOKEN": "t"}
    return CliRunner().invoke(app, args, env=env, **kwargs)


@pytest.mark.parametrize(
    ("command", "words"),
    [
        ([], ["transfer", "accept"]),
        (["transfer"], ["--to", "--endpoint", "--expires-in", "--out", "--from-file", "--json",
                        "--service", "DBP_SERVICE_URL", "--token", "DBP_OPERATOR_TOKEN"]),
        (["accept"], ["OFFER", "--json", "--service", "--token", "countersigns"]),
    ],
)  # fmt: skip
def test_help(command, words):
    result = run([*command, "--help"])
    assert result.exit_code == 0, result.output
    for word in words:
        assert word in result.stdout, word


@pytest.mark.parametrize(
    ("args", "env", "words"),
    [
        (["transfer", "B1"], None, "--to"),
        (["transfer", "B1", "--to", DID, "--expires-in", "soon"], None, "--expires-in"),
        (["transfer", "B1", "--to", DID, "--expires-in", "0d"], None, "--expires-in"),
        (["transfer", "--to", DID], None, "BATTERY"),
        (
            ["transfer", "B1", "--to", DID],
            {"DBP_SERVICE_URL": None, "DBP_OPERATOR_TOKEN": None},
            "--service",
        ),
        (["accept"], None, "OFFER"),
    ],
)
def test_usage_errors_exit_2(args, env, words):
    result = run(args, env=env)
    assert result.exit_code == 2, result.output
    assert words in result.stderr


def test_unreachable_service_is_one_line_and_json_is_stable():
    result = run(["transfer", "B1", "--to", DID])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        result.stderr.strip()
    ] and result.stderr.startswith("error: cannot reach the dbp service at http://127.0.0.1:9")
    result = run(["transfer", "B1", "B2", "--to", DID, "--json"])
    assert result.exit_code == 1
    answer = json.loads(result.stdout)
    assert answer["ok"] is False
    assert [set(r) for r in answer["results"]] == [RESULT_KEYS, RESULT_KEYS]
    assert [r["battery"] for r in answer["results"]] == ["B1", "B2"]
    assert "error: 2 of 2 offers failed" in result.stderr


def test_accept_reads_offers_and_says_what_is_wrong(tmp_path):
    missing = run(["accept", str(tmp_path / "nope.json")])
    assert missing.exit_code == 1 and missing.stderr.startswith("error: cannot read")
    (tmp_path / "bad.json").write_text("{not json")
    bad = run(["accept", str(tmp_path / "bad.json")])
    assert bad.exit_code == 1 and "is not JSON" in bad.stderr
    (tmp_path / "other.json").write_text(json.dumps({"type": ["VerifiableCredential"]}))
    other = run(["accept", str(tmp_path / "other.json")])
    assert other.exit_code == 1 and "does not hold a BatteryTransferCredential" in other.stderr
    offer = {
        "id": "http://a.example/transfers/1",
        "type": ["VerifiableCredential", "BatteryTransferCredential"],
        "credentialSubject": {"battery": "http://a.example/01/09520123456788/21/X"},
    }
    down = run(
        ["accept", "-", "--json"], input=json.dumps([offer, {"verifiableCredential": offer}])
    )
    assert down.exit_code == 1
    results = json.loads(down.stdout)["results"]
    assert [set(r) for r in results] == [ACCEPT_KEYS, ACCEPT_KEYS]
    assert results[0]["itemUri"] == offer["credentialSubject"]["battery"]
    assert "error: 2 of 2 offers could not be accepted" in down.stderr


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("90s", 90), ("15m", 900), ("12h", 43200), ("7d", 604800), ("2w", 1209600)],
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "-1d", "1y", "d7", "1.5h"])
def test_bad_durations(text):
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)
