"""Fixtures for the anchor tests; the helpers they use live in anchor_testkit.py."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The test modules import anchor_testkit.py from next to this file, whichever way pytest starts.
sys.path.insert(0, str(Path(__file__).parent))

from anchor_testkit import DEV_KEYS, Anvil, Harness, deploy_with  # noqa: E402

from anchor import ethlibs  # noqa: E402

# The tests use web3 and eth-account directly too: import them now, without their side effect on
# the recursion limit (see anchor/ethlibs.py), so the rest of the suite runs as it would alone.
ethlibs.load()


@pytest.fixture(params=["embedded", "anvil"])
def harness(request: pytest.FixtureRequest, tmp_path: Path, make_settings) -> Iterator[Harness]:
    """Each chain backend in turn: the in-process EVM, then anvil over JSON-RPC."""
    h = Harness(request.param, tmp_path, make_settings)
    if request.param == "anvil":
        h.anvil = Anvil(tmp_path)
        h.anvil.start()
        h.contract = deploy_with(h.anvil.url, DEV_KEYS[9])
    try:
        yield h
    finally:
        h.close()
