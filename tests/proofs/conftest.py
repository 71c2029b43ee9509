"""Fixtures for the proofs tests; the data they use lives in proofs_testkit.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The test modules here import their data from proofs_testkit.py, next to this file; make that
# work whichever way pytest is started (its sys.path handling differs between invocations).
sys.path.insert(0, str(Path(__file__).parent))

from proofs_testkit import Signer, read_vector  # noqa: E402

from proofs.didkey import resolve_did_key_verification_method  # noqa: E402
from proofs.keys import Ed25519Key  # noqa: E402


@pytest.fixture
def spec_key() -> Ed25519Key:
    """The key pair of the W3C vectors (keyPair.json)."""
    pair = read_vector("keyPair.json")
    return Ed25519Key.from_multibase(pair["publicKeyMultibase"], pair["privateKeyMultibase"])


@pytest.fixture
def resolve():
    return resolve_did_key_verification_method


@pytest.fixture
def signer() -> Signer:
    return Signer()


@pytest.fixture
def other_signer() -> Signer:
    return Signer()
