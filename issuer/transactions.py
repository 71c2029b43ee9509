"""Running a unit of work as one transaction, retried when a unique constraint reports that a
concurrent writer got there first (a status index drawn twice, a passport version issued twice)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from issuer import statuslists
from issuer.errors import ConcurrentChange

T = TypeVar("T")


def commit_with_retry(session: Session, work: Callable[[], T], *, attempts: int = 3) -> T:
    """Run `work` and commit; on a constraint violation roll back and run it again.

    `work` must start from what is in the database (it re-reads after the rollback), so a retry
    either succeeds or fails with the domain error a sequential request would have got.
    """
    for attempt in range(attempts):
        try:
            result = work()
            session.commit()
            return result
        except IntegrityError as exc:
            session.rollback()
            # Our picture of taken status indexes may be stale: another process took some.
            statuslists.allocator.forget()
            if attempt == attempts - 1:
                raise ConcurrentChange(
                    "a concurrent request changed the same data; retrying is safe"
                ) from exc
        except BaseException:
            session.rollback()
            raise
    raise AssertionError("unreachable")
