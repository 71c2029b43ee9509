"""The benchmark harness: rows, ratios, targets and wrk's output, without running a benchmark."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench.harness import Row, Stat, Target, skipped
from bench.services import _duration, cpu_seconds, parse_wrk

WRK_OUTPUT = """Running 4s test @ http://127.0.0.1:40000
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    12.61ms    3.02ms  40.11ms   81.20%
    Req/Sec     5.08k   312.11     5.50k    85.00%
  Latency Distribution
     50%   12.03ms
     75%   13.90ms
     90%   15.80ms
     99%    1.20s
  20233 requests in 4.00s, 4.61MB read
  Socket errors: connect 0, read 0, write 0, timeout 3
  Non-2xx or 3xx responses: 2
Requests/sec:   5057.38
Transfer/sec:      1.15MB
"""


def test_wrk_output_is_parsed_with_units():
    result = parse_wrk(WRK_OUTPUT)
    assert result.requests_per_s == pytest.approx(5057.38)
    assert result.p50_s == pytest.approx(0.01203)
    assert result.p99_s == pytest.approx(1.2)
    assert result.requests == 20233
    assert result.errors == 5  # 3 timeouts + 2 non-2xx


@pytest.mark.parametrize(
    ("text", "seconds"), [("950.00us", 950e-6), ("1.5ms", 1.5e-3), ("2s", 2.0), ("1.1m", 66.0)]
)
def test_wrk_durations(text, seconds):
    assert _duration(text) == pytest.approx(seconds)


def test_stat_is_median_min_max():
    stat = Stat.of([3.0, 1.0, 2.0, 10.0, 4.0])
    assert (stat.median, stat.min, stat.max, stat.n) == (3.0, 1.0, 10.0, 5)


def test_ratio_and_targets_on_ratio_and_value():
    ours, base = Stat.single(2.0), Stat.single(8.0)
    faster = Row("s", "x", ours, "b", base, Target("3x faster", "ratio", "<=", 1 / 3))
    assert faster.ratio == 0.25 and faster.met is True
    slow = Row("s", "x", base, "b", ours, Target("3x faster", "ratio", "<=", 1 / 3))
    assert slow.met is False
    rate = Row("s", "x", Stat.single(400, "1/s"), target=Target(">=500", "value", ">=", 500))
    assert rate.ratio is None and rate.met is False
    assert skipped("s", "x", "no wrk").met is None
    assert Row("s", "x", ours, "b", base).met is None  # no target: neither met nor missed


def test_a_missed_bulk_target_says_why():
    from bench.__main__ import _verdict
    from bench.bench_issuer import why_bulk_slow

    floor = Stat(20.0, 19.0, 21.0, "1/s", 3)
    target = Target(">= 500 passports/s", "value", ">=", 500)
    slow = Stat(32.0, 31.0, 33.0, "1/s", 3)
    why = why_bulk_slow(slow, floor, cores=2)
    assert why.startswith("signing floor 2 cores x 20/s = 40/s")
    row = Row("issuance", "bulk", slow, "floor", floor, target, note=why)
    assert _verdict(row) == f"MISSED (>= 500 passports/s): {why}"
    # Bulk under half of what signing allows: the committing thread is named.
    assert "committing thread" in why_bulk_slow(slow, Stat.single(57.0, "1/s"), cores=2)
    assert "committing thread" in why_bulk_slow(slow, Stat.single(400.0, "1/s"), cores=2)
    # The compiled libraries' own floor: its share of the CPU 500/s leaves per passport.
    library = Stat.single(290.0, "1/s")  # 3.45 ms per passport on one core
    why = why_bulk_slow(slow, floor, library, cores=2)
    assert "2 cores leave 4.0 ms of CPU per passport" in why
    assert "four signatures alone take 86%" in why
    fast = Stat.single(600.0, "1/s")
    assert why_bulk_slow(fast, floor, cores=2) == ""
    assert why_bulk_slow(fast, floor, library, cores=2) == ""
    assert _verdict(Row("issuance", "bulk", fast, "floor", floor, target)) == (
        "ok (>= 500 passports/s)"
    )


# a child that spends 0.3 s of CPU, says so, and waits for its stdin to close
_BUSY = """
import sys, time
while time.process_time() < 0.3:
    pass
print("done", flush=True)
sys.stdin.read()
"""


def test_cpu_seconds_counts_a_server_and_its_workers():
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import subprocess, sys; subprocess.run([sys.executable, '-c', {_BUSY!r}])",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout.readline() == "done\n"  # the worker (a child) spent its 0.3 s
        assert cpu_seconds(parent.pid) >= 0.25
    finally:
        parent.stdin.close()
        parent.wait(30)
