"""The consumer page in headless Chromium (Debian `chromium` + `chromium-driver`, driven by
selenium): a valid, a revoked, a tampered and an unknown battery, and the QR code's SVG as a
browser draws it. Screenshots go to test-output/screenshots/."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from resolver_testkit import (
    REPO,
    battery_with_passport,
    issued_battery,
    issued_public_credential,
    serving_in_thread,
    set_status,
    tamper_stored_credential,
)

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SCREENSHOTS = REPO / "test-output" / "screenshots"
# The machine's network is closed: anything Chromium would fetch in the background stalls it.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=412,915",  # a mid-range phone
    # Overlay scrollbars, as on a phone: the window's width is all page, so a page that fits
    # has document.documentElement.scrollWidth == window.innerWidth.
    "--hide-scrollbars",
)

if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
    pytest.skip(
        "headless Chromium is not installed (apt-get install chromium chromium-driver; "
        ".ci/services does it)",
        allow_module_level=True,
    )


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    # an explicit driver: selenium never tries to download one
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver, name: str) -> Path:
    """The whole page, as tall as it is."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(412, min(max(height, 915), 12000))
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    driver.set_window_size(412, 915)
    return path


@pytest.fixture
def acme(operator_token):
    return operator_token("acme")


@pytest.fixture
def site(app_client, acme, request):
    """The app of `app_client` (SQLite or PostgreSQL) on a real port, with one battery whose
    public passport credential is signed by acme."""
    battery = battery_with_passport(app_client, acme, "BRW-1")
    with serving_in_thread(app_client.app) as url:
        yield {
            "url": url,
            "runtime": app_client.app.state.runtime,
            "battery": battery,
            "db": request.node.callspec.params["database_url"],
        }


def open_page(driver, url: str):
    from selenium.webdriver.common.by import By

    driver.get(url)
    return lambda css: driver.find_elements(By.CSS_SELECTOR, css)


def checks_by_status(find) -> dict[str, str]:
    """{check name: status}; a name that ran more than once (one status check per status entry)
    counts as failed when any run failed."""
    out: dict[str, str] = {}
    for li in find("li.check"):
        name, status = li.get_attribute("data-check"), li.get_attribute("class").split("check-")[-1]
        if out.get(name) != "failed":
            out[name] = status
    return out


def test_valid_battery(browser, site):
    find = open_page(browser, site["url"] + site["battery"]["path"])
    assert browser.execute_script("return document.documentElement.lang") == "en"
    assert browser.title.startswith("Battery passport")
    assert [h.text for h in find("h1")] == ["Battery passport"]
    verdict = find("section.verdict")[0]
    assert "verdict-ok" in verdict.get_attribute("class")
    assert "Authentic" in verdict.text
    headings = [h.text for h in find("main section > h2")]
    for expected in (
        "Identity and manufacturer",
        "Carbon footprint",
        "Materials and composition",
        "Circularity and recycled content",
        "Performance and durability",
        "Labels and conformity",
        "How this passport was checked",
        "Lifecycle history",
        "Restricted data: for recyclers, repairers and authorities",
    ):
        assert expected in headings  # fmt: skip
    # nothing failed; the anchor check may warn while the credential waits for its batch
    assert "failed" not in checks_by_status(find).values()
    assert {"proof", "issuer", "validity"} <= set(checks_by_status(find))
    bars = find("#carbon-footprint svg rect")
    assert len(bars) == 4
    assert bars[0].size["width"] > bars[2].size["width"] > 0  # drawn to scale
    assert "482 kg" in find("#identity")[0].text
    # the passport's history as the issuer recorded it: version 1 created, by acme
    history = find("#history")[0].text
    assert "Created 1 " + site["battery"]["passportId"] in history, history
    assert "Example Battery Systems GmbH" in history, history  # the operator the passport names
    assert "/access" in find("#restricted")[0].text
    # the page works without JavaScript and asks nothing from elsewhere
    assert browser.execute_script("return document.scripts.length") == 0
    resources = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    assert resources == []
    screenshot(browser, f"valid-{site['db']}")


def test_revoked_battery(browser, app_client, acme, request):
    """Registered, issued and revoked through the issuer's API; the Bitstring Status List check
    fails and the page says so."""
    battery = issued_battery(app_client, acme, "BRW-REV")
    credential = issued_public_credential(battery)
    r = set_status(app_client, acme, credential["id"], "revocation", True)
    assert r.status_code == 200, r.text
    with serving_in_thread(app_client.app) as url:
        find = open_page(browser, url + battery["path"])
        verdict = find("section.verdict")[0]
        assert "verdict-bad" in verdict.get_attribute("class")
        assert "Revoked" in verdict.text
        assert checks_by_status(find)["status"] == "failed"
        assert checks_by_status(find)["proof"] == "passed"
        assert "The issuer has revoked it." in browser.page_source
        screenshot(browser, f"revoked-issuer-{request.node.callspec.params['database_url']}")


def test_tampered_credential(browser, site):
    def heavier(document: dict) -> None:
        document["credentialSubject"]["general"]["batteryMass"]["value"] = 120.0  # not signed

    # the stored row is changed, as an intruder with write access to the database would
    tamper_stored_credential(site["runtime"], site["battery"]["credential"]["id"], heavier)
    find = open_page(browser, site["url"] + site["battery"]["path"])
    verdict = find("section.verdict")[0]
    assert "verdict-bad" in verdict.get_attribute("class")
    assert "Not authentic" in verdict.text
    assert checks_by_status(find)["proof"] == "failed"
    assert find("#identity") == []  # the altered data is not displayed
    assert "120 kg" not in browser.page_source
    screenshot(browser, f"tampered-{site['db']}")


def test_unknown_battery(browser, site):
    # a GTIN with no battery here: a known GTIN walks up to its model page (GS1)
    find = open_page(browser, site["url"] + "/01/00000000000017/21/NO-SUCH-BATTERY")
    assert [h.text for h in find("h1")] == ["Battery not found"]
    assert "No battery with this identifier is registered" in find("main")[0].text
    assert browser.execute_script("return document.documentElement.lang") == "en"
    screenshot(browser, f"unknown-{site['db']}")


@pytest.mark.skipif(shutil.which("zbarimg") is None, reason="zbarimg is not installed")
def test_qr_svg_as_drawn_by_the_browser_decodes(browser, site, tmp_path):
    battery = site["battery"]
    browser.get(site["url"] + battery["path"] + "/qr.svg")
    image = tmp_path / "qr.png"
    browser.save_screenshot(str(image))
    done = subprocess.run(
        ["zbarimg", "--raw", "-q", str(image)], capture_output=True, timeout=30, check=True
    )
    # the symbol carries the identifier as printed: this instance's public URL
    assert done.stdout.decode().strip() == battery["uri"]


# Where each table sits: its scrolling box, the main column, and whether the hint shows.
LAYOUT = """
const main = document.querySelector('main').getBoundingClientRect();
const style = getComputedStyle(document.querySelector('main'));
const column = [main.left + parseFloat(style.paddingLeft),
                main.right - parseFloat(style.paddingRight)];
return {
  scrollWidth: document.documentElement.scrollWidth,
  innerWidth: window.innerWidth,
  tables: [...document.querySelectorAll('main table')].map(t => {
    const box = t.closest('.scroll');
    const hint = box && box.querySelector(':scope > .scroll-hint');
    const r = box ? box.getBoundingClientRect() : null;
    return {
      section: (t.closest('section') || {}).id,
      boxed: !!box,
      overflowX: box ? getComputedStyle(box).overflowX : null,
      left: r && r.left, right: r && r.right, column: column,
      table: t.getBoundingClientRect().width, box: box && box.clientWidth,
      contains: !!box && box.scrollWidth >= Math.floor(t.getBoundingClientRect().width),
      hint: !!hint && getComputedStyle(hint).display !== 'none' && hint.offsetHeight > 0,
    };
  }),
};
"""


def full_page(driver, name: str, width: int) -> Path:
    """The whole page at `width`, as tall as it is."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, min(max(height, 915), 16000))
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


@pytest.mark.parametrize("width", [390, 1366])
def test_the_page_fits_phone_and_desktop(browser, app_client, acme, request, width):
    """Issue 13 item 12: at 390 and 1366 px no table widens the page (each scrolls inside its own
    box, with a hint when it is wider than the box), the product's name and model are at the
    top, and operator DIDs show as names with the DID behind a disclosure."""
    from selenium.webdriver.common.by import By

    db = request.node.callspec.params["database_url"]
    battery = issued_battery(app_client, acme, f"FIT-{width}")
    with serving_in_thread(app_client.app) as url:
        browser.set_window_size(width, 900)
        find = open_page(browser, url + battery["path"])
        layout = browser.execute_script(LAYOUT)
        assert layout["innerWidth"] == width
        assert layout["scrollWidth"] == layout["innerWidth"], layout
        assert len(layout["tables"]) >= 5  # materials, hazardous substances, ..., history
        for table in layout["tables"]:
            assert table["boxed"] and table["overflowX"] == "auto", table
            left, right = table["column"]
            assert left - 0.5 <= table["left"] and table["right"] <= right + 0.5, table
            assert table["contains"], table
            assert table["hint"] == (table["table"] > table["box"] + 0.5), table
        scrolling = [t for t in layout["tables"] if t["hint"]]
        assert scrolling, "the hazardous-substances table is wider than any phone or column"
        if width == 1366:
            assert len(scrolling) < len(layout["tables"])  # the narrow ones need no scrolling

        # the product first: name and model right under the heading, above the verdict
        (product,) = find("p.product")
        assert product.text == "VX75 battery pack · model VX75"
        assert product.location["y"] < find("section.verdict")[0].location["y"]

        # operator DIDs: the operator's name, the DID on request
        issued_by = find("#verification .issued-by details.did")[0]
        # the signer is the operator the passport names (issue 13 item 1): shown by that name
        assert issued_by.find_element(By.TAG_NAME, "summary").text == "Example Battery Systems GmbH"
        did = issued_by.find_element(By.TAG_NAME, "code")
        assert not did.is_displayed()
        for details in find("details.did"):
            assert not details.find_element(By.TAG_NAME, "summary").text.startswith("did:")
        full_page(browser, f"fit-{width}-{db}", width)
        issued_by.find_element(By.TAG_NAME, "summary").click()
        assert did.is_displayed() and did.text == acme["did"]
        browser.set_window_size(412, 915)


def test_the_page_renders_under_its_content_security_policy(browser, site):
    """Issue 13 item 9: the page is sent with a CSP that allows no script and only its own
    stylesheet (by hash); Chromium applies that stylesheet, and a tampered one would not be."""
    import httpx

    url = site["url"] + site["battery"]["path"]
    answer = httpx.get(url, headers={"Accept": "text/html"}, timeout=30)
    policy = answer.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "'sha256-" in policy and "script" not in policy
    assert answer.headers["x-frame-options"] == "DENY"
    open_page(browser, url)
    skip = "return getComputedStyle(document.querySelector('a.skip')).position"
    assert browser.execute_script(skip) == "absolute"  # passport.css applied under the CSP
    # a style the policy does not name is refused: the check above can fail
    browser.execute_script(
        "const s = document.createElement('style');"
        "s.textContent = 'a.skip { position: fixed !important; }';"
        "document.head.appendChild(s);"
    )
    assert browser.execute_script(skip) == "absolute"
