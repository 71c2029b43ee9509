"""The committed contract artifact is what solc-js makes of the committed source."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess

import pytest
from anchor_testkit import CONTRACTS, npm_ci

from anchor.chain import artifact


def test_artifact_names_the_source_it_was_compiled_from():
    source = (CONTRACTS / "PassportAnchor.sol").read_bytes()
    committed = artifact()
    assert committed["sourceSha256"] == hashlib.sha256(source).hexdigest(), (
        "PassportAnchor.sol changed without recompiling: run `node compile.mjs` in anchor/contracts"
    )
    assert committed["compiler"]["version"].startswith("0.8.37+")
    lock = json.loads((CONTRACTS / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/solc"]["version"] == "0.8.37"
    names = {item.get("name") for item in committed["abi"]}
    assert {"anchor", "anchoredAt", "Anchored", "AlreadyAnchored"} <= names


def test_committed_artifact_equals_a_fresh_solc_js_compile(tmp_path):
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node/npm are not installed: cannot run solc-js to recompile the contract")
    npm_ci()
    fresh = tmp_path / "PassportAnchor.json"
    done = subprocess.run(
        ["node", "compile.mjs", "--out", str(fresh)], cwd=CONTRACTS, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr, done.stderr
    assert fresh.read_text() == (CONTRACTS / "PassportAnchor.json").read_text()


def test_ethereum_libraries_leave_the_recursion_limit_alone():
    import subprocess
    import sys

    code = (
        "import sys; before = sys.getrecursionlimit(); "
        "from anchor.chain import EmbeddedChain; from anchor.accounts import address_of; "
        "EmbeddedChain([address_of(b'\\x01' * 32)], 1_700_000_000).head(); "
        "assert sys.getrecursionlimit() == before, sys.getrecursionlimit()"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
