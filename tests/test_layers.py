"""The layer contracts of docs/architecture.md hold (issue 21 item 1), and they can fail."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def root_packages() -> list[str]:
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    return config["importlinter"]["root_packages"].split()


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    lint = Path(sys.executable).with_name("lint-imports")
    return subprocess.run(
        [str(lint), "--config", str(root / ".importlinter"), "--no-cache"],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_layer_contracts_are_kept():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def copy_of_the_code(tmp_path: Path) -> Path:
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    for package in root_packages():
        skip = shutil.ignore_patterns("__pycache__", "node_modules")
        shutil.copytree(ROOT / package, tmp_path / package, ignore=skip)
    return tmp_path


def test_an_upward_import_breaks_the_layers(tmp_path):
    root = copy_of_the_code(tmp_path)
    (root / "vocab" / "_upward.py").write_text("from issuer import store  # noqa: F401\n")
    result = lint_imports(root)
    assert result.returncode != 0
    assert "vocab._upward -> issuer.store" in result.stdout


def test_the_wallet_may_not_reach_into_the_server(tmp_path):
    root = copy_of_the_code(tmp_path)
    (root / "wallet" / "_reach.py").write_text("import service.db  # noqa: F401\n")
    result = lint_imports(root)
    assert result.returncode != 0
    assert "wallet._reach -> service.db" in result.stdout
