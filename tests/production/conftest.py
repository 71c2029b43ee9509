"""The production tests reuse anvil from tests/anchor/anchor_testkit.py and keep their compose
helpers in compose_testkit.py next to this file."""

from __future__ import annotations

import sys
from pathlib import Path

# pytest runs with --import-mode=importlib, which does not put test directories on sys.path.
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "anchor"))
