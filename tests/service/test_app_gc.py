"""service.app: the collector's thresholds while the app runs (issue 16: full collections of
everything the app built stalled scans for ~100 ms)."""

from __future__ import annotations


def test_a_running_app_keeps_full_collections_rare(make_settings, sqlite_url):
    import gc

    from fastapi.testclient import TestClient

    from service.app import GC_THRESHOLDS, create_app

    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)  # CPython's own
    try:
        with TestClient(create_app(make_settings(database_url=sqlite_url))):
            assert gc.get_threshold() == GC_THRESHOLDS
            assert GC_THRESHOLDS[0] > 64 * 20  # above what 64 scans in flight hold
    finally:
        gc.set_threshold(*before)
