"""The CI skip rule (tests/ci_skips.py): with CI=true a skip fails the run unless its reason says
`not_applicable:`; without CI a skip stays a skip. Run on a probe file in a separate pytest."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import pytest

def test_missing_tool():
    pytest.skip("zbarimg is not installed")

def test_designed_combination():
    pytest.skip("not_applicable: anvil keeps its own state")

@pytest.mark.skipif(True, reason="reference data not checked out")
def test_marked_skip():
    pass

@pytest.mark.xfail(reason="a known failure is not a skip")
def test_expected_failure():
    assert False

def test_runs():
    pass
"""


def run_probe(tmp_path: Path, ci: str | None) -> tuple[int, str]:
    (tmp_path / "test_probe.py").write_text(PROBE)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent), env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "ci_skips", "-p", "no:cacheprovider", "-rA",
         "-q", "--rootdir", str(tmp_path), "-c", os.devnull, str(tmp_path / "test_probe.py")],
        capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    return done.returncode, done.stdout


@pytest.mark.parametrize("ci", ["true", "1"])
def test_with_ci_a_skip_without_not_applicable_fails_the_run(tmp_path, ci):
    code, out = run_probe(tmp_path, ci)
    assert code == 1, out
    assert "FAILED test_probe.py::test_missing_tool - skipped with CI=true: zbarimg" in out
    assert "ERROR test_probe.py::test_marked_skip - skipped with CI=true: reference data" in out
    assert "SKIPPED [1] test_probe.py:8: not_applicable: anvil keeps its own state" in out
    assert "XFAIL test_probe.py::test_expected_failure" in out
    assert "PASSED test_probe.py::test_runs" in out


def test_without_ci_a_skip_is_a_skip(tmp_path):
    code, out = run_probe(tmp_path, None)
    assert code == 0, out
    assert "3 skipped" in out and "FAILED" not in out and "ERROR" not in out, out


ROOT = Path(__file__).parent.parent


def test_make_test_sets_up_the_services_and_ci_run_is_make_test_with_ci(tmp_path):
    """A fresh clone runs `make test` and nothing else (issue 13 item 14): the target starts or
    installs the services before pytest, and .ci/run is that same target with CI=true."""
    done = subprocess.run(
        ["make", "-n", "test", f"VENV={tmp_path / 'venv'}"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    services = lines.index("bash .ci/services")
    pytest_lines = [i for i, line in enumerate(lines) if " -m pytest " in line]
    # the main run, then the core HSM pass (issue 20): both after the services
    assert len(pytest_lines) == 2, lines
    assert services < pytest_lines[0], lines
    assert "DBP_TEST_KEY_BACKEND=pkcs11" in lines[pytest_lines[1]], lines
    run = [line for line in (ROOT / ".ci" / "run").read_text().splitlines()
           if line and not line.startswith("#")]  # fmt: skip
    assert run[-1] == "CI=true make test", run


def test_not_postgres_deselects_every_postgresql_test():
    """`-m "not postgres"` leaves no PostgreSQL-parametrized test behind (the database_url
    fixture, a module-scoped instance fixture, an indirect parametrization)."""
    modules = ["tests/issuer/test_bulk_10k.py", "tests/wallet/test_wallet_request.py",
               "tests/verifier/test_audit.py"]  # fmt: skip
    found = {}
    for marks in ("not postgres", "postgres"):
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q",
             "-m", marks, *modules],
            cwd=ROOT, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        found[marks] = [line for line in done.stdout.splitlines() if "::" in line]
    assert found["not postgres"] and found["postgres"]
    assert not [t for t in found["not postgres"] if "postgres" in t]
    assert all("postgres" in t for t in found["postgres"])
