"""Passport values as short, escaped HTML for people: quantities with units, documents as links,
multilingual text in the reader's language, addresses on one line, nested data as lists."""

from __future__ import annotations

import re
from typing import Any, Final
from urllib.parse import unquote

from markupsafe import Markup, escape

UNITS: Final = {
    "degC": "°C",
    "kgCO2e/kWh": "kg CO₂e/kWh",
    "tCO2e": "t CO₂e",
    "kgCO2e": "kg CO₂e",
    "ohm": "Ω",
    "percent": "%",
    "W/Wh": "W/Wh",
}
_DURATION = re.compile(r"P(?:(?P<y>\d+)Y)?(?:(?P<m>\d+)M)?")
_URL = re.compile(r"https?://[^\s<>\"]+")
_LANGUAGE = re.compile(r"[a-z]{2,3}(?:-[A-Z]{2})?")
MAX_DEPTH: Final = 4
# Shown above a table only while it is wider than its box (passport.css): the table scrolls
# sideways inside the box, never the page.
SCROLL_HINT: Final = Markup(
    '<p class="scroll-hint" aria-hidden="true">Scroll sideways for more columns →</p>'
)


def humanise(name: str) -> str:
    """`batteryMass` -> `Battery mass`; `preConsumerShare` -> `Pre consumer share`."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).replace("_", " ").split()
    text = " ".join(w if w.isupper() and len(w) > 1 else w.lower() for w in words)
    return text[:1].upper() + text[1:]


def did_label(did: str) -> str:
    """A DID short enough to read where no name is known for it: `acme (host)` for a did:web
    under a path, the host for a bare did:web, the method and last characters otherwise."""
    if did.startswith("did:web:"):
        parts = did.removeprefix("did:web:").split(":")
        host = unquote(parts[0])
        return f"{unquote(parts[-1])} ({host})" if len(parts) > 1 else host
    method, _, rest = did.removeprefix("did:").partition(":")
    return f"did:{method}:…{rest[-8:]}" if len(rest) > 12 else did


def number(value: float | int) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}".replace(",", " ")  # thin grouping that reads in every language
    return f"{value:g}"


def unit(text: str) -> str:
    return UNITS.get(text, text)


def duration(text: str) -> str | None:
    match = _DURATION.fullmatch(text)
    if not match or not (match["y"] or match["m"]):
        return None
    parts = []
    for amount, singular in ((match["y"], "year"), (match["m"], "month")):
        if amount:
            parts.append(f"{int(amount)} {singular}{'' if int(amount) == 1 else 's'}")
    return " ".join(parts)


def _link(url: str, text: str | None = None) -> Markup:
    return Markup('<a href="{}" rel="nofollow noopener">{}</a>').format(url, text or url)


def _text(value: str) -> Markup:
    if _URL.fullmatch(value):
        return _link(value)
    pretty = duration(value)
    return escape(pretty if pretty else value)


def pick_language(values: dict[str, Any], language: str = "en") -> str | None:
    """A `{"en": ..., "de": ...}` map's text in `language`, else English, else the first."""
    if not values or not all(isinstance(k, str) and _LANGUAGE.fullmatch(k) for k in values):
        return None
    if not all(isinstance(v, str) for v in values.values()):
        return None
    return values.get(language) or values.get("en") or next(iter(values.values()))


def _address(address: dict[str, Any]) -> str:
    keys = ("streetAddress", "postalCode", "addressLocality", "addressRegion", "addressCountry")
    return ", ".join(str(address[k]) for k in keys if isinstance(address.get(k), str | int))


def render(value: Any, depth: int = 0) -> Markup:
    """`value` as safe HTML."""
    if value is None or value == [] or value == {}:
        return Markup("—")
    if isinstance(value, bool | int | float):
        return escape(number(value))
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, list):
        if len(value) == 1:
            return render(value[0], depth)
        if _is_table(value):
            return _table(value, depth)
        items = Markup("").join(Markup("<li>{}</li>").format(render(v, depth + 1)) for v in value)
        return Markup("<ul>{}</ul>").format(items)
    if not isinstance(value, dict) or depth > MAX_DEPTH:
        return escape(str(value))
    return _render_object(value, depth)


def _is_table(values: list[Any]) -> bool:
    """Several records of the same kind (materials, substances): a table reads best."""
    if not all(isinstance(v, dict) and v for v in values):
        return False
    if any(pick_language(v) is not None or "value" in v or "url" in v for v in values):
        return False
    return len({frozenset(v) for v in values}) <= 2


def _table(values: list[dict[str, Any]], depth: int) -> Markup:
    columns = list(dict.fromkeys(k for v in values for k in v if k not in ("type", "@type", "id")))
    head = Markup("").join(Markup('<th scope="col">{}</th>').format(humanise(c)) for c in columns)
    body = Markup("").join(
        Markup("<tr>{}</tr>").format(
            Markup("").join(
                Markup("<td>{}</td>").format(render(v.get(c), depth + 1) if c in v else "")
                for c in columns
            )
        )
        for v in values
    )
    return Markup(
        '<div class="scroll" role="region" aria-label="Table" tabindex="0">{}'
        "<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table></div>"
    ).format(SCROLL_HINT, head, body)


def _render_object(value: dict[str, Any], depth: int) -> Markup:
    text = pick_language(value)
    if text is not None:
        return _text(text)
    if "value" in value and isinstance(value["value"], int | float):
        shown = number(value["value"])
        if isinstance(value.get("unit"), str):
            shown += " " + unit(value["unit"])
        out = escape(shown)
        if isinstance(value.get("lastUpdate"), str):
            out += Markup(' <span class="muted">(as of {})</span>').format(value["lastUpdate"])
        return out
    if "name" in value and isinstance(value.get("postalAddress"), dict):
        line = escape(str(value["name"]))
        address = _address(value["postalAddress"])
        if address:
            line += Markup("<br>") + escape(address)
        for key in ("url", "email"):
            if isinstance(value.get(key), str):
                target = value[key] if key == "url" else f"mailto:{value[key]}"
                line += Markup("<br>") + _link(target, value[key])
        return line
    if isinstance(value.get("url"), str) and _URL.fullmatch(value["url"]):
        title = value.get("name") if isinstance(value.get("name"), str) else None
        return _link(value["url"], title)
    if "symbol" in value and "meaning" in value:
        meaning = render(value["meaning"], depth + 1)
        symbol = value["symbol"]
        if isinstance(symbol, str) and _URL.fullmatch(symbol):
            return meaning + Markup(" ") + _link(symbol, "(symbol)")
        return meaning
    if "streetAddress" in value or "addressCountry" in value:
        return escape(_address(value))
    rows = Markup("").join(
        Markup("<dt>{}</dt><dd>{}</dd>").format(humanise(k), render(v, depth + 1))
        for k, v in value.items()
        if k not in ("type", "@type", "id")
    )
    return Markup('<dl class="nested">{}</dl>').format(rows)
