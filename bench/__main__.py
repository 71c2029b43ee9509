"""`python -m bench [module ...]`: run `bench/bench_*.py`, print one table, write the results.

Writes bench/results/latest.json (rows + machine info), bench/results/latest.md (the table) and
the growth plot, and refreshes the table in bench/README.md. Exit status: 0 when every benchmark
ran, targets met or not (a missed target is printed MISSED: the targets are aims, see
bench/README.md); 1 when a benchmark failed to run.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import platform
import sys
import time
import traceback
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import bench
from bench.harness import Row, Stat, quick

RESULTS = Path(bench.__file__).parent / "results"
README = Path(bench.__file__).parent / "README.md"
TABLE_START, TABLE_END = "<!-- bench:table -->", "<!-- /bench:table -->"
# Modules in the order of issue 8; any other bench_*.py runs after them.
ORDER = ("proofs", "resolver", "issuer", "anchor")


def fmt(stat: Stat | None, *, spread: bool = False) -> str:
    if stat is None:
        return "-"

    def one(v: float) -> str:
        if stat.unit == "1/s":
            return f"{v:,.0f}/s" if v >= 100 else f"{v:.1f}/s"
        if stat.unit == "count":
            return f"{v:,.0f}" if v == int(v) else f"{v:,.2f}"
        if v >= 1:
            return f"{v:.2f} s"
        if v >= 1e-3:
            return f"{v * 1e3:.2f} ms"
        return f"{v * 1e6:.1f} µs"

    text = one(stat.median)
    if spread and stat.n > 1:
        text += f" [{one(stat.min)}..{one(stat.max)}]"
    return text


def _verdict(row: Row) -> str:
    if row.ours is None:
        return row.note
    if row.target is None:
        return ""
    if row.met or not row.note:
        return f"{'ok' if row.met else 'MISSED'} ({row.target.text})"
    return f"MISSED ({row.target.text}): {row.note}"


def _ratio(row: Row) -> str:
    return "-" if row.ratio is None else f"{row.ratio:.3g}"


def print_row(row: Row) -> None:
    print(
        f"  {row.name:<50} {fmt(row.ours, spread=True):>30}  vs {row.baseline_name:<34} "
        f"{fmt(row.baseline):>10}  ratio {_ratio(row):>7}  {_verdict(row)}",
        flush=True,
    )


def markdown(rows: list[Row]) -> str:
    lines = [
        "| section | figure | ours: median [min..max] | baseline | baseline median | ratio "
        "| target |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r.section} | {r.name} | {fmt(r.ours, spread=True)} | {r.baseline_name or '-'} "
            f"| {fmt(r.baseline)} | {_ratio(r)} | {_verdict(r) or '-'} |"
        )
    return "\n".join(lines) + "\n"


def machine() -> dict:
    versions = {}
    for name in ("pyld", "pyoxigraph", "cryptography", "jwcrypto", "fastapi", "uvicorn",
                 "SQLAlchemy", "psycopg", "web3"):  # fmt: skip
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "cores": os.cpu_count(),
        "load_average": os.getloadavg(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "versions": versions,
        "quick": quick(),
    }


def _refresh_readme(table: str, info: dict, when: str) -> None:
    if not README.exists():
        return
    text = README.read_text()
    if TABLE_START not in text or TABLE_END not in text:
        return
    head, rest = text.split(TABLE_START, 1)
    _, tail = rest.split(TABLE_END, 1)
    load = ", ".join(f"{x:.2f}" for x in info["load_average"])
    stamp = (
        f"Run {when}, {info['cores']} cores, load average at the end {load}, "
        f"Python {info['python']}{', BENCH_QUICK' if info['quick'] else ''}.\n\n"
    )
    README.write_text(head + TABLE_START + "\n" + stamp + table + TABLE_END + tail)


def main(selected: list[str]) -> int:
    found = [i.name for i in pkgutil.iter_modules(bench.__path__) if i.name.startswith("bench_")]
    names = sorted(found, key=lambda n: (ORDER.index(n[6:]) if n[6:] in ORDER else 99, n))
    if selected:
        unknown = set(selected) - {n[6:] for n in names}
        if unknown:
            print(f"unknown benchmark(s): {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        names = [n for n in names if n[6:] in selected]
    rows: list[Row] = []
    failed: list[str] = []
    started = time.monotonic()
    for name in names:
        print(f"# {name}", flush=True)
        t0 = time.monotonic()
        try:
            module = importlib.import_module(f"bench.{name}")
            for row in module.run():
                row = row if row.section else Row(**{**row.__dict__, "section": name[6:]})
                rows.append(row)
                print_row(row)
        except Exception:
            traceback.print_exc()
            failed.append(name)
            print(f"  FAILED: {name}", flush=True)
        print(f"  ({time.monotonic() - t0:.0f} s)", flush=True)

    info = machine()
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    RESULTS.mkdir(exist_ok=True)
    table = markdown(rows)
    result = {
        "when": when,
        "machine": info,
        "seconds": round(time.monotonic() - started, 1),
        "failed": failed,
        "rows": [r.as_dict() for r in rows],
    }
    partial = bool(selected)
    name = "partial" if partial else "latest"
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    (RESULTS / f"{name}.md").write_text(table)
    try:
        from bench import plot

        for path in plot.growth(rows, RESULTS):
            print(f"plot: {path}")
    except ImportError as exc:  # matplotlib is the `bench` extra
        print(f"no plot: {exc}")
    if not partial:
        _refresh_readme(table, info, when)
    missed = [r for r in rows if r.met is False]
    print(
        f"\n{len(rows)} rows, {len(missed)} targets missed, {len(failed)} benchmarks failed, "
        f"{time.monotonic() - started:.0f} s; results in {RESULTS / (name + '.json')}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
