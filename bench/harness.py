"""Timing helpers shared by the benchmark modules."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    name: str
    ours_s: float
    baseline_name: str
    baseline_s: float
    goal: float | None = None  # ours/baseline must be at most this, when set

    @property
    def ratio(self) -> float:
        return self.ours_s / self.baseline_s

    @property
    def met(self) -> bool | None:
        return None if self.goal is None else self.ratio <= self.goal


def per_op(fn: Callable[[], object], *, repeat: int = 5, min_time: float = 0.2) -> float:
    """Median seconds per call of `fn` over `repeat` timed loops of at least `min_time` each."""
    fn()  # warm caches before timing
    n = 1
    while True:
        start = time.perf_counter()
        for _ in range(n):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed >= min_time / 4:
            break
        n *= 2
    loops = max(1, int(n * min_time / max(elapsed, 1e-9)))
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(loops):
            fn()
        samples.append((time.perf_counter() - start) / loops)
    return statistics.median(samples)


def compare(
    name: str,
    ours: Callable[[], object],
    baseline_name: str,
    baseline: Callable[[], object],
    *,
    goal: float | None = None,
) -> Row:
    return Row(name, per_op(ours), baseline_name, per_op(baseline), goal)
