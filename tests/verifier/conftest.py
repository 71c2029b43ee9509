"""The verifier tests import shared helpers from verifier_testkit.py, next to this file."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# pytest runs with --import-mode=importlib, which does not put test directories on sys.path.
sys.path.insert(0, str(Path(__file__).parent))

from verifier_testkit import World  # noqa: E402


@pytest.fixture
def world(app_client, operator_token) -> World:
    """A running service (SQLite, then PostgreSQL) with operator acme and its batteries."""
    return World(app_client, operator_token("acme"))
