"""A per-client rate limit (token buckets), safe across the threads of one process.

Each client (by address) may do `per_minute` requests in a burst and then one every
60/`per_minute` seconds. Buckets live in this process: with several processes behind a load
balancer (uvicorn --workers N, or N copies) each keeps its own, so a client gets up to N times
the rate overall, still bounded; an exact shared limit would need a shared store (the database
or a proxy's limiter), which one cheap POST does not justify. At most `max_clients` buckets are
kept (the least recently used go first), so a flood of addresses cannot exhaust memory."""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict


class RateLimited(Exception):
    """Too many requests from one client; `retry_after` is in whole seconds."""

    status = 429
    code = "rate-limited"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(retry_after)}


class RateLimit:
    def __init__(self, per_minute: int, *, what: str, max_clients: int = 10_000) -> None:
        self.capacity = float(per_minute)
        self.refill_per_s = per_minute / 60.0
        self.what = what
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, client: str) -> None:
        """One request of `client`, or RateLimited when its allowance is used up."""
        if self.capacity <= 0:
            return  # no limit configured
        now = time.monotonic()
        with self._lock:
            tokens, at = self._buckets.pop(client, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - at) * self.refill_per_s)
            allowed = tokens >= 1
            if allowed:
                tokens -= 1
            self._buckets[client] = (tokens, now)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        if not allowed:
            wait = max(1, math.ceil((1 - tokens) / self.refill_per_s))
            raise RateLimited(
                f"too many {self.what} from this client ({int(self.capacity)} a minute); try "
                f"again in {wait} s",
                wait,
            )
