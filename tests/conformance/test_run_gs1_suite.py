"""The GS1 resolver suite runner's own parts (tests/conformance/run_gs1_suite.py), without the
suite, PHP or a browser: the page copy it serves points at the local proxy and local files and
fails loudly when the suite's source no longer has what it replaces; the link type list derived
from the Web Vocabulary; the per-test table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import run_gs1_suite as runner

SUITE_SCRIPT = """const outputElement = 'gs1ResolverTests'
// const testUri = 'http://localhost:8000/test-suites/resolver/1.0.0/tester.php';
const testUri = 'https://philarcher.org/gs1/tester.php';
const resolverDescriptionFileSchema = 'https://ref.gs1.org/standards/resolver/description-file-schema';
const gs1LinksetSchema = 'https://gs1.github.io/linkset/gs1-linkset-schema.json';
const list = await fetch('https://ref.gs1.org/voc/data/linktypes', {method: 'GET'});
"""


def fake_suite(directory: Path, script: str = SUITE_SCRIPT) -> Path:
    directory.mkdir()
    for name in runner.SUITE_FILES:
        (directory / name).write_text("/* stand-in */")
    (directory / runner.SUITE_JS).write_text(script)
    return directory


def test_the_served_page_uses_the_local_proxy_and_local_copies(tmp_path):
    suite = fake_suite(tmp_path / "suite")
    (tmp_path / "ajv.js").write_text("window.ajv7 = null;")
    (tmp_path / "rd.json").write_text("{}")
    (tmp_path / "lt.json").write_text("{}")
    site = tmp_path / "site"
    tester = "http://127.0.0.1:8123/tester.php"
    runner.prepare_site(
        suite, site, tester, tmp_path / "ajv.js", tmp_path / "rd.json", tmp_path / "lt.json"
    )
    script = (site / runner.SUITE_JS).read_text()
    assert f"const testUri = '{tester}';" in script
    assert "philarcher.org" not in script and "gs1.github.io" not in script
    assert "'http://127.0.0.1:8123/gs1-linkset-schema.json'" in script
    assert "'http://127.0.0.1:8123/linktypes.json'" in script
    # the commented-out alternative stays a comment
    assert "// const testUri = 'http://localhost:8000" in script
    assert json.loads((site / "gs1-linkset-schema.json").read_text())  # GS1's vendored schema
    for name in ("index.html", "ajv7.bundle.js", "description-file-schema.json", "tester.php"):
        assert (site / name).is_file()


def test_without_a_link_type_list_the_page_keeps_its_remote_address(tmp_path):
    suite = fake_suite(tmp_path / "suite")
    (tmp_path / "f").write_text("{}")
    runner.prepare_site(
        suite, tmp_path / "site", "http://h/tester.php", *[tmp_path / "f"] * 2, None
    )
    script = (tmp_path / "site" / runner.SUITE_JS).read_text()
    assert "'https://ref.gs1.org/voc/data/linktypes'" in script


def test_a_changed_suite_is_refused_rather_than_run_half_patched(tmp_path):
    script = SUITE_SCRIPT.replace("https://gs1.github.io/linkset/", "https://example.org/")
    suite = fake_suite(tmp_path / "suite", script)
    (tmp_path / "f").write_text("{}")
    with pytest.raises(SystemExit, match="no longer loads"):
        runner.prepare_site(suite, tmp_path / "site", "http://h/t.php", *[tmp_path / "f"] * 3)


def test_link_types_are_the_vocabulary_s_link_type_sub_properties(tmp_path):
    vocabulary = tmp_path / "gs1Voc.jsonld"
    vocabulary.write_text(
        "\ufeff"
        + json.dumps(
            {
                "@graph": [
                    {
                        "@id": "gs1:dpp",
                        "rdfs:label": {"@language": "en", "@value": "Digital Product Passport"},
                        "rdfs:comment": {"@value": "A link to a digital product passport."},
                        "rdfs:subPropertyOf": {"@id": "gs1:linkType"},
                        "sw:term_status": "stable",
                    },
                    {"@id": "gs1:gtin", "rdfs:subPropertyOf": [{"@id": "gs1:identifier"}]},
                ]
            }
        ),
        encoding="utf-8",
    )
    assert runner.link_types_from_vocabulary(vocabulary) == {
        "dpp": {
            "title": "Digital Product Passport",
            "description": "A link to a digital product passport.",
            "status": "stable",
        }
    }


def test_the_table_lists_every_test_id_at_every_level(tmp_path):
    item = runner.Run(
        "https://127.0.0.1:1/01/09520123456788/21/S1",
        [
            {"id": "rdFile", "status": "pass", "msg": "found"},
            {"id": "loForgs1dpp", "status": "fail", "msg": "no | redirect"},
        ],
    )
    model = runner.Run(
        "https://127.0.0.1:1/01/09520123456788", [{"id": "rdFile", "status": "pass", "msg": "ok"}]
    )
    table = runner.markdown([item, model], tmp_path)
    assert "`/01/09520123456788/21/S1` 1 pass, 0 warn, 1 fail" in table
    assert "| `rdFile` | pass | pass | ok |" in table
    assert "| `loForgs1dpp` | fail | — | no / redirect |" in table
