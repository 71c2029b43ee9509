"""Proactive content negotiation on `Accept` (RFC 9110 section 12.5.1), with quality values.

An offer matches the most specific media range that covers it (`type/subtype;params` over
`type/subtype` over `type/*` over `*/*`) and takes that range's `q`. The offer with the highest
`q` wins; ties go to the server's order of preference. No acceptable offer is a 406.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from resolver.errors import ResolverError

# A browser sends ~200 bytes; a header far beyond that is abuse, not negotiation.
MAX_ACCEPT_BYTES = 4096
MAX_RANGES = 64


class NotAcceptable(ResolverError):
    code = "not-acceptable"
    status = 406

    def __init__(self, message: str, supported: Sequence[str]) -> None:
        super().__init__(message)
        self.problem_extensions = {"supported": list(supported)}


class InvalidAccept(ResolverError):
    code = "invalid-accept"
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.problem_extensions = {"field": "Accept"}


@dataclass(frozen=True)
class MediaRange:
    type: str
    subtype: str
    params: dict[str, str] = field(default_factory=dict)
    q: float = 1.0

    def specificity(self, offer: MediaRange) -> int:
        """How closely this range matches `offer`: -1 no match, 0 `*/*` ... 3 with parameters."""
        if self.type == "*":
            return 0 if not self.params else -1
        if self.type != offer.type:
            return -1
        if self.subtype == "*":
            return 1 if not self.params else -1
        if self.subtype != offer.subtype:
            return -1
        if not self.params:
            return 2
        return 3 if all(offer.params.get(k) == v for k, v in self.params.items()) else -1


def _parse_params(pieces: list[str]) -> tuple[dict[str, str], float] | None:
    params: dict[str, str] = {}
    q = 1.0
    for piece in pieces:
        name, sep, value = piece.partition("=")
        name, value = name.strip().lower(), value.strip()
        if not sep or not name:
            return None
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        if name == "q":
            try:
                q = float(value)
            except ValueError:
                return None
            if not 0.0 <= q <= 1.0:
                return None
        else:
            params[name] = value
    return params, q


def parse_media_type(text: str) -> MediaRange | None:
    """`type/subtype;param=value;q=0.5`, lower-cased names; None when malformed."""
    head, *pieces = text.split(";")
    main, sep, sub = head.strip().lower().partition("/")
    if not sep or not main or not sub or (main == "*" and sub != "*"):
        return None
    parsed = _parse_params(pieces)
    if parsed is None:
        return None
    return MediaRange(main, sub, parsed[0], parsed[1])


# Clients send few distinct Accept headers (a browser's, a linkset client's): a QR scan parsed
# the same header two or three times (which answer to read, which to serve), about 5% of its
# CPU under wrk. Bounded caches keyed by the header text alone; errors are not cached.
_CACHED = 512


def parse_accept(header: str) -> list[MediaRange]:
    return list(_parse_accept(header))


@lru_cache(maxsize=_CACHED)
def _parse_accept(header: str) -> tuple[MediaRange, ...]:
    if len(header) > MAX_ACCEPT_BYTES:
        raise InvalidAccept(f"the Accept header is longer than {MAX_ACCEPT_BYTES} bytes")
    members = [m for m in header.split(",") if m.strip()]
    if len(members) > MAX_RANGES:
        raise InvalidAccept(f"the Accept header lists more than {MAX_RANGES} media ranges")
    # Malformed members are ignored (RFC 9110 lets a server disregard what it cannot parse);
    # if nothing usable is left, negotiation ends in 406 below.
    return tuple(r for r in (parse_media_type(m) for m in members) if r is not None)


def quality(ranges: Sequence[MediaRange], offer: str) -> float:
    """The `q` the client gives `offer`: that of the most specific range matching it, else 0."""
    wanted = _offer(offer)
    assert wanted is not None, offer
    best, q = -1, 0.0
    for media_range in ranges:
        level = media_range.specificity(wanted)
        if level > best:
            best, q = level, media_range.q
    return q


@lru_cache(maxsize=64)
def _offer(offer: str) -> MediaRange | None:
    return parse_media_type(offer)


def choose(accept: str | None, offers: Sequence[str]) -> str:
    """The offer to send for `accept` (None or empty means anything); NotAcceptable if none."""
    if accept is None or not accept.strip():
        return offers[0]
    return _choose(accept, tuple(offers))


@lru_cache(maxsize=_CACHED)
def _choose(accept: str, offers: tuple[str, ...]) -> str:
    ranges = _parse_accept(accept)
    best, best_q = None, 0.0
    for offer in offers:
        q = quality(ranges, offer)
        if q > best_q:
            best, best_q = offer, q
    if best is None:
        raise NotAcceptable(
            f"none of the media types in Accept ({accept.strip()[:200]}) is available here; "
            f"supported: {', '.join(offers)}",
            offers,
        )
    return best


def prefers_html(accept: str | None) -> bool:
    """Whether the client names HTML explicitly (a browser): errors then get a page, not JSON."""
    if not accept:
        return False
    try:
        ranges = parse_accept(accept)
    except InvalidAccept:
        return False
    html = next((r for r in ranges if (r.type, r.subtype) == ("text", "html")), None)
    return html is not None and html.q > 0


def names_a_type(accept: str | None) -> bool:
    """Whether `accept` names a media type (or a `type/*` range) with q > 0, rather than only
    `*/*` or nothing. GS1 conformant resolver: a request that asks for no link type is
    redirected to the default link; a client naming what it wants is answered by negotiation.
    A header with nothing usable counts as naming something (negotiation then says 406)."""
    if not accept or not accept.strip():
        return False
    if len(accept) > MAX_ACCEPT_BYTES:
        return True  # negotiation reports it (400); not kept in the cache below
    return _names_a_type(accept)


# every scan asks (service.scans): cached by the header text, like the parse it rests on
@lru_cache(maxsize=_CACHED)
def _names_a_type(accept: str) -> bool:
    try:
        ranges = parse_accept(accept)
    except InvalidAccept:
        return True  # negotiation reports it (400)
    return not ranges or any(r.type != "*" and r.q > 0 for r in ranges)
