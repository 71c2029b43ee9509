"""A/B of the issue-15 verify rows: this tree against another revision, in one session.

The three rows of bench/bench_proofs.py that issue 15 sets goals for (the enveloped vc+jwt
against a raw Ed25519 verify, the small and the Catena-X shaped credential against the JS
reference), run for the other revision and for this tree in turn, each in its own process, the
pair `BENCH_AB_ROUNDS` (3) times: on a shared machine only ratios measured close together say
anything, and each row is already a ratio to a baseline measured in the same batches.

    .venv/bin/python -m bench.ab_verify cc3289a      # any commit of this repository

The other revision is written out with `git archive` to a temporary folder and run with this
tree's virtualenv (its own modules first on the path) and this tree's JS packages.
Not part of `make bench`: bench_proofs gives the figures of record."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = Path("tests") / "interop" / "js" / "node_modules"
# Run inside each tree: the rows, as bench_proofs builds them.
ROWS = """
import sys
sys.path.insert(0, ".")
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from bench import bench_proofs as b
from proofs.didkey import did_key, did_key_verification_method_id
from proofs.keys import Ed25519Key
key = Ed25519Key.generate()
did = did_key(key.public)
vm = did_key_verification_method_id(did)
public = Ed25519PrivateKey.from_private_bytes(key.private).public_key()
for row in [b._enveloped(key, public, did, vm), *b._versus_reference(key, did, vm)]:
    ratio = row.ours.median / row.baseline.median
    print(f"  {row.name[:58]:58s} {row.ours.median * 1e6:8.0f} us  ratio {ratio:.3f}")
"""


def _run(tree: Path, label: str) -> None:
    print(f"{label} ({tree})", flush=True)
    subprocess.run([sys.executable, "-c", ROWS], cwd=tree, check=True)


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m bench.ab_verify <revision>")
    revision = sys.argv[1]
    rounds = int(os.environ.get("BENCH_AB_ROUNDS", "3"))
    with tempfile.TemporaryDirectory(prefix="dbp-ab-verify-") as folder:
        other = Path(folder)
        archive = subprocess.run(
            ["git", "archive", revision], cwd=ROOT, check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(other)], input=archive, check=True)
        if (ROOT / NODE_MODULES).exists():
            (other / NODE_MODULES).symlink_to(ROOT / NODE_MODULES, target_is_directory=True)
        for _ in range(rounds):
            _run(other, revision)
            _run(ROOT, "this tree")


if __name__ == "__main__":
    main()
