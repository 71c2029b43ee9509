"""GS1 keys for batteries: GTIN (any length, normalised to 14 digits, check digit verified), serial
numbers in the AI (21) character set, and GS1 Digital Link item URIs. GTIN parsing and the check
digit go through biip."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

from biip import ParseError
from biip.gtin import Gtin

from vocab.errors import VocabError
from vocab.urls import InvalidUrl, split_url

# GS1 General Specifications, character set 82 (AIs 21, 22 and 10): 1 to 20 characters.
_CSET82 = re.compile(r"""^[!"%&'()*+,\-./0-9:;<=>?A-Z_a-z]{1,20}$""")


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
        parts = ["/01/", self.gtin]
        if self.variant:
            parts += ["/22/", quote(self.variant, safe="")]
        if self.batch:
            parts += ["/10/", quote(self.batch, safe="")]
        parts += ["/21/", quote(self.serial, safe="")]
        return "".join(parts)

    def uri(self, public_url: str) -> str:
        return public_url.rstrip("/") + self.path()


def normalise_gtin(value: str) -> str:
    """GTIN-8/12/13/14 -> GTIN-14; the check digit must be right."""
    if not isinstance(value, str) or not value.isdigit():
        raise InvalidGs1Key(
            "gtin", f"{value!r} is not a GTIN: digits only, 8, 12, 13 or 14 of them"
        )
    try:
        return Gtin.parse(value).as_gtin_14()
    except ParseError as exc:
        raise InvalidGs1Key("gtin", str(exc)) from None


def check_cset82(field: str, value: str) -> str:
    if not isinstance(value, str) or not _CSET82.match(value):
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


_ITEM_PATH = re.compile(
    r"^(?:/[^/]+)*?/01/(?P<gtin>[^/]+)(?:/22/(?P<variant>[^/]+))?(?:/10/(?P<batch>[^/]+))?"
    r"/21/(?P<serial>[^/]+)$"
)


def parse_item_uri(uri: str) -> ItemKey:
    """The key in a GS1 Digital Link item URI (`http(s)://host[/prefix]/01/…/21/…`, no query)."""
    try:
        parts = split_url(uri, field="uri")
    except InvalidUrl:
        parts = None
    match = _ITEM_PATH.match(parts.path) if parts else None
    if not parts or parts.scheme not in ("https", "http") or not parts.netloc or not match:
        raise InvalidGs1Key(
            "uri",
            f"{uri!r} is not a GS1 Digital Link item URI https://HOST/01/GTIN/21/SERIAL "
            "(optional /22/VARIANT and /10/BATCH before /21)",
        )
    if parts.query or parts.fragment:
        raise InvalidGs1Key("uri", f"{uri!r} must not carry a query or fragment")

    def decoded(name: str) -> str | None:
        return unquote(match[name]) if match[name] is not None else None

    return item_key(decoded("gtin"), decoded("serial"), decoded("variant"), decoded("batch"))
