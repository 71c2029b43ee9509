"""Run every `bench/bench_*.py` module and print each row with its ratio to its baseline."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import bench
from bench.harness import Row


def _fmt(seconds: float) -> str:
    if seconds >= 1e-3:
        return f"{seconds * 1e3:9.2f} ms"
    return f"{seconds * 1e6:9.1f} µs"


def main(selected: list[str]) -> int:
    rows: list[Row] = []
    for info in pkgutil.iter_modules(bench.__path__):
        if not info.name.startswith("bench_"):
            continue
        if selected and info.name.removeprefix("bench_") not in selected:
            continue
        module = importlib.import_module(f"bench.{info.name}")
        print(f"# {info.name}", flush=True)
        for row in module.run():
            rows.append(row)
            verdict = (
                "" if row.met is None else ("  ok" if row.met else f"  MISSED goal <= {row.goal}")
            )
            print(
                f"{row.name:<48} {_fmt(row.ours_s)}   vs {row.baseline_name:<36} "
                f"{_fmt(row.baseline_s)}   ratio {row.ratio:6.3f}{verdict}",
                flush=True,
            )
    missed = [r for r in rows if r.met is False]
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
