"""The outcome of a verification: every check that ran, by name, with what it found. The types are
the verification core's (`proofs.verification`), which the wallet shares."""

from __future__ import annotations

from proofs.verification import Check, Result

__all__ = ["Check", "Result"]
