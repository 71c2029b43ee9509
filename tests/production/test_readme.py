"""README "Running in production" lists every setting as service/settings.py defines it."""

from __future__ import annotations

import re

from compose_testkit import REPO

from service.settings import Settings
from service.settings_doc import markdown_table


def test_the_settings_table_is_current():
    readme = (REPO / "README.md").read_text()
    found = re.search(
        r"<!-- settings-table:start -->\n(.*?)\n<!-- settings-table:end -->", readme, re.S
    )
    assert found, "README lacks the settings table markers"
    assert found.group(1) == markdown_table(), "run `python -m service.settings_doc`"
    for name in Settings.model_fields:
        assert f"`DBP_{name.upper()}`" in found.group(1)


def test_the_section_covers_what_the_issue_asks():
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Running in production", 1)[1].split("\n## ", 1)[0]
    for topic in ("docker-compose.yml", "**Scaling.**", "**Backups.**", "**Keys.**", "pg_dump"):
        assert topic in section
