"""Benchmarks, run by `make bench` (`python -m bench`).

Each `bench/bench_*.py` module exposes `run() -> list[Row]`. A row compares one operation of ours
against a baseline measured in the same run, so the printed ratio is meaningful on any machine.
"""
