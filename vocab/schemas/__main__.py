"""`python -m vocab.schemas --write` regenerates the committed schema files; `--check` (the
default) exits 1 when they are out of date."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vocab.schemas import SCHEMA_BASE_URL
from vocab.schemas.generate import generate

HERE = Path(__file__).parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vocab.schemas", description=__doc__)
    parser.add_argument("--write", action="store_true", help="rewrite the schema files")
    args = parser.parse_args(argv)
    stale = []
    for name, content in generate(SCHEMA_BASE_URL).items():
        target = HERE / name
        if target.exists() and target.read_bytes() == content:
            continue
        if args.write:
            target.write_bytes(content)
            print(f"wrote {target}")
        else:
            stale.append(name)
    if stale:
        print(
            "out of date (run python -m vocab.schemas --write): " + ", ".join(stale),
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
