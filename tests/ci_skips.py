"""No silent skips in CI (a pytest plugin; tests/conftest.py imports its hooks).

A skip hides a test that did not run. With CI=true (.ci/run sets it), a skip is a failure unless
its reason starts with NOT_APPLICABLE: a designed backend combination in which the test has
nothing to check (e.g. "not_applicable: anvil keeps its own state"), never a missing tool,
server, package or data file (install those in .ci/services). tests/README.md says the same."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

NOT_APPLICABLE = "not_applicable:"


def ci_strict() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def _skip_reason(longrepr: object) -> str:
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def refuse_silent_skip(report: pytest.TestReport | pytest.CollectReport) -> None:
    """Turn a skip without a not_applicable reason into a failure when CI=true."""
    if not (ci_strict() and report.skipped) or hasattr(report, "wasxfail"):
        return
    reason = _skip_reason(report.longrepr)
    if reason.startswith(NOT_APPLICABLE):
        return
    report.outcome = "failed"
    report.longrepr = (
        f"skipped with CI=true: {reason}\n(a skip in CI must say '{NOT_APPLICABLE} ...' for a "
        "designed backend combination; otherwise install what the test needs in .ci/services)"
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    refuse_silent_skip(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    outcome = yield
    refuse_silent_skip(outcome.get_result())  # a module-level skip (importorskip) too
