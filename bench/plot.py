"""The growth curves as a PNG (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from bench.harness import Row  # noqa: E402


def growth(rows: list[Row], out: Path) -> list[Path]:
    verify = [r for r in rows if r.extra.get("growth") == "verify" and r.ours]
    resolver = [r for r in rows if r.extra.get("growth") == "resolver" and r.ours]
    if not verify and not resolver:
        return []
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    left, right = axes
    if verify:
        xs = [r.extra["attributes"] for r in verify]
        for label, stats in (
            ("ours (eddsa-rdfc-2022 verify)", [r.ours for r in verify]),
            ("naive pyld + cryptography", [r.baseline for r in verify]),
        ):
            med = [s.median * 1e3 for s in stats]
            err = [[m - s.min * 1e3 for m, s in zip(med, stats, strict=True)],
                   [s.max * 1e3 - m for m, s in zip(med, stats, strict=True)]]  # fmt: skip
            left.errorbar(xs, med, yerr=err, marker="o", capsize=3, label=label)
        left.set_xscale("log")
        left.set_yscale("log")
        left.set_xlabel("attributes in the credential")
        left.set_ylabel("verify time, ms (median, min-max)")
        left.set_title("Verify time as credentials grow")
        left.legend()
    if resolver:
        series: dict[str, list[Row]] = {}
        for r in resolver:
            series.setdefault(r.extra["kind"], []).append(r)
        for kind, items in series.items():
            items.sort(key=lambda r: r.extra["batteries"])
            xs = [r.extra["batteries"] for r in items]
            right.plot(xs, [r.extra["p50_ms"] for r in items], marker="o", label=f"{kind} p50")
            right.plot(xs, [r.extra["p99_ms"] for r in items], marker="s", ls="--",
                       label=f"{kind} p99")  # fmt: skip
        right.set_xscale("log")
        right.set_yscale("log")
        right.set_xlabel("registered batteries (PostgreSQL)")
        right.set_ylabel("latency at 64 connections, ms")
        right.set_title("Resolver latency vs registry size")
        right.legend(fontsize=8)
    else:
        right.set_visible(False)
    fig.tight_layout()
    path = out / "growth.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [path]
