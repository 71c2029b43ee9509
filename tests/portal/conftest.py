"""The portal tests import shared helpers from portal_testkit.py, next to this file."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from federation_testkit import federated, peer  # noqa: E402, F401 - fixtures
from quarantine_testkit import world  # noqa: E402, F401 - fixture
