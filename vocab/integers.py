"""Whole numbers from outside, within what the databases store.

A number larger than a signed 64-bit integer passes JSON and query parsing but fails in the
database driver (SQLite's OverflowError, PostgreSQL's NumericValueOutOfRange) or in `timedelta`,
which made `?after=99999999999999999999` a 500. Request integers are bounded here: query
parameters declare `le=INT64_MAX`, body members go through `whole_number`."""

from __future__ import annotations

from vocab.errors import VocabError

INT64_MAX = 2**63 - 1


class InvalidInteger(VocabError, ValueError):
    """A value that should be a whole number in a range is not."""

    code = "invalid-integer"
    status = 400

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def whole_number(value: object, *, field: str, minimum: int = 0, maximum: int = INT64_MAX) -> int:
    """`value` when it is an integer (not a boolean) from `minimum` to `maximum`."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInteger(field, f"{value!r} is not a whole number")
    if not minimum <= value <= maximum:
        raise InvalidInteger(field, f"{value} is not from {minimum} to {maximum}")
    return value
