"""What every benchmark row is made of, and the timing loops that fill it.

A row compares our figure with a baseline measured in the same run (absolute times on a shared
2-core machine drift by 2-4x between runs; ratios drift much less). Each figure is the median of
several repeats, with their min and max. `ratio` is always ours / baseline of the medians, so for
times lower is better and for rates (requests/s, passports/s) higher is better; a target says
which way it points.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal

Unit = Literal["s", "1/s", "count"]


def quick() -> bool:
    """BENCH_QUICK=1: fewer repeats, shorter load runs, smaller data sets."""
    return os.environ.get("BENCH_QUICK", "") not in ("", "0")


@dataclass(frozen=True)
class Stat:
    """Median, min and max of repeated measurements, in `unit` (seconds, per second, a count)."""

    median: float
    min: float
    max: float
    unit: Unit = "s"
    n: int = 1

    @classmethod
    def of(cls, samples: Sequence[float], unit: Unit = "s") -> Stat:
        if not samples:
            raise ValueError("no samples")
        return cls(statistics.median(samples), min(samples), max(samples), unit, len(samples))

    @classmethod
    def single(cls, value: float, unit: Unit = "s") -> Stat:
        return cls(value, value, value, unit, 1)


@dataclass(frozen=True)
class Target:
    """An aim from issue 8: `on` the ratio or on our value, `op` bound; `text` says it in words."""

    text: str
    on: Literal["ratio", "value"]
    op: Literal["<=", ">="]
    bound: float

    def met(self, row: Row) -> bool | None:
        value = row.ratio if self.on == "ratio" else row.ours.median if row.ours else None
        if value is None:
            return None
        return value <= self.bound if self.op == "<=" else value >= self.bound


@dataclass(frozen=True)
class Row:
    section: str
    name: str
    ours: Stat | None
    baseline_name: str = ""
    baseline: Stat | None = None
    target: Target | None = None
    note: str = ""  # why there is no value (skipped), or why a target was missed
    # Raw numbers for the plot and the JSON (e.g. attributes -> seconds); not printed.
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def ratio(self) -> float | None:
        if self.ours is None or self.baseline is None or self.baseline.median == 0:
            return None
        return self.ours.median / self.baseline.median

    @property
    def met(self) -> bool | None:
        return None if self.target is None else self.target.met(self)

    def as_dict(self) -> dict:
        out = asdict(self)
        out["ratio"] = self.ratio
        out["met"] = self.met
        return out


def skipped(section: str, name: str, why: str) -> Row:
    return Row(section, name, None, note=f"skipped: {why}")


def _loops_for(fn: Callable[[], object], min_time: float) -> int:
    """How many calls of `fn` take about `min_time` (after one warming call)."""
    fn()
    n = 1
    while True:
        start = time.perf_counter()
        for _ in range(n):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed >= min_time / 4:
            return max(1, int(n * min_time / max(elapsed, 1e-9)))
        n *= 2


def _sample(fn: Callable[[], object], loops: int) -> float:
    start = time.perf_counter()
    for _ in range(loops):
        fn()
    return (time.perf_counter() - start) / loops


def repeats() -> int:
    return 5 if quick() else 9


def per_op(fn: Callable[[], object], *, min_time: float = 0.1) -> Stat:
    """Seconds per call of `fn`: median, min, max over `repeats()` timed loops."""
    loops = _loops_for(fn, min_time)
    return Stat.of([_sample(fn, loops) for _ in range(repeats())])


def per_op_pair(
    ours: Callable[[], object], baseline: Callable[[], object], *, min_time: float = 0.1
) -> tuple[Stat, Stat]:
    """Both timed in alternation, so a burst of load from elsewhere hits both alike."""
    loops_ours, loops_base = _loops_for(ours, min_time), _loops_for(baseline, min_time)
    a, b = [], []
    for _ in range(repeats()):
        a.append(_sample(ours, loops_ours))
        b.append(_sample(baseline, loops_base))
    return Stat.of(a), Stat.of(b)


def compare(
    name: str,
    ours: Callable[[], object],
    baseline_name: str,
    baseline: Callable[[], object],
    *,
    section: str = "",
    target: Target | None = None,
    goal: float | None = None,
) -> Row:
    """A time-per-operation row; `goal` is the older form of a ratio target (ratio <= goal)."""
    if goal is not None and target is None:
        target = Target(f"ratio <= {goal:g}", "ratio", "<=", goal)
    a, b = per_op_pair(ours, baseline)
    return Row(section, name, a, baseline_name, b, target)
