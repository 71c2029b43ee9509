"""The settings table of README "Running in production", generated from `Settings` so it cannot
drift: `python -m service.settings_doc` prints it; tests/production/test_readme.py compares."""

from __future__ import annotations

from pathlib import Path

from pydantic_core import PydanticUndefined

from service.settings import ENV_PREFIX, Settings


def _default(value: object) -> str:
    if value is None or value is PydanticUndefined or value == "":
        return "(none)"
    if isinstance(value, Path) and not value.is_absolute():
        return f"`./{value}`"
    if isinstance(value, bool):
        return str(value).lower()
    return f"`{value}`"


def markdown_table() -> str:
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        meaning = " ".join((field.description or "").split()).replace("|", "\\|")
        rows.append(f"| `{ENV_PREFIX}{name.upper()}` | {_default(field.default)} | {meaning} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
