"""The dashboards' figures, computed from the public tier of each battery's current passport
(what anyone may read) and from battery counts. Targets are the Regulation's:

- Art 8(2) and 8(3): minimum recycled content in EV, SLI and industrial batteries (with external
  storage) from 18 August 2031 (cobalt 16 %, lead 85 %, lithium 6 %, nickel 6 %) and from
  18 August 2036 (cobalt 26 %, lead 85 %, lithium 12 %, nickel 15 %);
- Art 71 with Annex XII Part B (recycling efficiency, lithium-based batteries 65 % by 31 Dec 2025,
  70 % by 31 Dec 2030; lead-acid 75 % / 80 %) and Part C (material recovery: cobalt, copper,
  nickel and lead 90 % by 31 Dec 2027, 95 % by 31 Dec 2031; lithium 50 % / 80 %).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import datetime
from statistics import median
from typing import Any, Final

from portal.charts import Chart, Series, Target
from vocab.catalogue import Applicability, Tier, load_catalogue
from vocab.models.identity import BatteryCategory
from vocab.paths import resolve

MATERIALS: Final = ("cobalt", "lead", "lithium", "nickel")
ART8_2031: Final = {"cobalt": 16.0, "lead": 85.0, "lithium": 6.0, "nickel": 6.0}
ART8_2036: Final = {"cobalt": 26.0, "lead": 85.0, "lithium": 12.0, "nickel": 15.0}
RECOVERY_2027: Final = {"cobalt": 90.0, "copper": 90.0, "lead": 90.0, "lithium": 50.0,
                        "nickel": 90.0}  # fmt: skip
RECOVERY_2031: Final = {"cobalt": 95.0, "copper": 95.0, "lead": 95.0, "lithium": 80.0,
                        "nickel": 95.0}  # fmt: skip
EFFICIENCY: Final = (
    ("Lithium-based batteries", 65.0, 70.0),
    ("Lead-acid batteries", 75.0, 80.0),
    ("Other waste batteries", 50.0, 50.0),
)
SECOND_LIFE: Final = ("re-used", "repurposed", "remanufactured", "waste", "recycled")
STATUS_ORDER: Final = ("original", *SECOND_LIFE)
CATEGORY_NAMES: Final = {
    "ev": "EV", "lmt": "LMT", "industrial": "Industrial", "stationary": "Stationary storage",
    "portable": "Portable", "sli": "SLI", "unknown": "Not issued yet",
}  # fmt: skip


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def recycled_content(documents: list[dict[str, Any]]) -> Chart:
    """Mean recycled share (pre- plus post-consumer) per material against Art 8."""
    shares: dict[str, list[float]] = defaultdict(list)
    for doc in documents:
        circularity = doc.get("circularity")
        items = circularity.get("recycledContent") if isinstance(circularity, dict) else None
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict) or item.get("material") not in MATERIALS:
                continue
            pre, post = (
                _number(item.get("preConsumerShare")),
                _number(item.get("postConsumerShare")),
            )
            if pre is None and post is None:
                continue
            shares[item["material"]].append((pre or 0.0) + (post or 0.0))
    means = [round(sum(shares[m]) / len(shares[m]), 2) if shares[m] else None for m in MATERIALS]
    return Chart(
        id="recycled-content",
        title="Recycled content per material against the Art 8 minimums",
        unit="% of the material",
        categories=[m.capitalize() for m in MATERIALS],
        series=[Series("Mean recycled share", means)],
        targets=[
            Target("Minimum from 2031", [ART8_2031[m] for m in MATERIALS]),
            Target("Minimum from 2036", [ART8_2036[m] for m in MATERIALS]),
        ],
        note="Pre- plus post-consumer recycled share as declared in each passport; "
        f"{sum(len(v) for v in shares.values())} declarations from {len(documents)} passports.",
    )


def carbon_by_model(documents: list[dict[str, Any]]) -> Chart:
    """Median, lowest and highest declared carbon footprint per model and performance class."""
    values: dict[str, list[float]] = defaultdict(list)
    unit = "kgCO2e/kWh"
    for doc in documents:
        footprint = doc.get("carbonFootprint")
        general = doc.get("general")
        if not isinstance(footprint, dict) or not isinstance(general, dict):
            continue
        declared = footprint.get("declaredValue")
        value = _number(declared.get("value")) if isinstance(declared, dict) else None
        if value is None:
            continue
        if isinstance(declared.get("unit"), str):
            unit = declared["unit"]
        model = general.get("model") or general.get("productName") or "unnamed model"
        klass = footprint.get("performanceClass") or "no class"
        values[f"{model} · class {klass}"].append(value)
    names = sorted(values)
    return Chart(
        id="carbon-footprint",
        title="Carbon footprint per model and performance class",
        unit=unit,
        categories=names,
        series=[
            Series("Lowest", [min(values[n]) for n in names]),
            Series("Median", [round(median(values[n]), 4) for n in names]),
            Series("Highest", [max(values[n]) for n in names]),
        ],
        note=f"Declared carbon footprint (Art 7, Annex II) of {sum(map(len, values.values()))} "
        "passports.",
    )


def by_status(counts: dict[str, dict[str, int]]) -> Chart:
    status = counts.get("status", {})
    names = [s for s in ("unknown", *STATUS_ORDER) if s in status] + sorted(
        set(status) - {"unknown", *STATUS_ORDER}
    )
    return Chart(
        id="batteries-by-status",
        title="Batteries by status",
        unit="batteries",
        categories=["Not issued yet" if n == "unknown" else n for n in names],
        series=[Series("Batteries", [float(status[n]) for n in names])],
    )


def by_category(counts: dict[str, dict[str, int]]) -> Chart:
    category = counts.get("category", {})
    names = sorted(category)
    return Chart(
        id="batteries-by-category",
        title="Batteries by category",
        unit="batteries",
        categories=[CATEGORY_NAMES.get(n, n) for n in names],
        series=[Series("Batteries", [float(category[n]) for n in names])],
    )


def over_time(months: dict[str, int]) -> Chart:
    names = sorted(months)
    running, totals = 0, []
    for name in names:
        running += months[name]
        totals.append(float(running))
    return Chart(
        id="batteries-over-time",
        title="Batteries registered, per month and in total",
        unit="batteries",
        categories=names,
        series=[
            Series("Registered in the month", [float(months[n]) for n in names]),
            Series("Registered in total", totals),
        ],  # fmt: skip
    )


def second_life(counts: dict[str, dict[str, int]]) -> Chart:
    status = counts.get("status", {})
    return Chart(
        id="second-life",
        title="Second-life and end-of-life flows",
        unit="batteries",
        categories=list(SECOND_LIFE),
        series=[
            Series("Batteries now in this status", [float(status.get(s, 0)) for s in SECOND_LIFE])
        ],
        note="Re-used, repurposed and remanufactured batteries continue under a new passport "
        "(Art 77(7)); recycled ones' passports have ceased to exist (Art 77(8)).",
    )


def recovery_targets() -> Chart:
    """Art 71 / Annex XII targets; this instance records no recycler's figures yet, so the
    chart shows the targets and says there is no measured value."""
    names = sorted(RECOVERY_2027)
    return Chart(
        id="material-recovery",
        title="Material recovery against Annex XII Part C",
        unit="% recovered",
        categories=[n.capitalize() for n in names],
        series=[Series("Recovered (recyclers' reports)", [None for _ in names])],
        targets=[
            Target("Target by end of 2027", [RECOVERY_2027[n] for n in names]),
            Target("Target by end of 2031", [RECOVERY_2031[n] for n in names]),
        ],
        note="No recycler has reported recovery figures to this instance: the chart shows the "
        "targets only. Recycling efficiency targets (Annex XII Part B): "
        + "; ".join(f"{n} {a:g} % by end of 2025, {b:g} % by end of 2030" for n, a, b in EFFICIENCY)
        + ".",
    )


def _conditional() -> set[int]:
    """Rows the catalogue marks conditional (lead shares only for lead-acid, Cd/Pb symbols only
    above the Art 13(5) thresholds): a passport without them is not incomplete."""
    attributes = load_catalogue().attributes
    found = {a.number for a in attributes if (a.note or "").startswith("Conditional")}
    for a in attributes:
        match = re.match(r"See row (\d+)", a.note or "")
        if match and int(match[1]) in found:
            found.add(a.number)
    return found


def _mandatory_public(category: str) -> list:
    try:
        cat = BatteryCategory(category)
    except ValueError:
        return []
    conditional = _conditional()
    return [
        a
        for a in load_catalogue().attributes
        if a.tier is Tier.PUBLIC
        and a.applies_to(cat) is Applicability.MANDATORY
        and a.number not in conditional
    ]


def completeness(documents: list[dict[str, Any]]) -> tuple[Chart, dict[str, int]]:
    """Share of passports, per category, whose public tier has every mandatory public attribute
    of that category; and how often each attribute is missing."""
    complete: Counter[str] = Counter()
    total: Counter[str] = Counter()
    missing: Counter[str] = Counter()
    for doc in documents:
        general = doc.get("general")
        category = general.get("batteryCategory") if isinstance(general, dict) else None
        if not isinstance(category, str):
            continue
        total[category] += 1
        gaps = [
            a.name
            for a in _mandatory_public(category)
            if not any(resolve(doc, path) for path in a.paths)
        ]
        missing.update(gaps)
        if not gaps:
            complete[category] += 1
    names = sorted(total)
    chart = Chart(
        id="completeness",
        title="Data completeness: passports with every mandatory public attribute",
        unit="% of passports",
        categories=[CATEGORY_NAMES.get(n, n) for n in names],
        series=[Series("Complete", [round(100 * complete[n] / total[n], 1) for n in names])],
        note="Mandatory for the battery's category per Annex XIII (conditional rows, such as "
        "lead shares of batteries without lead, left out), public tier only; "
        f"{sum(complete.values())} of {sum(total.values())} passports complete.",
    )
    return chart, dict(missing.most_common(10))


def month(value: datetime) -> str:
    return value.strftime("%Y-%m")
