"""The consumer page: what a person sees after scanning the QR code on a battery.

Server-rendered HTML, no JavaScript, the stylesheet inlined (one request on a slow phone). The
public passport is grouped the way the Annex XIII catalogue groups attributes; the verification
panel lists every check the service ran on each credential; data of a credential whose signature
or issuer check failed is not shown at all.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any, Final

import orjson
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from resolver.page_values import SCROLL_HINT, did_label, humanise, number, render, unit
from resolver.verdict import CredentialPanel, Verdict, verdict
from vocab.catalogue import Tier, load_catalogue
from vocab.errors import VocabError
from vocab.lru import Lru
from vocab.paths import Key, Location, resolve
from vocab.tiers import merge_tiers

# catalogue group -> (section id, heading), in the order the page shows them
SECTIONS: Final = (
    ("general", "identity", "Identity and manufacturer"),
    ("carbon-footprint", "carbon-footprint", "Carbon footprint"),
    ("materials", "materials", "Materials and composition"),
    ("circularity", "circularity", "Circularity and recycled content"),
    ("performance", "performance", "Performance and durability"),
    ("labels", "labels", "Labels and conformity"),
    ("due-diligence", "due-diligence", "Supply-chain due diligence"),
)
STAGES: Final = {
    "rawMaterialAcquisitionAndPreProcessing": "Raw material acquisition and pre-processing",
    "mainProductProduction": "Main product production",
    "distribution": "Distribution",
    "endOfLifeAndRecycling": "End of life and recycling",
}
CATEGORIES: Final = {
    "ev": "Electric vehicle battery (EV)",
    "lmt": "Light means of transport battery (LMT)",
    "industrial": "Industrial battery",
    "stationary": "Stationary battery energy storage system",
}
BAR_AREA: Final = 220


@dataclass(frozen=True)
class Row:
    label: str
    value: Markup

    @property
    def wide(self) -> bool:
        """A value holding a table gets the section's whole width (it still scrolls inside its
        own box when wider than that)."""
        return "<table" in self.value


@dataclass(frozen=True)
class Bar:
    label: str
    value: str
    width: float
    y: int


@dataclass(frozen=True)
class Chart:
    title: str
    bars: list[Bar]
    height: int
    description: str


@dataclass(frozen=True)
class Section:
    id: str
    heading: str
    rows: list[Row]
    chart: Chart | None = None


@dataclass(frozen=True)
class HistoryRow:
    when: str
    what: str
    version: str
    by: str
    # Which passport: a battery's history spans the passports of its lives (Art 77(7)).
    passport: str = ""


@dataclass(frozen=True)
class DocumentRow:
    """A document a public credential links to (relatedResource), with its digest's verdict."""

    title: str
    kind: str
    language: str
    media_type: str
    url: str
    digest: str
    status: str  # "ok" (digest matches), "bad" (it does not), "none" (not checked)

    @property
    def status_text(self) -> str:
        return {
            "ok": "Unchanged: its digest matches the signed one.",
            "bad": "Changed after signing: its digest does not match.",
        }.get(self.status, "Not checked: this service cannot read it.")


def document_rows(
    panels: Sequence[CredentialPanel],
    facts: dict[str, dict[str, Any]],
    matches: Callable[[dict[str, Any]], bool | None],
) -> list[DocumentRow]:
    """The documents the authentic credentials list, each checked against its digest; `facts`
    gives title, type and language of documents this service keeps (by URL)."""
    rows: list[DocumentRow] = []
    seen: set[str] = set()
    for p in panels:
        if not p.authentic or not p.document:
            continue
        related = p.document.get("relatedResource") or []
        for resource in related if isinstance(related, list) else [related]:
            url = resource.get("id") if isinstance(resource, dict) else None
            if not isinstance(url, str) or url in seen:
                continue
            seen.add(url)
            fact = facts.get(url, {})
            verdict_of = matches(resource)
            rows.append(
                DocumentRow(
                    title=fact.get("title") or url.rsplit("/", 1)[-1],
                    kind=str(fact.get("type", "")).replace("-", " "),
                    language=fact.get("language", ""),
                    media_type=str(resource.get("mediaType", "")),
                    url=url,
                    digest=str(resource.get("digestSRI") or resource.get("digestMultibase", "")),
                    status={True: "ok", False: "bad"}.get(verdict_of, "none"),  # type: ignore[arg-type]
                )
            )
    return rows


@dataclass
class PassportPage:
    item_uri: str
    gtin: str
    serial: str
    battery_did: str
    holder_did: str
    category: str | None
    passport_id: str | None
    passport_version: int | None
    passport_state: str | None
    panels: list[CredentialPanel]
    history: list[dict[str, Any]] = field(default_factory=list)
    archived: bool = False
    removed_operator_note: str | None = None
    links: dict[str, str] = field(default_factory=dict)
    # Set while the battery's new operator has issued no passport since it was handed over:
    # the page shows the passport handed over, marked (resolver.sources.BatteryInfo.handover).
    handover: Any = None
    # Operator DIDs this service knows by name (its own operators).
    names: dict[str, str] = field(default_factory=dict)
    # When the checks shown were run: the page is built once per change and then served as is.
    checked_at: datetime | None = None
    # Documents the public credentials link to (relatedResource), digests checked.
    documents: list[DocumentRow] = field(default_factory=list)


@dataclass(frozen=True)
class Product:
    name: str | None
    model: str | None


def product(document: dict[str, Any]) -> Product | None:
    """The product's name and model, from the public passport data that verified."""
    general = document.get("general")
    if not isinstance(general, dict):
        return None
    name, model = general.get("productName"), general.get("model")
    name = name if isinstance(name, str) and name else None
    model = model if isinstance(model, str) and model else None
    return Product(name, model) if name or model else None


def operator_names(
    document: dict[str, Any], known: dict[str, str], signers: Sequence[str] = ()
) -> dict[str, str]:
    """Names for DIDs: this service's operators, and the parties the verified public data
    names with a DID as identifier (the operator's and manufacturer's legal names win).

    `signers` are issuers whose credentials passed the trust check, which holds only when the
    operator the passport names is its signer (its DID or an alsoKnownAs identifier,
    vocab.operator_identity): they are shown by the operator's name even when the passport names
    the operator by an EORI or LEI. A passport naming someone else gives its signer no name."""
    names = dict(known)
    general = document.get("general")
    for role in ("manufacturer", "operator"):
        party = general.get(role) if isinstance(general, dict) else None
        if not isinstance(party, dict):
            continue
        identifier, name = party.get("identifier"), party.get("name")
        if not isinstance(name, str):
            continue
        if isinstance(identifier, str) and identifier.startswith("did:"):
            names[identifier] = name
        if role == "operator" and identifier is not None:
            for signer in signers:
                names[signer] = name
    return names


def bound_signers(panels: Sequence[CredentialPanel]) -> list[str]:
    """Issuers of authentic credentials whose trust check (with the operator binding) passed."""
    return list(
        dict.fromkeys(
            p.issuer
            for p in panels
            if p.authentic and any(c.name == "trust" and c.status == "passed" for c in p.checks)
        )
    )


def public_document(panels: Sequence[CredentialPanel]) -> dict[str, Any]:
    """The public passport data of the credentials whose authenticity checks passed, merged."""
    subjects: list[dict[str, Any]] = []
    for p in panels:
        if not p.authentic or not isinstance(p.document, dict):
            continue
        subject = p.document.get("credentialSubject")
        for item in subject if isinstance(subject, list) else [subject]:
            if isinstance(item, dict):
                subjects.append({k: v for k, v in item.items() if k != "id"})
    try:
        return merge_tiers(subjects)
    except VocabError:
        # credentials of different passport versions disagree; show the newest only
        return merge_tiers(subjects[-1:])


def _with_unit(value: Any, unit_text: str) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return number(value) + ("" if unit_text == "%" else " ") + unit(unit_text)
    return value


def _under(location: Location, seen: list[Location]) -> bool:
    return any(location[: len(s)] == s for s in seen)


def _last_key(path: Any) -> str:
    keys = [s.name for s in path.steps if isinstance(s, Key)]
    return keys[-1] if keys else str(path)


def sections(document: dict[str, Any]) -> list[Section]:
    catalogue = load_catalogue()
    out = []
    for group, section_id, heading in SECTIONS:
        rows: list[Row] = []
        seen: list[Location] = []
        for attribute in catalogue.attributes:
            if attribute.group != group or attribute.tier is not Tier.PUBLIC:
                continue
            found = []
            for path in attribute.paths:
                for location, value in resolve(document, path):
                    if not _under(location, seen):
                        found.append((path, location, value))
            if not found:
                continue
            seen.extend(location for _, location, _ in found)
            if len(attribute.paths) == 1:
                values = [value for _, _, value in found]
                if str(attribute.paths[0]) == "general.batteryCategory":
                    values = [CATEGORIES.get(v, v) for v in values]
                if attribute.unit:
                    # bare numbers (percentages, C-rates) carry their unit in the catalogue
                    values = [_with_unit(v, attribute.unit) for v in values]
                shown = render(values[0] if len(values) == 1 else values)
            else:
                parts = [
                    Markup("<dt>{}</dt><dd>{}</dd>").format(humanise(_last_key(p)), render(v))
                    for p, _, v in found
                    if _last_key(p) != "type"
                ]
                shown = Markup('<dl class="nested">{}</dl>').format(Markup("").join(parts))
            rows.append(Row(attribute.name, shown))
        chart = carbon_chart(document) if group == "carbon-footprint" else None
        if rows or chart:
            out.append(Section(section_id, heading, rows, chart))
    return out


def carbon_chart(document: dict[str, Any]) -> Chart | None:
    """The four life-cycle stages of the carbon footprint (Annex II) as horizontal bars."""
    footprint = document.get("carbonFootprint")
    stages = footprint.get("lifecycleStages") if isinstance(footprint, dict) else None
    if not isinstance(stages, list):
        return None
    known = [s for s in stages if isinstance(s, dict) and isinstance(s.get("value"), int | float)]
    if not known:
        return None
    order = list(STAGES)
    known.sort(key=lambda s: order.index(s["stage"]) if s.get("stage") in order else len(order))
    top = max(max(float(s["value"]) for s in known), 0.0)
    bars = []
    for i, stage in enumerate(known):
        value = float(stage["value"])
        label = STAGES.get(stage.get("stage"), humanise(str(stage.get("stage", "stage"))))
        shown = number(value)
        if isinstance(stage.get("unit"), str):
            shown += " " + unit(stage["unit"])
        width = round(BAR_AREA * max(value, 0.0) / top, 1) if top > 0 else 0.0
        bars.append(Bar(label, shown, width, 8 + i * 44))
    description = "; ".join(f"{b.label}: {b.value}" for b in bars)
    return Chart("Carbon footprint by life-cycle stage", bars, 8 + len(bars) * 44, description)


_UTC_TIME = re.compile(r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(?::\d{2}(?:\.\d+)?)?Z")


def _readable_time(text: str) -> str:
    """`2026-12-04T17:13:55Z` -> `2026-12-04 17:13 UTC`; anything else as given."""
    match = _UTC_TIME.fullmatch(text)
    return f"{match[1]} {match[2]} UTC" if match else text


def history_rows(entries: Sequence[dict[str, Any]]) -> list[HistoryRow]:
    """Lifecycle history entries, whatever names the issuer gives their fields."""

    def first(entry: dict[str, Any], *names: str) -> str:
        for name in names:
            value = entry.get(name)
            if value not in (None, ""):
                return str(value)
        return ""

    rows = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        what = first(entry, "event", "type", "status", "state", "batteryStatus", "passportState")
        rows.append(
            HistoryRow(
                when=_readable_time(
                    first(entry, "at", "date", "timestamp", "occurredAt", "validFrom", "created")
                ),
                what=humanise(what) if what and " " not in what else what,
                version=first(entry, "passportVersion", "version"),
                by=first(entry, "by", "actor", "operator", "operatorDid", "issuer"),
                passport=first(entry, "passportId"),
            )
        )
    return rows


STYLESHEET = resources.files("resolver").joinpath("templates/passport.css").read_text("utf-8")
# The pages run no script at all; their one stylesheet is inlined (one request on a slow phone)
# and allowed by its hash, so an injected <style> or any script would not run. The QR code is
# a link, images are the inline SVG chart (part of the document) and the empty favicon.
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLESHEET.encode()).digest()).decode()
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; "
    f"style-src 'sha256-{_STYLE_HASH}'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("resolver", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["did_label"] = did_label
    env.globals["scroll_hint"] = SCROLL_HINT
    env.globals["stylesheet"] = Markup(STYLESHEET)  # exactly the text CSP's hash covers
    return env


# The data sections are a function of the public document's content and the bundled catalogue
# only (~10 ms to build for the ev example), so they are kept per process by the SHA-256 of the
# document's JSON: correct in every copy of the service, nothing to invalidate. Bounded LRU.
_sections_memo: Lru[list[Section]] = Lru(1024)


def memoized_sections(document: dict[str, Any]) -> list[Section]:
    try:
        data = orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # integers beyond 64 bits: orjson refuses them, so build uncached
        return sections(document)
    key = hashlib.sha256(data).digest()
    found = _sections_memo.get(key)
    if found is not None:
        return found
    built = sections(document)  # outside the lock: threads building different pages overlap
    _sections_memo.put(key, built)
    return built


def render_passport(page: PassportPage) -> str:
    panels = page.panels
    document = public_document(panels)
    return (
        _environment()
        .get_template("passport.html")
        .render(
            page=page,
            verdict=_page_verdict(page),
            sections=memoized_sections(document),
            history=history_rows(page.history),
            product=product(document),
            names=operator_names(document, page.names, bound_signers(panels)),
        )
    )


# Passport states other than active (issuer.passports), in words for the verdict.
INACTIVE_STATES: Final = {
    "superseded": "A newer version of this passport replaced it.",
    "inactive": "The battery was repurposed or remanufactured; a new passport replaced this one "
    "(Art 77(7)).",
    "archived": "The battery reached the end of its life; the passport is kept as an archive "
    "(Art 77(8)).",
}


def _page_verdict(page: PassportPage) -> Verdict:
    found = verdict(page.panels)
    state = page.passport_state
    if found.tone == "ok" and state and state not in ("active", "current", "issued"):
        reason = INACTIVE_STATES.get(state, "It is no longer the battery's current passport.")
        return Verdict("warn", f"Passport {state}", f"The credentials verify. {reason}")
    return found


def render_error(status: int, title: str, message: str, *, item_uri: str | None = None) -> str:
    return (
        _environment()
        .get_template("error.html")
        .render(status=status, title=title, message=message, item_uri=item_uri)
    )


def render_model(
    *, gtin: str, anchor: str, linkset: str, asked_for: str | None, serial: str | None
) -> str:
    """The page of a battery model (GS1 walk-up from a URI without a registered serial)."""
    return (
        _environment()
        .get_template("model.html")
        .render(gtin=gtin, anchor=anchor, linkset=linkset, asked_for=asked_for, serial=serial)
    )
