"""Reference data carried in tests/ (never read from outside the repository, never skipped when
missing): every file an UPSTREAM.json lists is there with the recorded SHA-256 and a named source,
and every file next to an UPSTREAM.json is listed. Where the project's shared reference copy is
checked out next to the repository (../shared), each file is also compared with it byte for byte."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
SHARED = TESTS.parent.parent / "shared"  # the shared reference copy, next to the checkout
MANIFESTS = sorted(TESTS.rglob("UPSTREAM.json"))
# Files next to a manifest that are not upstream data (licence notes, locally written contexts).
NOT_UPSTREAM = {"UPSTREAM.json", "LICENSE.md"}


def test_there_are_manifests():
    found = {m.relative_to(TESTS).as_posix() for m in MANIFESTS}
    assert {"proofs/vectors/UPSTREAM.json", "vocab/data/UPSTREAM.json"} <= found


@pytest.mark.parametrize(
    "manifest", MANIFESTS, ids=lambda m: m.parent.relative_to(TESTS).as_posix()
)
def test_vendored_files_match_their_manifest(manifest: Path):
    upstream = json.loads(manifest.read_text("utf-8"))
    listed = set()
    for entry in upstream["files"]:
        path = manifest.parent / entry["path"]
        assert path.is_file(), entry["path"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"], entry["path"]
        source = entry["source"]
        assert source.get("repository") or upstream.get("repository") or source.get("description")
        assert entry.get("license") or upstream.get("license"), entry["path"]
        listed.add(entry["path"])
        shared = SHARED / source["shared"]
        if shared.is_file():  # the shared copy is optional; the digest above always holds
            assert shared.read_bytes() == path.read_bytes(), entry["path"]
    present = {
        p.relative_to(manifest.parent).as_posix()
        for p in manifest.parent.rglob("*")
        if p.is_file() and p.name not in NOT_UPSTREAM and "contexts" not in p.parts
        and "node_modules" not in p.parts
    }  # fmt: skip
    assert present == listed
