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
    install_fake,
    issued_battery,
    issued_public_credential,
    serving_in_thread,
    set_status,
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
    fake = install_fake(app_client)
    battery = battery_with_passport(app_client, fake, acme, "BRW-1")
    with serving_in_thread(app_client.app) as url:
        yield {
            "url": url,
            "fake": fake,
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
    assert "Issued" in find("#history")[0].text
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
    stored = site["fake"].credentials[site["battery"]["id"]][0]
    stored["credentialSubject"]["general"]["batteryMass"]["value"] = 120.0  # not what was signed
    find = open_page(browser, site["url"] + site["battery"]["path"])
    verdict = find("section.verdict")[0]
    assert "verdict-bad" in verdict.get_attribute("class")
    assert "Not authentic" in verdict.text
    assert checks_by_status(find)["proof"] == "failed"
    assert find("#identity") == []  # the altered data is not displayed
    assert "120 kg" not in browser.page_source
    screenshot(browser, f"tampered-{site['db']}")


def test_unknown_battery(browser, site):
    find = open_page(browser, site["url"] + "/01/09520123456788/21/NO-SUCH-BATTERY")
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
