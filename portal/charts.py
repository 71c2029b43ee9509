"""Charts as inline SVG, drawn on the server: horizontal grouped bars with a value axis, its
unit, a legend and optional target marks. Every chart also has a table and a CSV (the same
`Chart` data), so nothing is only in the picture."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field

from markupsafe import Markup, escape

LABEL_W = 150  # left column for category labels (px of the viewBox)
PLOT_W = 300
BAR_H = 14
GAP = 10
TICKS = 5


@dataclass(frozen=True)
class Series:
    name: str
    values: list[float | None]


@dataclass(frozen=True)
class Target:
    name: str
    values: list[float | None]  # one per category; None: no target for it


@dataclass
class Chart:
    id: str
    title: str
    unit: str  # of the values, shown on the axis and in the table heading
    categories: list[str]
    series: list[Series]
    targets: list[Target] = field(default_factory=list)
    note: str = ""

    @property
    def empty(self) -> bool:
        return not self.categories or all(v is None for s in self.series for v in s.values)

    def rows(self) -> list[list[str]]:
        """The table: one row per category, a column per series and per target."""
        out = []
        for i, category in enumerate(self.categories):
            row = [category]
            row += [_number(s.values[i]) for s in self.series]
            row += [_number(t.values[i]) for t in self.targets]
            out.append(row)
        return out

    def header(self) -> list[str]:
        unit = f" ({self.unit})" if self.unit else ""
        return ["", *(s.name + unit for s in self.series), *(t.name + unit for t in self.targets)]

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["category", *self.header()[1:]])
        writer.writerows(self.rows())
        return out.getvalue()


def _number(value: float | None) -> str:
    if value is None:
        return ""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.3g}" if abs(value) < 1 else f"{value:.1f}"


def _nice_max(top: float) -> float:
    if top <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(top))
    for step in (1, 2, 2.5, 5, 10):
        if top <= step * magnitude:
            return step * magnitude
    return 10 * magnitude  # pragma: no cover - the loop always returns


def svg(chart: Chart) -> Markup:
    """The chart as an <svg> with role=img and a text alternative naming every value."""
    values = [v for s in chart.series for v in s.values if v is not None]
    values += [v for t in chart.targets for v in t.values if v is not None]
    top = _nice_max(max(values, default=0.0))
    n_series = max(len(chart.series), 1)
    group_h = n_series * BAR_H + GAP
    plot_h = len(chart.categories) * group_h
    height = plot_h + 44
    width = LABEL_W + PLOT_W + 20

    def x(value: float) -> float:
        return LABEL_W + PLOT_W * max(value, 0.0) / top

    parts = [
        f'<svg viewBox="0 0 {width} {height}" role="img" aria-labelledby="{chart.id}-desc" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<desc id="{chart.id}-desc">{escape(description(chart))}</desc>',
    ]
    for i in range(TICKS + 1):
        value = top * i / TICKS
        px = x(value)
        parts.append(f'<line class="grid" x1="{px:.1f}" y1="0" x2="{px:.1f}" y2="{plot_h}"/>')
        parts.append(
            f'<text x="{px:.1f}" y="{plot_h + 14}" text-anchor="middle">{_number(value)}</text>'
        )
    parts.append(
        f'<text x="{LABEL_W + PLOT_W / 2:.1f}" y="{plot_h + 34}" text-anchor="middle">'
        f"{escape(chart.unit)}</text>"
    )
    for c, category in enumerate(chart.categories):
        y0 = c * group_h + GAP / 2
        label = category if len(category) <= 22 else category[:21] + "…"
        parts.append(
            f'<text x="{LABEL_W - 6}" y="{y0 + n_series * BAR_H / 2 + 4:.1f}" '
            f'text-anchor="end">{escape(label)}</text>'
        )
        for s, series in enumerate(chart.series):
            value = series.values[c]
            if value is None:
                continue
            y = y0 + s * BAR_H
            parts.append(
                f'<rect class="s{s % 4}" x="{LABEL_W}" y="{y:.1f}" '
                f'width="{max(x(value) - LABEL_W, 0.5):.1f}" height="{BAR_H - 2}"/>'
            )
        for t, target in enumerate(chart.targets):
            value = target.values[c]
            if value is None:
                continue
            parts.append(
                f'<line class="t{t % 2}" x1="{x(value):.1f}" y1="{y0 - 3:.1f}" '
                f'x2="{x(value):.1f}" y2="{y0 + n_series * BAR_H + 1:.1f}"/>'
            )
    parts.append(f'<line class="axis" x1="{LABEL_W}" y1="0" x2="{LABEL_W}" y2="{plot_h}"/>')
    parts.append(
        f'<line class="axis" x1="{LABEL_W}" y1="{plot_h}" x2="{LABEL_W + PLOT_W}" y2="{plot_h}"/>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))


def description(chart: Chart) -> str:
    bits = []
    header = chart.header()[1:]
    for row in chart.rows():
        cells = [f"{h}: {v}" for h, v in zip(header, row[1:], strict=True) if v != ""]
        bits.append(f"{row[0]}: " + ", ".join(cells) if cells else f"{row[0]}: no data")
    return f"{chart.title}. " + "; ".join(bits)
