"""Fixtures for cross-checks against independent implementations: didkit (Rust ssi, via PyPI) and
Digital Bazaar's reference JavaScript Data Integrity libraries (npm, installed on demand)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from proofs.didkey import did_key, did_key_verification_method_id
from proofs.keys import Ed25519Key
from vocab.loader import bundled_urls, context_document

JS_DIR = Path(__file__).parent / "js"
_exit_status = 0


# didkit 0.3.3 crashes at interpreter exit (SIGSEGV/SIGABRT in 5-9 of 30 plain runs) once its
# tokio runtime has been used: see shared/design/DEPENDENCIES.md §1.2. Workaround measured there:
# remember pytest's exit status and leave with os._exit after everything else has finished.
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    global _exit_status
    _exit_status = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    if "didkit" in sys.modules:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_exit_status)


def _npm_install() -> str | None:
    """Install the pinned JS packages into tests/interop/js/node_modules; a reason on failure."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        return "node/npm are not installed"
    lock = JS_DIR / "package-lock.json"
    marker = JS_DIR / "node_modules" / ".package-lock.json"
    if marker.is_file() and marker.stat().st_mtime >= lock.stat().st_mtime:
        return None
    try:
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
            cwd=JS_DIR,
            capture_output=True,
            text=True,
            timeout=600,
        )
    except subprocess.TimeoutExpired:
        return "npm ci did not finish within 10 minutes"
    if done.returncode != 0:
        return f"npm ci failed (rc {done.returncode}): {done.stderr.strip()[-800:]}"
    return None


@pytest.fixture(scope="session")
def js_reference() -> Callable[[list[dict[str, Any]], dict[str, dict]], list[Any]]:
    """Run requests through tests/interop/js/interop.mjs with the service's bundled contexts."""
    reason = _npm_install()
    if reason:
        pytest.skip(f"JS reference implementation unavailable: {reason}")
    contexts = {url: context_document(url) for url in bundled_urls()}

    def run(requests: list[dict[str, Any]], did_documents: dict[str, dict]) -> list[Any]:
        payload = {"contexts": contexts, "didDocuments": did_documents, "requests": requests}
        done = subprocess.run(
            ["node", str(JS_DIR / "interop.mjs")],
            input=json.dumps(payload),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)["results"]

    return run


class Signer:
    """A fresh did:key identity: its key, DID and verification method id."""

    def __init__(self) -> None:
        self.key = Ed25519Key.generate()
        self.did = did_key(self.key.public)
        self.vm = did_key_verification_method_id(self.did)


@pytest.fixture
def signer() -> Signer:
    return Signer()


@pytest.fixture
def other_signer() -> Signer:
    return Signer()
