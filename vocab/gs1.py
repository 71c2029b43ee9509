"""GS1 keys for batteries: GTIN (any length, normalised to 14 digits, check digit verified), serial
numbers in the AI (21) character set, and GS1 Digital Link item URIs. GTIN parsing and the check
digit go through biip."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Final
from urllib.parse import quote, unquote

from biip import ParseError
from biip.gtin import Gtin

from vocab.errors import VocabError
from vocab.urls import InvalidUrl, split_url

# GS1 General Specifications, character set 82 (AIs 21, 22 and 10): 1 to 20 characters. Used
# with fullmatch: `$` would let a trailing newline (`%0A` in a path) through.
_CSET82 = re.compile(r"""[!"%&'()*+,\-./0-9:;<=>?A-Z_a-z]{1,20}""")


class InvalidGs1Key(VocabError):
    code = "invalid-gs1-key"
    status = 400

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.problem_extensions = {"field": field}


@dataclass(frozen=True)
class ItemKey:
    """A battery's GS1 identity: GTIN-14 + serial, optionally with variant and batch."""

    gtin: str
    serial: str
    variant: str | None = None
    batch: str | None = None

    def path(self) -> str:
        """`/01/{gtin}[/22/{variant}][/10/{batch}]/21/{serial}`, values percent-encoded."""
        # DigitalLinkPath.path's text, without making one (a scan asks for it)
        return _path(self.gtin, self.variant or None, self.batch or None, self.serial)

    def uri(self, public_url: str) -> str:
        return public_url.rstrip("/") + self.path()


def normalise_gtin(value: str) -> str:
    """GTIN-8/12/13/14 -> GTIN-14; the check digit must be right."""
    if not isinstance(value, str) or not value.isdigit():
        raise InvalidGs1Key(
            "gtin", f"{value!r} is not a GTIN: digits only, 8, 12, 13 or 14 of them"
        )
    return _gtin_14(value)


# A GTIN names a battery model, not one battery: scans of many serials repeat a few GTINs. biip's
# parse (prefix tables, check digit) was ~7% of a QR scan's CPU under wrk (py-spy, 64
# connections, random batteries of one model); the result of a string is always the same. Errors
# are not cached (lru_cache does not keep exceptions).
@lru_cache(maxsize=4096)
def _gtin_14(value: str) -> str:
    try:
        return Gtin.parse(value).as_gtin_14()
    except ParseError as exc:
        raise InvalidGs1Key("gtin", str(exc)) from None


def check_cset82(field: str, value: str) -> str:
    if not isinstance(value, str) or not _CSET82.fullmatch(value):
        raise InvalidGs1Key(
            field,
            f"{value!r} must be 1 to 20 characters of the GS1 AI character set 82 "
            "(letters, digits and !\"%&'()*+,-./:;<=>?_)",
        )
    return value


def item_key(
    gtin: str, serial: str, variant: str | None = None, batch: str | None = None
) -> ItemKey:
    return ItemKey(
        normalise_gtin(gtin),
        check_cset82("serial", serial),
        check_cset82("variant", variant) if variant is not None else None,
        check_cset82("batch", batch) if batch is not None else None,
    )


# --- GS1 Digital Link URI syntax: the one reading of `/01/{gtin}[/22/…][/10/…][/21/…]` ---------
# The resolver (request paths), the verifier (access paths), identifiers in credentials and the
# JSON schema pattern all use what is below.

# Key qualifiers of AI 01 in the order GS1 Digital Link writes them, each at most once.
QUALIFIERS: Final = ("22", "10", "21")
QUALIFIER_FIELDS: Final = {"22": "variant", "10": "batch", "21": "serial"}
# JSON schema (ECMA 262) pattern of an item URI as identifiers are stored: GTIN-14, no query.
ITEM_URI_PATTERN: Final = (
    r"^https?://[^/?#\s]+(/[^/?#\s]+)*?/01/\d{14}(/22/[^/?#\s]+)?(/10/[^/?#\s]+)?"
    r"/21/[^/?#\s]+$"
)
GTIN14_SEGMENT: Final = re.compile(r"/01/[0-9]{14}/")


class MalformedDigitalLink(VocabError):
    """GS1 Digital Link syntax broken after the GTIN: a qualifier without its value, qualifiers
    out of order or repeated, an unknown segment. GS1's conformant resolver standard: "SHALL
    extract and syntactically validate the URI and report errors with an HTTP response code of
    400"."""

    code = "invalid-digital-link"
    status = 400


@dataclass(frozen=True)
class DigitalLinkPath:
    """A GS1 Digital Link path on AI 01: the GTIN-14, the qualifiers present (decoded), and the
    raw segments after them (a resolver's sub-resources)."""

    gtin: str
    variant: str | None = None
    batch: str | None = None
    serial: str | None = None
    rest: tuple[str, ...] = ()

    def item_key(self) -> ItemKey | None:
        """The item key when the path names a serial (the item level), else None."""
        if self.serial is None:
            return None
        return ItemKey(self.gtin, self.serial, self.variant, self.batch)

    def path(self) -> str:
        """`/01/{gtin}` and the qualifiers present, percent-encoded (no sub-resources)."""
        return _path(self.gtin, self.variant, self.batch, self.serial)


def _path(gtin: str, variant: str | None, batch: str | None, serial: str | None) -> str:
    parts = ["/01/", gtin]
    for ai, value in (("22", variant), ("10", batch), ("21", serial)):
        if value is not None:
            parts += [f"/{ai}/", quote(value, safe="")]
    return "".join(parts)


# The path of a battery's QR code as we print it: /01/{GTIN-14}/21/{serial}, no other qualifier,
# no percent-escape, at most one lower-case sub-resource. The serial's characters are a subset of
# character set 82, so only the GTIN's check digit is left to check; `parse_path` answers such a
# path without its general walk (~4.5 -> ~1.5 us, a QR scan's parse; tests/vocab/test_vocab_gs1.py
# compares the two on generated paths).
_PLAIN_ITEM_PATH = re.compile(r"/01/(\d{14})/21/([0-9A-Za-z._\-]{1,20})(?:/([a-z][a-z.]*))?/?")


def plain_item(raw_path: str) -> tuple[ItemKey, str | None, str] | None:
    """For a plain item path (`_PLAIN_ITEM_PATH`): its key, its sub-resource and its canonical
    path (`ItemKey.path()`: the GTIN-14 and serial as written, nothing to escape); else None.
    A QR scan's whole parse, without the DigitalLinkPath that `parse_path` makes on the way
    (~4.2 -> ~1.4 us with the canonical path, timeit)."""
    plain = _PLAIN_ITEM_PATH.fullmatch(raw_path)
    if plain is None:
        return None
    gtin, serial, resource = plain.groups()
    key = ItemKey(normalise_gtin(gtin), serial)
    return key, resource, f"/01/{gtin}/21/{serial}"


def parse_path(raw_path: str) -> DigitalLinkPath:
    """Read a raw (still percent-encoded) path that starts with `/01/`: `%2F` inside a value does
    not split it. A trailing slash is tolerated (GS1: the URI means the same without it).

    Values are checked (`InvalidGs1Key`, naming the field); broken qualifier syntax is
    `MalformedDigitalLink`. Segments after the qualifiers are returned as `rest`, except one
    that looks like a qualifier (`/21`, `/10/B/21`, `/99/x` before any sub-resource is the
    caller's to refuse)."""
    plain = _PLAIN_ITEM_PATH.fullmatch(raw_path)
    if plain is not None:
        gtin, serial, resource = plain.groups()
        rest = () if resource is None else (resource,)
        return DigitalLinkPath(normalise_gtin(gtin), serial=serial, rest=rest)
    return _walk_path(raw_path)


def _walk_path(raw_path: str) -> DigitalLinkPath:
    """`parse_path` for any path."""
    segments = raw_path.split("/")[1:]  # "" before the leading slash
    if len(segments) < 2 or segments[0] != "01":
        raise MalformedDigitalLink(f"{raw_path!r} is not a GS1 Digital Link path /01/GTIN/…")
    rest = segments[2:]
    if rest and rest[-1] == "":
        rest = rest[:-1]
    values: dict[str, str] = {}
    while len(rest) >= 2 and rest[0] in QUALIFIERS:
        ai = rest[0]
        later = QUALIFIERS[QUALIFIERS.index(ai) + 1 :]
        if ai in values or any(q in values for q in later):
            raise MalformedDigitalLink(
                f"{raw_path!r}: qualifier {ai} is repeated or out of order; GS1 Digital Link "
                "orders them /22/ then /10/ then /21/, each at most once"
            )
        values[ai] = unquote(rest[1])
        rest = rest[2:]
        if ai == "21":
            break
    if rest and rest[0] in QUALIFIERS:
        raise MalformedDigitalLink(f"{raw_path!r}: qualifier {rest[0]} has no value")
    gtin = normalise_gtin(unquote(segments[1]))
    checked = {
        QUALIFIER_FIELDS[ai]: check_cset82(QUALIFIER_FIELDS[ai], value)
        for ai, value in values.items()
    }
    return DigitalLinkPath(gtin, rest=tuple(rest), **checked)


def _item_path_in(path: str) -> str | None:
    """The part of `path` from its first `/01/` segment on (a prefix before it is allowed)."""
    segments = path.split("/")
    if "01" not in segments[1:-1]:
        return None
    return "/" + "/".join(segments[segments.index("01", 1) :])


def item_key_in_path(path: str, *, field: str = "uri") -> ItemKey:
    """The key of a path holding an item URI's path (`[/prefix]/01/…/21/…`, raw), nothing after
    the serial."""
    found = _item_path_in(path)
    try:
        parsed = parse_path(found) if found is not None else None
    except MalformedDigitalLink:
        parsed = None
    key = parsed.item_key() if parsed is not None and not parsed.rest else None
    if key is None or path.endswith("/"):
        raise InvalidGs1Key(
            field,
            f"{unquote(path)!r} is not a GS1 Digital Link item path /01/GTIN/21/SERIAL "
            "(optional /22/VARIANT and /10/BATCH before /21)",
        )
    return key


def parse_item_uri(uri: str) -> ItemKey:
    """The key in a GS1 Digital Link item URI (`http(s)://host[/prefix]/01/…/21/…`, no query)."""
    try:
        parts = split_url(uri, field="uri")
    except InvalidUrl:
        parts = None
    if not parts or parts.scheme not in ("https", "http") or not parts.netloc:
        raise InvalidGs1Key(
            "uri",
            f"{uri!r} is not a GS1 Digital Link item URI https://HOST/01/GTIN/21/SERIAL "
            "(optional /22/VARIANT and /10/BATCH before /21)",
        )
    if parts.query or parts.fragment:
        raise InvalidGs1Key("uri", f"{uri!r} must not carry a query or fragment")
    try:
        return item_key_in_path(parts.path)
    except InvalidGs1Key as exc:
        if exc.field != "uri":
            raise
        raise InvalidGs1Key(
            "uri",
            f"{uri!r} is not a GS1 Digital Link item URI https://HOST/01/GTIN/21/SERIAL "
            "(optional /22/VARIANT and /10/BATCH before /21)",
        ) from None
