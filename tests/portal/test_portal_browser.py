"""The portals and dashboards in headless Chromium (Debian `chromium` + `chromium-driver`,
driven by selenium): an operator signs in, finds a battery among thousands, issues a passport
through the form, uploads a bulk file and watches the progress reach 100 %, revokes a credential
and sees the consumer page turn red; the dashboards show charts with their tables. Every page is
photographed at 390 px and 1366 px wide (test-output/screenshots/portal-*.png) and must not
overflow sideways; the rendered text of each is measured for WCAG AA contrast."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import orjson
import pytest
from portal_testkit import CONTRAST_SCRIPT, GTIN, passport_data, register_many

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "test-output" / "screenshots"
WIDTHS = (390, 1366)
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
    "--window-size=1366,900",
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
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


def serving(app):
    """`app` (its lifespan already started by a TestClient) on a free port, in this process."""
    import uvicorn
    from server_testkit import free_port, wait_for_health  # noqa: F401 - tests/ is on sys.path

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    return server, thread, f"http://127.0.0.1:{port}"


@pytest.fixture
def site(app_client):
    import httpx

    server, thread, url = serving(app_client.app)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def find(driver, css):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, css)


def percent(driver) -> str | None:
    """The progress shown, read between two of the page's own reloads (meta refresh)."""
    from selenium.common.exceptions import WebDriverException

    try:
        found = find(driver, "#percent")
        return found[0].text if found else None
    except WebDriverException:
        # the page reloaded between finding the element and reading it: a stale element, or
        # Chromium's "Node with given id does not belong to the document"; read it next time
        return None


def wait_until(condition, timeout_s: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def photograph(driver, name: str, widths: tuple[int, ...] = WIDTHS) -> None:
    """The page at each width, as tall as it is; no sideways overflow at either, and every text
    at WCAG AA contrast as rendered."""
    low = driver.execute_script(CONTRAST_SCRIPT)
    assert not low, f"{name}: text below WCAG AA contrast: {low[:5]}"
    for width in widths:
        driver.set_window_size(width, 900)
        overflow = driver.execute_script(
            "return document.documentElement.scrollWidth - window.innerWidth"
        )
        assert overflow <= 0, f"{name} overflows by {overflow} px at {width} px"
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(width, min(max(height, 900), 12000))
        driver.save_screenshot(str(SCREENSHOTS / f"portal-{name}-{width}.png"))
    driver.set_window_size(1366, 900)


def test_operator_journey(browser, app_client, operator_token, site, tmp_path):
    acme = operator_token("acme")
    register_many(app_client, acme, 3000)
    browser.delete_all_cookies()
    browser.get(site + "/portal/login")
    photograph(browser, "login")
    # by keyboard only: Tab from the top of the page reaches the labelled token field
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    for _ in range(10):
        ActionChains(browser).send_keys(Keys.TAB).perform()
        if browser.switch_to.active_element.get_attribute("id") == "token":
            break
    else:
        raise AssertionError("Tab never reached the token field")
    assert find(browser, 'label[for="token"]')[0].text == "Operator token"
    ActionChains(browser).send_keys(acme["token"], Keys.ENTER).perform()
    wait_until(lambda: browser.current_url.endswith("/portal/batteries"), what="the list")
    assert len(find(browser, "tbody tr")) == 50
    photograph(browser, "batteries")

    # find one battery among thousands
    find(browser, "#f-serial")[0].send_keys("S002718")
    find(browser, "form.filters button")[0].click()
    wait_until(lambda: "serial=S002718" in browser.current_url, what="the search")
    rows = find(browser, "tbody tr")
    assert len(rows) == 1 and "S002718" in rows[0].text

    # issue a passport through the form
    browser.get(site + "/portal/issue")
    photograph(browser, "issue")
    find(browser, "#gtin")[0].send_keys(GTIN)
    find(browser, "#serial")[0].send_keys("WEB-1")
    find(browser, "form.stack button")[0].click()
    wait_until(lambda: "?issued=1" in browser.current_url, what="the issued battery")
    assert find(browser, "h1")[0].text == "Battery WEB-1"
    assert "verifies" in browser.page_source
    photograph(browser, "battery")
    detail_url = browser.current_url.split("?")[0]
    item_path = "/" + find(browser, "dd.mono a")[0].text.split("/", 3)[3]

    # revoke the public credential, with the confirmation step
    public = [s for s in find(browser, "main section") if s.text.startswith("Public")][0]
    public.find_element("css selector", "button.danger").click()
    wait_until(lambda: "Revocation is final" in browser.page_source, what="the confirmation")
    photograph(browser, "confirm")
    find(browser, "main form button.danger")[0].click()
    wait_until(lambda: "?changed=revoke" in browser.current_url, what="the revocation")
    assert "revoked" in find(browser, "main section")[0].text or "revoked" in browser.page_source
    browser.get(site + item_path)
    assert find(browser, "section.verdict-bad"), "the consumer page did not turn red"

    # bulk upload, watched to 100 %
    items = []
    for i in range(6):
        items.append({"gtin": GTIN, "serial": f"BULK-{i}", "passport": passport_data()})
    upload = tmp_path / "bulk.json"
    upload.write_bytes(orjson.dumps({"items": items}))
    browser.get(site + "/portal/bulk")
    photograph(browser, "bulk")
    find(browser, "#items_file")[0].send_keys(str(upload))
    find(browser, "form.stack button")[0].click()
    wait_until(lambda: "/portal/jobs/" in browser.current_url, what="the job page")
    wait_until(
        lambda: percent(browser) == "100",
        timeout_s=120,
        what="the progress to reach 100 %",
    )
    assert "6 done, 0 failed of 6" in browser.page_source
    photograph(browser, "job")

    browser.get(site + "/portal/flags")
    photograph(browser, "flags")
    browser.get(detail_url)
    assert "revoked" in browser.page_source

    # the dashboards: charts with data tables
    for path, name in (("/dashboards", "dashboards"), ("/dashboards/mine", "dashboards-mine")):
        browser.get(site + path)
        charts = find(browser, "figure.chart")
        assert len(charts) >= 7
        assert len(find(browser, "figure.chart svg rect")) > 0
        assert len(find(browser, "figure.chart table")) == len(charts)
        for summary in find(browser, "figure.chart details summary"):
            summary.click()
        photograph(browser, name)


@pytest.fixture
def served_at_own_url(database_url, make_settings):
    """The service with DBP_PUBLIC_URL = the address it is served at, so the login URL on the
    authority sign-in page is one a wallet on this machine can reach."""
    import httpx
    import uvicorn
    from fastapi.testclient import TestClient
    from server_testkit import free_port

    from service.app import create_app

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = create_app(make_settings(database_url, public_url=url))
    with TestClient(app, raise_server_exceptions=False) as client:
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        wait_until(lambda: _answers(httpx, url), timeout_s=30, what="the server")
        try:
            yield client, url
        finally:
            server.should_exit = True
            thread.join(timeout=15)


def _answers(httpx, url: str) -> bool:
    try:
        return httpx.get(url + "/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_authority_journey_with_dbp_wallet_login(browser, served_at_own_url, tmp_path):
    import json

    from portal_testkit import accredit
    from typer.testing import CliRunner

    from issuer import operators
    from service.cli import app as dbp
    from service.db import session_scope

    client, site = served_at_own_url
    rt = client.app.state.runtime
    with session_scope(rt.engine) as session:
        operator, token = operators.create_operator(
            session, name="acme", did_method="web", did_web_base=rt.settings.did_web_base,
            master_key=rt.master_key,
        )  # fmt: skip
    acme = {"name": "acme", "did": operator.did, "token": token}
    register_many(client, acme, 10, prefix="AU")
    auth = {"Authorization": f"Bearer {token}"}
    r = client.post("/batteries", json={"gtin": GTIN, "serial": "AUTH-B"}, headers=auth)
    battery_id = r.json()["id"]
    r = client.post(f"/batteries/{battery_id}/passport", json=passport_data(), headers=auth)
    assert r.status_code == 201, r.text

    env = {"DBP_WALLET_DIR": str(tmp_path / "wallet"), "DBP_WALLET_PASSPHRASE": "pass phrase 1"}

    def wallet(*args: str) -> str:
        result = CliRunner().invoke(dbp, ["wallet", *args], env=env)
        assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
        return result.stdout

    did = json.loads(wallet("init", "--json"))["did"]
    incoming = tmp_path / "authority.json"
    incoming.write_text(json.dumps([accredit(client, did, "market-surveillance")]))
    wallet("import", str(incoming))

    browser.delete_all_cookies()
    browser.get(site + "/authority/login")
    photograph(browser, "authority-login")
    command = find(browser, "#login-command")[0].text
    assert command.startswith("dbp wallet login ")
    assert find(browser, ".qr svg")
    signed = wallet("login", command.removeprefix("dbp wallet login "), "--json")
    assert json.loads(signed)["authority"] == did
    # the page notices by itself (it reloads) and moves on to the search
    wait_until(
        lambda: browser.current_url.endswith("/authority/search"),
        timeout_s=30,
        what="the browser to be signed in",
    )
    photograph(browser, "authority-search")
    find(browser, "#f-serial")[0].send_keys("AUTH-B")
    find(browser, "form.filters button")[0].click()
    wait_until(lambda: "serial=AUTH-B" in browser.current_url, what="the search")
    find(browser, "tbody a")[0].click()
    wait_until(lambda: "/authority/batteries/" in browser.current_url, what="the battery")
    headings = [h.text for h in find(browser, "main h2")]
    assert any(h.startswith("Authorities") for h in headings), headings
    assert "does not verify" not in browser.page_source
    photograph(browser, "authority-battery")
    browser.get(site + "/authority/access-log")
    assert "Hash chain verified" in find(browser, "#chain")[0].text
    photograph(browser, "authority-log")
    browser.get(site + "/authority/verify")
    photograph(browser, "authority-verify")


# --- federated search and the quarantine fix (phone, the 1280 px desktop, and 1366 px) ---------

MORE_WIDTHS = (390, 1280, 1366)


UNLABELLED = """
return Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea'))
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                && !el.getAttribute('aria-labelledby'))
  .map(el => el.name);
"""


def _unlabelled(driver) -> list[str]:
    """Form controls without a label (a <label for>, aria-label or aria-labelledby)."""
    return driver.execute_script(UNLABELLED)


def test_authority_federated_search(browser, federated, tmp_path):
    import httpx
    from federation_testkit import add_operator
    from portal_testkit import CHALLENGE, Holder, accredit

    client, urls = federated
    register_many(client, add_operator(client, "acme"), 2, prefix="HERE-")
    server, thread, site = serving(client.app)
    try:
        wait_until(lambda: _answers(httpx, site), timeout_s=30, what="the server")
        browser.delete_all_cookies()
        browser.get(site + "/authority/login")
        challenge = wait_until(lambda: CHALLENGE.search(browser.page_source), what="challenge")[1]
        holder = Holder()
        info = httpx.get(f"{site}/authority/login/{challenge}").json()
        vp = holder.present([accredit(client, holder.did)], info["challenge"], info["domain"])
        r = httpx.post(f"{site}/authority/presentations/{challenge}",
                       json={"verifiablePresentation": vp}, timeout=30)  # fmt: skip
        assert r.status_code == 200, r.text
        wait_until(lambda: browser.current_url.endswith("/authority/search"), timeout_s=30,
                   what="the browser to be signed in")  # fmt: skip
        find(browser, "#f-gtin")[0].send_keys(GTIN)
        find(browser, "form.filters button")[0].click()
        wait_until(lambda: "gtin=" in browser.current_url and find(browser, "tbody tr"),
                   timeout_s=60, what="the federated search")  # fmt: skip
        rows = [r.text for r in find(browser, "tbody tr")]
        assert len(rows) == 5, rows
        assert sum("this instance" in r for r in rows) == 2
        assert sum(urls["peer"] in r for r in rows) == 3
        states = [li.text for li in find(browser, 'ul[aria-labelledby="instances-heading"] li')]
        assert len(states) == 5, states
        assert any("did not answer" in s and urls["hanging"] in s for s in states), states
        assert any("not allowed" in s for s in states), states
        assert not _unlabelled(browser)
        photograph(browser, "authority-federated-search", MORE_WIDTHS)
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def test_quarantine_fix_in_the_browser(browser, world):
    site = world["url"]
    browser.delete_all_cookies()
    browser.get(site + "/portal/login")
    find(browser, "#token")[0].send_keys(world["token"])
    find(browser, "form button")[0].click()
    wait_until(lambda: browser.current_url.endswith("/portal/batteries"), what="the sign-in")
    browser.get(site + "/portal/pipeline")
    photograph(browser, "pipeline", MORE_WIDTHS)
    find(browser, 'a[href^="/portal/pipeline/quarantine/"]')[0].click()
    wait_until(lambda: find(browser, "#v-1"), what="the fix form")
    assert not _unlabelled(browser)
    photograph(browser, "quarantine-fix", MORE_WIDTHS)
    field = find(browser, "#v-1")[0]
    field.clear()
    field.send_keys("QF 2 b")
    find(browser, "#reason")[0].send_keys("typo")
    find(browser, "form.stack button")[0].click()
    wait_until(lambda: find(browser, "#refused"), what="the refusal")
    assert "must be 1 to 20 characters" in find(browser, "#refused")[0].text
    assert find(browser, "#v-1")[0].get_attribute("value") == "QF 2 b"
    photograph(browser, "quarantine-fix-refused", MORE_WIDTHS)
    field = find(browser, "#v-1")[0]
    field.clear()
    field.send_keys("QF-2")
    find(browser, "form.stack button")[0].click()
    # accepted and issued at once: the page links the battery whose passport was issued
    wait_until(lambda: find(browser, "#issued"), timeout_s=120, what="the accepted fix")
    assert "Fix accepted and issued" in find(browser, "#issued")[0].text
    link = find(browser, '#issued a[href^="/portal/batteries/"]')
    assert link and "QF-2" in link[0].text
    photograph(browser, "quarantine-fix-accepted", MORE_WIDTHS)
    link[0].click()
    wait_until(lambda: "QF-2" in browser.page_source and "/portal/batteries/" in
               browser.current_url, what="the issued battery")  # fmt: skip
