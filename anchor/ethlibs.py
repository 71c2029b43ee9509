"""Import the Ethereum libraries without their process-wide side effect.

`py_ecc` (pulled in by eth-account and web3) raises the interpreter's recursion limit to 100,000
when it is imported, and py-evm (`eth`, under eth-tester) to 12,288. That would silently change how
every other part of the service handles deeply nested input (e.g. `proofs.canonical` turns a
RecursionError into "the document nests too deeply"), and let a deep document recurse far past
what a thread's C stack is sized for. dbp needs none of it: its contract makes no nested calls.

`load()` imports them once with the limit saved and restored. Every anchor module calls it before
importing web3, eth-account or eth-tester (and the anchor tests do so at collection time).
"""

from __future__ import annotations

import sys
import threading

_lock = threading.Lock()
_loaded = False


def load() -> None:
    global _loaded
    if _loaded:
        return
    with _lock:
        if _loaded:
            return
        limit = sys.getrecursionlimit()
        try:
            import eth  # noqa: F401  (py-evm)
            import eth_account  # noqa: F401
            import eth_tester  # noqa: F401
            import py_ecc  # noqa: F401
            import web3  # noqa: F401
        finally:
            sys.setrecursionlimit(limit)
        _loaded = True
