"""The one bounded cache: a least-recently-used map of at most `size` entries, safe to share
between threads. The per-process memos keep their entries in one: RDFC canonical forms
(`proofs.canonical`), anchor leaves (`anchor.leaves`), verification verdicts (`verifier.memo`) and
the consumer page's data sections (`resolver.page`).

It lives in `vocab`, the lowest layer, because `proofs` may not import `infra`; it knows nothing
of passports.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

V = TypeVar("V")

__all__ = ["DEFAULT_SIZE", "Lru"]

# A passport's public credential is ~9 KiB; a few thousand entries of verdicts (not documents)
# stay well under a few MiB.
DEFAULT_SIZE = 4096


class Lru(Generic[V]):
    """A bounded least-recently-used map, safe to share between the threadpool's threads."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self._size = size
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: Hashable, value: V) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def pop(self, key: Hashable, default: V) -> V:
        """Remove `key` and return its value (`default` when absent)."""
        with self._lock:
            return self._items.pop(key, default)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
