"""RFC 9264 linksets (`application/linkset+json`) and their RFC 8288 `Link` header form."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from resolver.linktypes import LinkType

LINKSET_MEDIA_TYPE: Final = "application/linkset+json"


@dataclass(frozen=True)
class Target:
    href: str
    type: str | None = None
    title: str | None = None
    hreflang: tuple[str, ...] = ()
    extensions: tuple[tuple[str, Any], ...] = ()
    """Target attributes beyond RFC 8288 (UNTP's `method`, `accessRole`); linkset JSON only."""

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"href": self.href}
        if self.title:
            out["title"] = self.title
        if self.type:
            out["type"] = self.type
        if self.hreflang:
            out["hreflang"] = list(self.hreflang)
        out.update(self.extensions)
        return out


@dataclass
class Linkset:
    """The links of one context (the battery's item URI), by relation type, in insertion order."""

    anchor: str
    item_description: str | None = None
    links: dict[str, list[Target]] = field(default_factory=dict)

    def add(self, link_type: LinkType, target: Target) -> None:
        self.links.setdefault(link_type.rel, []).append(target)

    def targets(self, link_type: LinkType) -> list[Target]:
        return self.links.get(link_type.rel, [])

    def as_json(self) -> dict[str, Any]:
        context: dict[str, Any] = {"anchor": self.anchor}
        if self.item_description:
            # GS1 resolvers put a short human description of the item in each context
            context["itemDescription"] = self.item_description
        for rel, targets in self.links.items():
            context[rel] = [t.as_json() for t in targets]
        return {"linkset": [context]}


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _ext_value(value: str) -> str:
    """RFC 8187 `UTF-8''...` form for a parameter value that is not plain ASCII."""
    safe = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$&+-.^_`|~")
    return "UTF-8''" + "".join(
        ch if ch in safe else "".join(f"%{b:02X}" for b in ch.encode()) for ch in value
    )


def link_value(href: str, rel: str, target: Target | None = None, **params: str) -> str:
    """One link in RFC 8288 form: `<href>; rel="..."; type="..."; title="..."`."""
    parts = [f"<{href}>", f"rel={_quoted(rel)}"]
    fields = dict(params)
    if target is not None:
        if target.type:
            fields.setdefault("type", target.type)
        if target.title:
            fields.setdefault("title", target.title)
        if target.hreflang:
            fields.setdefault("hreflang", target.hreflang[0])
    for name, value in fields.items():
        if value.isascii() and value.isprintable():
            parts.append(f"{name}={_quoted(value)}")
        else:
            parts.append(f"{name}*={_ext_value(value)}")
    return "; ".join(parts)


def link_header(*, linkset_url: str, extra: tuple[str, ...] = ()) -> str:
    """The `Link` header for a response about a linkset's anchor: a pointer to the linkset
    itself (RFC 9264 section 6), then `extra` (a canonical link, the linkset's JSON-LD context).

    Not the links the linkset holds: the GS1-Conformant resolver standard deprecated listing
    every link in the Link header in its version 1.0.0 (February 2024; GS1's resolver test
    suite warns about it as `legacyLinkHeaders`). The linkset answers with all of them. It also
    kept ~2 KB out of every QR scan's answer, which uvicorn checks and copies byte by byte."""
    return ", ".join([link_value(linkset_url, "linkset", type=LINKSET_MEDIA_TYPE), *extra])
