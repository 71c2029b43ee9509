"""URLs from outside, split once and checked whole.

`urllib.parse.urlsplit` raises ValueError for some inputs (an unclosed IPv6 bracket as in
`http://[/01/x`) and `.port` raises later for a port that is not a number in range, so a URL
taken apart in a request handler could turn bad input into a 500. Every URL that comes from a
request, a document or a setting goes through `split_url`, which raises one specific error."""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit

from vocab.errors import VocabError


class InvalidUrl(VocabError, ValueError):
    """A value that should be a URL cannot be parsed as one."""

    code = "invalid-url"
    status = 400

    def __init__(self, field: str, value: object, reason: str) -> None:
        super().__init__(f"{field}: {value!r} is not a URL ({reason})")
        self.field = field


def split_url(value: object, *, field: str = "url") -> SplitResult:
    """`value` split into its parts, with host and port already checked (so `.hostname` and
    `.port` never raise); InvalidUrl for anything else."""
    if not isinstance(value, str):
        raise InvalidUrl(field, value, "not a string")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError as exc:
        raise InvalidUrl(field, value, str(exc)) from None
    return parts
