"""WCAG 2.1 AA colour contrast of the portal stylesheet: text 4.5:1 against its backgrounds
(1.4.3), chart marks, target lines and focus rings 3:1 against the page (1.4.11). The browser
test also measures the rendered pages (portal_testkit.CONTRAST_SCRIPT)."""

from __future__ import annotations

import re
from importlib import resources

import pytest


def _luminance(hex_colour: str) -> float:
    rgb = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


COLOURS = dict(
    re.findall(
        r"--([a-z0-9-]+):\s*(#[0-9a-f]{6})",
        resources.files("portal").joinpath("static/portal.css").read_text(),
    )
)
TEXT_PAIRS = [
    ("text", "bg"), ("muted", "bg"), ("link", "bg"), ("text", "head-bg"), ("link", "head-bg"),
    ("ok", "ok-bg"), ("bad", "bad-bg"), ("warn", "warn-bg"), ("ok", "bg"), ("bad", "bg"),
    ("warn", "bg"),
]  # fmt: skip
GRAPHICS = ["bar1", "bar2", "bar3", "bar4", "target", "link", "text"]


@pytest.mark.parametrize(("fg", "bg"), TEXT_PAIRS)
def test_text_colours(fg, bg):
    ratio = contrast(COLOURS[fg], COLOURS[bg])
    assert ratio >= 4.5, f"{fg} on {bg}: {ratio:.2f}"


@pytest.mark.parametrize("mark", GRAPHICS)
def test_chart_marks_and_focus_rings(mark):
    ratio = contrast(COLOURS[mark], COLOURS["bg"])
    assert ratio >= 3, f"{mark} on bg: {ratio:.2f}"


def test_button_text():
    # buttons: white on the link colour, white on the danger colour
    assert contrast("#ffffff", COLOURS["link"]) >= 4.5
    assert contrast("#ffffff", COLOURS["bad"]) >= 4.5
