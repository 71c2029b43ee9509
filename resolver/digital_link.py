"""GS1 Digital Link request paths:
`/01/{gtin}[/22/{variant}][/10/{batch}]/21/{serial}[/{resource}]`.

Paths are read from the raw (still percent-encoded) request path: a serial may contain `/`
(GS1 character set 82), which arrives as `%2F` and must not split the path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote

from resolver.errors import ResolverError
from vocab.gs1 import ItemKey, item_key

# Sub-resources of an item URI this resolver serves.
PASSPORT_RESOURCE: Final = "passport"  # the public credentials, whatever Accept says
ACCESS_RESOURCE: Final = "access"  # restricted data: POST a presentation (verifier)
QR_RESOURCES: Final = {"qr.svg": "svg", "qr.png": "png"}
RESOURCES: Final = frozenset({PASSPORT_RESOURCE, ACCESS_RESOURCE, *QR_RESOURCES})


class NotAnItemPath(ResolverError):
    """A well-formed path this resolver has no answer for (a GTIN without a serial: model- or
    batch-level URIs, which it does not serve yet)."""

    code = "not-found"
    status = 404


class MalformedItemPath(ResolverError):
    """GS1 Digital Link syntax broken after the GTIN: a qualifier without its value, qualifiers
    out of order or repeated, an unknown segment. GS1's conformant resolver standard: "SHALL
    extract and syntactically validate the URI and report errors with an HTTP response code of
    400"."""

    code = "invalid-digital-link"
    status = 400


@dataclass(frozen=True)
class ItemRequest:
    key: ItemKey
    resource: str | None  # None: the item URI itself

    @property
    def canonical_path(self) -> str:
        """The item path with the GTIN written as GTIN-14, qualifiers kept."""
        return self.key.path()


def parse_item_path(raw_path: str) -> ItemRequest:
    """Parse a raw request path starting with `/01/`. Bad GS1 values raise `InvalidGs1Key` (400,
    naming the field); a path that is not an item path at all is a 404."""
    segments = raw_path.split("/")[1:]  # "" before the leading slash
    if not segments or segments[0] != "01" or len(segments) < 2:
        raise NotAnItemPath(f"{raw_path!r} is not a GS1 Digital Link path")
    values: dict[str, str] = {}
    rest = segments[2:]
    if rest and rest[-1] == "":
        # GS1: a resolver SHOULD tolerate a trailing slash; the URI means the same without it
        rest = rest[:-1]
    order = ["22", "10", "21"]
    while len(rest) >= 2 and rest[0] in order:
        ai = rest[0]
        # qualifiers come in GS1 order (22, 10, 21), each at most once
        if ai in values or any(later in values for later in order[order.index(ai) + 1 :]):
            raise MalformedItemPath(
                f"{raw_path!r}: qualifier {ai} is repeated or out of order; GS1 Digital Link "
                "orders them /22/ then /10/ then /21/, each at most once"
            )
        values[ai] = unquote(rest[1])
        rest = rest[2:]
        if ai == "21":
            break
    if rest and rest[0] in order:
        raise MalformedItemPath(f"{raw_path!r}: qualifier {rest[0]} has no value")
    if "21" not in values:
        if rest:
            raise MalformedItemPath(
                f"{raw_path!r}: {'/'.join(rest)!r} is not a GS1 key qualifier (22, 10, 21)"
            )
        raise NotAnItemPath(
            f"{raw_path!r} is not an item URI: this resolver answers "
            "/01/GTIN/21/SERIAL (optionally with /22/VARIANT and /10/BATCH before /21)"
        )
    resource = None
    if rest:
        if len(rest) != 1 or rest[0] not in RESOURCES:
            raise MalformedItemPath(
                f"{raw_path!r}: an item URI has the sub-resources {', '.join(sorted(RESOURCES))}"
            )
        resource = rest[0]
    key = item_key(unquote(segments[1]), values["21"], values.get("22"), values.get("10"))
    return ItemRequest(key, resource)
