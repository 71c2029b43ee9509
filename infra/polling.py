"""A background thread that runs rounds of work until it is stopped.

The bulk worker, the EU registry sync and the backup pusher each own one: a round is
`run_once()`, and after a round that did nothing (or failed, logged) the thread waits `poll_s`
or until `wake()` says there is work. One copy of this loop, so a fix to it reaches all three."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("dbp.polling")


class PollingThread:
    def __init__(self, name: str, run_once: Callable[[], object], poll_s: float) -> None:
        self.name = name
        self.poll_s = poll_s
        self.stopping = threading.Event()
        self._run_once = run_once
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        self.stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                worked = self._run_once()
            except Exception:  # noqa: BLE001 - the thread must outlive a bad round
                log.exception("%s: unexpected error; retrying shortly", self.name)
                worked = False
            if not worked:
                self._wake.wait(self.poll_s)
                self._wake.clear()
