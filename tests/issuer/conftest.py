"""The issuer tests import shared helpers from issuer_testkit.py, next to this file."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# pytest runs with --import-mode=importlib, which does not put test directories on sys.path.
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "vocab"))


@pytest.fixture
def acme(operator_token) -> dict:
    return operator_token("acme")


@pytest.fixture
def globex(operator_token) -> dict:
    return operator_token("globex")
