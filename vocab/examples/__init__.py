"""Example passports: a complete EV passport derived from the Catena-X Battery Pass example, and
smaller LMT and stationary variants (see SOURCES.md)."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from vocab.errors import ExampleNotFound

_PREFIX = "passport-"


def example_names() -> list[str]:
    """Names `load_example` accepts, e.g. "ev"."""
    return sorted(
        entry.name.removeprefix(_PREFIX).removesuffix(".json")
        for entry in resources.files(__name__).iterdir()
        if entry.name.startswith(_PREFIX) and entry.name.endswith(".json")
    )


def load_example(name: str) -> dict[str, Any]:
    """A fresh copy of the example passport `name` ("ev", "lmt", "stationary") as JSON data."""
    known = example_names()
    if name not in known:
        raise ExampleNotFound(name, known)
    text = resources.files(__name__).joinpath(f"{_PREFIX}{name}.json").read_text("utf-8")
    return json.loads(text)
