"""The consumer page rendered without HTTP: grouping by catalogue group, the carbon footprint chart,
the verification panel and verdict, escaping, real headings, and WCAG AA colour contrast.

A unit test of the rendering: check results are stand-ins (FakeCheck/FakeResult) so that every
verdict can be drawn; the pages over real stores and real verification are in
test_resolve_http.py and test_page_browser.py."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from importlib import resources

import pytest
from resolver_testkit import public_subject

from resolver.page import PassportPage, carbon_chart, history_rows, render_passport
from resolver.page_values import render
from resolver.verdict import panel

URI = "https://dpp.example.com/01/09520123456788/21/SN1"
ISSUER = "did:web:dpp.example.com:operators:acme"


@dataclass
class FakeCheck:
    name: str
    status: str
    detail: str = ""
    code: str = ""


@dataclass
class FakeResult:
    checks: list[FakeCheck]
    document: dict | None = None

    @property
    def verified(self) -> bool:
        return not any(c.status == "failed" for c in self.checks)


@dataclass
class Outline(HTMLParser):
    headings: list[tuple[int, str]] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    _level: int | None = None

    def __post_init__(self) -> None:
        super().__init__()

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if re.fullmatch(r"h[1-6]", tag):
            self._level = int(tag[1])
            self.headings.append((self._level, ""))

    def handle_endtag(self, tag):
        if re.fullmatch(r"h[1-6]", tag):
            self._level = None

    def handle_data(self, data):
        if self._level is not None:
            level, text = self.headings[-1]
            self.headings[-1] = (level, text + data)


def credential(subject: dict | None = None) -> dict:
    return {
        "type": ["VerifiableCredential", "PublicBatteryPassportCredential"],
        "issuer": ISSUER,
        "credentialSubject": subject or public_subject(URI),
    }


PASSED = ["dataModel", "proof", "issuer", "validity", "status", "anchor"]


def result(failed: str | None = None, vc: dict | None = None, code: str = "") -> FakeResult:
    checks = [
        FakeCheck(n, "failed", f"{n} detail", code or n)
        if n == failed
        else FakeCheck(n, "passed", "revocation: not set" if n == "status" else f"{n} detail")
        for n in PASSED
    ]
    return FakeResult(checks, vc)


def page(*panels, **extra) -> str:
    values = dict(
        item_uri=URI,
        gtin="09520123456788",
        serial="SN1",
        battery_did="did:web:dpp.example.com:batteries:b1",
        holder_did=ISSUER,
        category="ev",
        passport_id="urn:uuid:550e8400-e29b-41d4-a716-446655440000",
        passport_version=1,
        passport_state="active",
        panels=list(panels),
        links={k: f"https://x.example/{k}" for k in ("passport", "linkset", "did", "qr", "access")},
    )
    values.update(extra)
    return render_passport(PassportPage(**values))


def test_valid_passport_page_structure():
    vc = credential()
    html = page(panel(vc, result(vc=vc)))
    outline = Outline()
    outline.feed(html)
    assert '<html lang="en">' in html
    levels = [level for level, _ in outline.headings]
    assert levels.count(1) == 1 and levels[0] == 1
    assert all(b - a <= 1 for a, b in zip(levels, levels[1:], strict=False))  # no skipped level
    titles = [text.strip() for level, text in outline.headings if level == 2]
    assert titles[:8] == [
        "✓ Authentic",
        "Identity and manufacturer",
        "Carbon footprint",
        "Materials and composition",
        "Circularity and recycled content",
        "Performance and durability",
        "Labels and conformity",
        "Supply-chain due diligence",
    ]
    assert titles[8:] == [
        "How this passport was checked",
        "Lifecycle history",
        "Restricted data: for recyclers, repairers and authorities",
        "Identifiers and machine-readable data",
    ]
    assert "script" not in outline.tags
    assert "img" not in outline.tags  # no third-party requests from the page
    assert "Electric vehicle battery (EV)" in html
    assert "482 kg" in html
    assert "2%" in html  # a recycled-content share, unit from the catalogue
    assert "Example Battery Systems GmbH" in html
    assert "POST https://x.example/access" in html
    assert len(html.encode()) < 60_000


def test_each_check_in_plain_words():
    vc = credential()
    html = page(panel(vc, result(vc=vc)))
    for words in (
        '<strong>Signature</strong> <span class="state">(passed)</span>',
        "<strong>Issuer identity</strong>",
        '<strong>Revocation status</strong> <span class="state">(passed)</span>: Not revoked',
        "<strong>Integrity anchor</strong>",
        "nothing was changed after it was signed",
    ):
        assert words in html
    assert html.count('class="check check-passed"') == len(PASSED)


def test_carbon_footprint_chart_has_the_four_stages():
    chart = carbon_chart(public_subject(URI))
    assert chart is not None
    assert [b.label for b in chart.bars] == [
        "Raw material acquisition and pre-processing",
        "Main product production",
        "Distribution",
        "End of life and recycling",
    ]
    assert chart.bars[0].width == 220  # the largest stage fills the bar area
    assert 0 < chart.bars[2].width < chart.bars[1].width
    assert chart.bars[0].value == "0.041 kg CO₂e/kWh"
    vc = credential()
    html = page(panel(vc, result(vc=vc)))
    svg = re.search(r"<svg[^>]*>.*?</svg>", html, re.S).group(0)
    assert 'role="img"' in svg and "<title" in svg and "<desc" in svg
    assert svg.count("<rect") == 4


def test_tampered_credential_is_not_authentic_and_not_shown():
    vc = credential()
    html = page(panel(vc, result("proof", vc)))
    assert "✓ Authentic" not in html
    assert "Not authentic" in html
    assert 'class="verdict verdict-bad"' in html
    assert 'class="check check-failed" data-check="proof"' in html
    assert "The contents of this credential are not shown" in html
    assert "482 kg" not in html  # its data is not displayed
    assert 'id="carbon-footprint"' not in html


def test_revoked_credential_is_shown_with_a_red_verdict():
    vc = credential()
    html = page(panel(vc, result("status", vc, code="revoked")))
    assert "Revoked" in html
    assert "The issuer has revoked it." in html
    assert 'class="verdict verdict-bad"' in html
    assert 'class="check check-failed" data-check="status"' in html
    assert "482 kg" in html  # shown for reference, under the red verdict


def test_suspended_and_unknown_status():
    vc = credential()
    suspended = page(panel(vc, result("status", vc, code="suspended")))
    assert "Suspended" in suspended
    assert "The issuer has suspended it for now." in suspended
    unknown = page(panel(vc, result("status", vc, code="status-list-unavailable")))
    assert "Verification failed" in unknown
    assert "Revoked" not in unknown
    assert "whether it was withdrawn is unknown" in unknown


def test_a_failed_trust_check_says_why():
    vc = credential()
    checks = result(vc=vc)
    detail = f"may not issue X: {ISSUER} is not the operator responsible for {URI}"
    checks.checks.append(FakeCheck("trust", "failed", detail, "issuer-not-responsible"))
    html = page(panel(vc, checks))
    assert 'class="check check-failed" data-check="trust"' in html
    why = "Its issuer was not the operator responsible for this battery when it was issued"
    # in the check's line and in the verdict, with the verifier's own words behind a disclosure
    verdict_html = html.split('class="verdict verdict-bad"', 1)[1].split("</section>", 1)[0]
    assert why in verdict_html
    assert html.count(why) >= 2
    assert "is not the operator responsible for" in html
    checks.checks[-1] = FakeCheck("trust", "failed", "battery x is not registered here",
                                  "unknown-battery")  # fmt: skip
    unknown = page(panel(vc, checks))
    assert "does not know the battery it is about" in unknown


def test_anchor_warning_in_plain_words():
    vc = credential()
    checks = result(vc=vc)
    checks.checks[-1] = FakeCheck("anchor", "warning", "no anchor held", "anchor-unknown")
    html = page(panel(vc, checks))
    assert 'class="check check-warning" data-check="anchor"' in html
    assert "has not recorded its fingerprint on a blockchain" in html
    assert 'class="verdict verdict-ok"' in html  # a warning is not a failure


def test_one_bad_credential_spoils_the_verdict():
    good, bad = credential(), credential()
    html = page(panel(good, result(vc=good)), panel(bad, result("issuer", bad)))
    assert "Not authentic" in html
    assert "482 kg" in html  # the good one's data is still shown


def test_no_credentials_yet():
    html = page()
    assert "No public passport yet" in html
    assert 'class="verdict verdict-none"' in html


def test_inactive_passport_warns():
    vc = credential()
    html = page(panel(vc, result(vc=vc)), passport_state="superseded")
    assert "Passport superseded" in html
    assert "A newer version of this passport replaced it." in html
    assert 'class="verdict verdict-warn"' in html
    archived = page(panel(vc, result(vc=vc)), passport_state="archived")
    assert "end of its life" in archived


def test_archived_notice():
    vc = credential()
    note = f"The operator responsible for this battery ({ISSUER}) left the market on 2027-01-01."
    html = page(panel(vc, result(vc=vc)), archived=True, removed_operator_note=note)
    assert "Served from a kept copy" in html
    assert note in html


def test_history():
    rows = history_rows(
        [
            {"at": "2026-06-15", "event": "issued", "passportVersion": 1, "by": ISSUER},
            {"date": "2027-01-01", "status": "re-used", "version": 2},
            "not a dict",
        ]
    )
    assert [(r.when, r.what, r.version) for r in rows] == [
        ("2026-06-15", "Issued", "1"),
        ("2027-01-01", "Re-used", "2"),
    ]
    vc = credential()
    html = page(panel(vc, result(vc=vc)), history=[{"at": "2026-06-15", "event": "issued"}])
    assert "<td>2026-06-15</td><td>Issued</td>" in html


def test_values_are_escaped():
    subject = public_subject(URI)
    subject["general"]["manufacturer"]["name"] = "<script>alert(1)</script>"
    subject["carbonFootprint"]["publicStudyUrl"] = 'https://x.example/"><script>'
    vc = credential(subject)
    html = page(panel(vc, result(vc=vc)))
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ({"value": 482.0, "unit": "kg"}, "482 kg"),
        ({"value": -18.0, "unit": "degC"}, "-18 °C"),
        ({"en": "Hello", "de": "Hallo"}, "Hello"),
        ("P8Y", "8 years"),
        ("P1Y6M", "1 year 6 months"),
        (True, "yes"),
        (1500, "1 500"),
        (None, "—"),
    ],
)
def test_value_rendering(value, shown):
    assert str(render(value)) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("P8Y\n", "P8Y\n"),
        ("https://x.example/manual.pdf\n", "https://x.example/manual.pdf\n"),
        ({"name": "Manual", "url": "https://x.example/manual.pdf\n"}, "<dl"),
        ({"en\n": "Hello"}, "<dl"),
    ],
)
def test_values_with_a_trailing_newline_are_shown_as_given(value, shown):
    # `$` in a Python regex also matches before a final "\n": a duration, link or language map
    # is recognised only when it is the whole text.
    html = str(render(value))
    assert html.startswith(shown), html
    assert "<a " not in html


def test_history_times_are_readable_only_when_they_are_the_whole_text():
    rows = history_rows([{"at": "2026-12-04T17:13:55Z"}, {"at": "2026-12-04T17:13:55Z\n"}])
    assert [r.when for r in rows] == ["2026-12-04 17:13 UTC", "2026-12-04T17:13:55Z\n"]


# --- WCAG 2.1 AA: text colours against their backgrounds, at least 4.5:1 ---


def _luminance(hex_colour: str) -> float:
    rgb = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_colour_contrast_meets_wcag_aa():
    css = resources.files("resolver").joinpath("templates/passport.css").read_text()
    colours = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-f]{6})", css))
    pairs = [
        ("text", "bg"),
        ("muted", "bg"),
        ("link", "bg"),
        ("ok", "ok-bg"),
        ("bad", "bad-bg"),
        ("warn", "warn-bg"),
        ("none", "none-bg"),
        ("ok", "bg"),
        ("bad", "bg"),
        ("warn", "bg"),
        ("text", "bg"),
    ]
    for fg, bg in pairs:
        ratio = contrast(colours[fg], colours[bg])
        assert ratio >= 4.5, f"{fg} on {bg}: {ratio:.2f}"
    # the chart's bars are graphics: 3:1 against the page (WCAG 1.4.11)
    assert contrast(colours["bar"], colours["bg"]) >= 3


def test_a_pending_anchor_is_not_every_check_passed():
    """Issue 13 item 11: while a credential's fingerprint is on its way to the chain the verdict
    says "anchor pending", not "every check passed"."""
    vc = credential()
    checks = result(vc=vc)
    checks.checks[-1] = FakeCheck("anchor", "warning", "queued for anchoring", "anchor-pending")
    html = page(panel(vc, checks))
    assert 'class="verdict verdict-ok"' in html and "Authentic</h2>" in html
    assert "Every check passed" not in html
    assert "Anchor pending: its fingerprint is on its way to the blockchain." in html
    assert "Every check passed" in page(panel(vc, result(vc=vc)))  # all passed: it may say so


def test_product_first_and_operators_by_name():
    """Issue 13 item 12: the product's name and model at the top; operator DIDs shown as names
    (known here, or named by the verified passport data), the DID behind a disclosure."""
    subject = public_subject(URI)
    subject["general"]["operator"]["identifier"] = ISSUER
    vc = credential(subject)
    other = "did:web:b.example:operators:reuse"
    html = page(
        panel(vc, result(vc=vc)),
        holder_did=other,
        names={other: "reuse"},
        history=[{"at": "2026-06-15T09:30:00Z", "event": "created", "actor": ISSUER}],
    )
    h1 = html.index("<h1>")
    product = html.index('<p class="product">')
    assert h1 < product < html.index('class="verdict')
    assert "<strong>VX75 battery pack</strong> · model <strong" in html
    assert "<title>Battery passport · VX75 battery pack · VX75 · GTIN" in html
    issuer = (
        '<details class="did"><summary>Example Battery Systems GmbH</summary>'
        f'<code class="break">{ISSUER}</code></details>'
    )
    assert html.count(issuer) == 2  # "Issued by" and the history's "By"
    reuse = f'<details class="did"><summary>reuse</summary><code class="break">{other}</code>'
    assert reuse in html
    assert "<td>2026-06-15 09:30 UTC</td>" in html
    # a DID nobody named: a short form, the DID still behind the disclosure
    unnamed = page(panel(vc, result(vc=credential())), holder_did="did:web:c.example:operators:x")
    assert '<summary>x (c.example)</summary><code class="break">did:web:c.example' in unnamed


def test_the_signer_is_named_only_when_it_is_the_operator_the_passport_names():
    """Issue 13 item 1: a passport naming its operator by an alsoKnownAs identifier (an LEI)
    shows its signer by the operator's name once the trust check (which holds the binding rule)
    passed; when it failed (operator-not-issuer), the signer gets no name from the passport."""
    subject = public_subject(URI)
    subject["general"]["operator"]["identifier"] = "urn:lei:529900T8BM49AURSDO55"
    vc = credential(subject)
    named = (
        '<details class="did"><summary>Example Battery Systems GmbH</summary>'
        f'<code class="break">{ISSUER}</code>'
    )

    def with_trust(status: str) -> FakeResult:
        checks = result(vc=vc)
        code = "operator-not-issuer" if status == "failed" else ""
        checks.checks.append(FakeCheck("trust", status, "trust detail", code))
        return checks

    other = "did:web:x.example:operators:y"
    assert named in page(panel(vc, with_trust("passed")), holder_did=other)
    assert named not in page(panel(vc, result(vc=vc)), holder_did=other)  # trust not checked
    refused = page(panel(vc, with_trust("failed")), holder_did=other)
    assert named not in refused
    assert "Verification failed" in refused
