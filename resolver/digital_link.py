"""GS1 Digital Link request paths:
`/01/{gtin}[/22/{variant}][/10/{batch}][/21/{serial}][/{resource}]`.

The grammar is vocab.gs1's (`parse_path`); this module says which sub-resources the resolver
serves at each level. Paths are read from the raw (still percent-encoded) request path: a serial
may contain `/` (GS1 character set 82), which arrives as `%2F` and must not split the path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from resolver.errors import ResolverError
from vocab.gs1 import DigitalLinkPath, ItemKey, MalformedDigitalLink, parse_path, plain_item

# Sub-resources of an item URI this resolver serves.
PASSPORT_RESOURCE: Final = "passport"  # the public credentials, whatever Accept says
ACCESS_RESOURCE: Final = "access"  # restricted data: POST a presentation (verifier)
PAGE_RESOURCE: Final = "page"  # the consumer page, whatever Accept says (gs1:defaultLink)
QR_RESOURCES: Final = {"qr.svg": "svg", "qr.png": "png"}
RESOURCES: Final = frozenset({PASSPORT_RESOURCE, ACCESS_RESOURCE, PAGE_RESOURCE, *QR_RESOURCES})
# Sub-resources of a model- or batch-level URI (no serial).
MODEL_RESOURCES: Final = frozenset({PAGE_RESOURCE})

# GS1 Digital Link syntax errors (400 invalid-digital-link), under the resolver's old name.
MalformedItemPath = MalformedDigitalLink


class NotAnItemPath(ResolverError):
    """A well-formed GS1 Digital Link path without a serial (model or batch level) where an item
    URI is needed."""

    code = "not-found"
    status = 404


@dataclass(frozen=True)
class ItemRequest:
    key: ItemKey
    resource: str | None  # None: the item URI itself

    @property
    def canonical_path(self) -> str:
        """The item path with the GTIN written as GTIN-14, qualifiers kept."""
        # A scan asks two or three times (anchor, canonical link): made once, kept beside the
        # fields (frozen: it never changes). Not functools.cached_property, whose lock (3.11)
        # cost more than the path (py-spy under wrk).
        try:
            return self.__dict__["_canonical_path"]
        except KeyError:
            path = self.__dict__["_canonical_path"] = self.key.path()
            return path


@dataclass(frozen=True)
class ModelRequest:
    """A URI above the item level: `/01/{gtin}`, with `/22/` and `/10/` qualifiers or not."""

    path: DigitalLinkPath
    resource: str | None


def _resource(raw_path: str, rest: tuple[str, ...], allowed: frozenset[str]) -> str | None:
    if not rest:
        return None
    if len(rest) != 1 or rest[0] not in allowed:
        raise MalformedItemPath(
            f"{raw_path!r}: {'/'.join(rest)!r} is not a GS1 key qualifier (22, 10, 21) nor a "
            f"sub-resource here ({', '.join(sorted(allowed))})"
        )
    return rest[0]


def parse_link_path(raw_path: str) -> ItemRequest | ModelRequest:
    """Parse a raw request path starting with `/01/`: an item request when it names a serial,
    else a model-level one. Bad GS1 values raise `InvalidGs1Key` (400, naming the field);
    broken syntax raises `MalformedItemPath` (400)."""
    parsed = parse_path(raw_path)
    key = parsed.item_key()
    if key is None:
        return ModelRequest(parsed, _resource(raw_path, parsed.rest, MODEL_RESOURCES))
    return ItemRequest(key, _resource(raw_path, parsed.rest, RESOURCES))


def parse_item_path(raw_path: str) -> ItemRequest:
    """Like `parse_link_path`, for an item URI only: a path without a serial is a 404."""
    plain = plain_item(raw_path)
    if plain is not None and (plain[1] is None or plain[1] in RESOURCES):
        key, resource, canonical = plain
        request = ItemRequest(key, resource)
        request.__dict__["_canonical_path"] = canonical  # what `canonical_path` would make
        return request
    if not raw_path.startswith("/01/"):
        raise NotAnItemPath(f"{raw_path!r} is not a GS1 Digital Link path")
    request = parse_link_path(raw_path)
    if isinstance(request, ModelRequest):
        raise NotAnItemPath(
            f"{raw_path!r} is not an item URI: one battery is "
            "/01/GTIN/21/SERIAL (optionally with /22/VARIANT and /10/BATCH before /21)"
        )
    return request
