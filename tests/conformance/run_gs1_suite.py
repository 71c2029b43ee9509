"""Run GS1's conformant-resolver test suite against a dbp started here, on loopback, over HTTPS.

The suite (`gs1/GS1DL-resolver-testsuite`, the code behind ref.gs1.org/test-suites/resolver) is a
web page: `GS1DigitalLinkResolverTestSuite.js` runs in a browser and sends most requests through
`tester.php`, a PHP/libcurl proxy that reports status codes and headers and only accepts `https://`
URIs. This runner serves a copy of the suite with PHP's built-in server, points the page at that
local `tester.php` and at local copies of what it would load from GS1's sites (two JSON schemas
and, when given, the GS1 link type list), starts dbp under uvicorn with TLS (a self-signed
certificate for 127.0.0.1 that PHP's curl trusts through `curl.cainfo`; Chromium is told to accept
it), registers a battery with an issued passport, opens the page in headless Chromium for the
battery's GS1 Digital Link URI and reads every test's result from the page. Nothing is fetched from
the network.

    python -m tests.conformance.run_gs1_suite --suite DIR --ajv ajv7.bundle.js \
        --description-schema description-file-schema.json \
        [--linktypes linktypes.json | --web-vocabulary gs1Voc.jsonld] \
        [--level item|qualified|model ...] [--json OUT] [--markdown OUT] [--keep]

DIR is a checkout of gs1/GS1DL-resolver-testsuite; `ajv7.bundle.js` comes with the npm package
`ajv-dist` (the page expects `window.ajv7`). GS1's linkset schema is the one vendored in
tests/resolver/vectors. Needs `php` with the curl extension, `chromium` and `chromedriver`.
Exit status: 0 when no test failed, 1 otherwise ("warn" is the suite's verdict for SHOULDs).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

if __package__:  # python -m tests.conformance.run_gs1_suite
    from tests.conformance.run_suites import ROOT, Service, _free_port
else:  # imported by test_run_gs1_suite.py (tests/conformance is on sys.path)
    from run_suites import ROOT, Service, _free_port

SUITE_JS = "GS1DigitalLinkResolverTestSuite.js"
SUITE_FILES = (
    SUITE_JS,
    "GS1DigitalLinkToolkit.js",
    "GS1DigitalLinkResolverTestSuiteStyles.css",
    "rotatingcircle.gif",
    "tester.php",
)
LINKSET_SCHEMA = ROOT / "tests" / "resolver" / "vectors" / "gs1-linkset-schema.json"
GTIN = "09520123456788"
SERIAL = "GS1-SUITE-0001"
# A second battery whose item URI carries both key qualifiers GS1 allows before the serial.
QUALIFIED = {"variant": "02", "batch": "LOT-2026-07", "serial": "GS1-SUITE-0002"}

# The remote addresses the page uses, and the local file each one is replaced with.
REMOTE = {
    "https://ref.gs1.org/standards/resolver/description-file-schema": (
        "description-file-schema.json"
    ),
    "https://gs1.github.io/linkset/gs1-linkset-schema.json": "gs1-linkset-schema.json",
    "https://ref.gs1.org/voc/data/linktypes": "linktypes.json",
}

# The page, with a fetch wrapper that records every exchange (so a failure can be shown with its
# request and answer) and counts requests in flight (so the runner can wait until the tests the
# suite does not await, TLSCheck and rdFileCheck, have finished too).
INDEX = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>GS1 resolver test suite (local)</title>
<link rel="stylesheet" href="GS1DigitalLinkResolverTestSuiteStyles.css">
<script>
var module = {};  // the toolkit ends with `module.exports = ...` (node); keep it quiet here
window.dbp = {done: false, inFlight: 0, exchanges: [], error: null};
const realFetch = window.fetch.bind(window);
window.fetch = async (input, init) => {
  const url = typeof input === 'string' ? input : input.url;
  window.dbp.inFlight++;
  try {
    const response = await realFetch(input, init);
    const copy = response.clone();
    copy.text().then(
      (body) => { window.dbp.exchanges.push({url, status: response.status, body}); },
      () => {}
    ).finally(() => { window.dbp.inFlight--; });
    return response;
  } catch (error) {
    window.dbp.exchanges.push({url, status: null, body: String(error)});
    window.dbp.inFlight--;
    throw error;
  }
};
</script>
<script src="ajv7.bundle.js"></script>
<script src="GS1DigitalLinkToolkit.js"></script>
<script src="GS1DigitalLinkResolverTestSuite.js"></script>
</head><body>
<img id="rotatingcircle" src="rotatingcircle.gif" alt="">
<div id="gs1ResolverTests"></div>
<script>
const dl = new URLSearchParams(location.search).get('dl');
testDL(dl)
  .catch((e) => { window.dbp.error = String(e); })
  .finally(() => { window.dbp.done = true; });
</script>
</body></html>
"""

RESULTS_JS = """
return {
  done: window.dbp.done && window.dbp.inFlight === 0,
  error: window.dbp.error,
  results: resultsArray.map((r) => ({id: r.id, status: r.status, test: r.test, msg: r.msg,
                                     url: r.url})),
  exchanges: window.dbp.exchanges,
};
"""


@dataclass
class Run:
    dl: str
    results: list[dict] = field(default_factory=list)
    exchanges: list[dict] = field(default_factory=list)
    error: str | None = None

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r["status"] == status)


def prepare_site(
    suite: Path,
    site: Path,
    tester_url: str,
    ajv: Path,
    description_schema: Path,
    linktypes: Path | None,
) -> None:
    site.mkdir(parents=True)
    for name in SUITE_FILES:
        shutil.copy(suite / name, site / name)
    shutil.copy(ajv, site / "ajv7.bundle.js")
    shutil.copy(LINKSET_SCHEMA, site / "gs1-linkset-schema.json")
    shutil.copy(description_schema, site / "description-file-schema.json")
    if linktypes is not None:
        shutil.copy(linktypes, site / "linktypes.json")
    base = tester_url.rsplit("/", 1)[0]
    script = (site / SUITE_JS).read_text(encoding="utf-8")
    lines = script.splitlines(keepends=True)
    # the one active `const testUri = ...` line is the suite's own public proxy
    active = [i for i, line in enumerate(lines) if line.startswith("const testUri")]
    if len(active) != 1:
        raise SystemExit(f"{SUITE_JS}: expected one `const testUri` line, found {len(active)}")
    lines[active[0]] = f"const testUri = '{tester_url}';\n"
    script = "".join(lines)
    for remote, local in REMOTE.items():
        if f"'{remote}'" not in script:
            raise SystemExit(f"{SUITE_JS} no longer loads {remote}; update this runner")
        if local == "linktypes.json" and linktypes is None:
            continue  # left as is: the page's fetch fails offline, `linkTypesDefined` stays warn
        script = script.replace(f"'{remote}'", f"'{base}/{local}'")
    (site / SUITE_JS).write_text(script, encoding="utf-8")
    (site / "index.html").write_text(INDEX, encoding="utf-8")


def link_types_from_vocabulary(vocabulary: Path) -> dict[str, dict[str, str]]:
    """The list ref.gs1.org/voc/data/linktypes publishes (link type name -> title, description,
    status), made from the Web Vocabulary itself: every `rdfs:subPropertyOf gs1:linkType`. The
    suite only looks the names up (`linkTypesDefined`)."""
    graph = json.loads(vocabulary.read_text(encoding="utf-8-sig"))["@graph"]

    def text(value: object) -> str:
        return value.get("@value", "") if isinstance(value, dict) else str(value or "")

    listed = {}
    for term in graph:
        parents = term.get("rdfs:subPropertyOf") or []
        parents = parents if isinstance(parents, list) else [parents]
        if any(p.get("@id") == "gs1:linkType" for p in parents if isinstance(p, dict)):
            listed[term["@id"].removeprefix("gs1:")] = {
                "title": text(term.get("rdfs:label")),
                "description": text(term.get("rdfs:comment")),
                "status": str(term.get("sw:term_status", "")),
            }
    if not listed:
        raise SystemExit(f"{vocabulary}: no gs1:linkType sub-properties found")
    return listed


def register_battery(service: Service, token: str, registration: dict[str, str]) -> str:
    """A battery with an issued passport (the `ev` example); returns its item URI."""
    from vocab.examples import load_example

    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=service.base, verify=str(service.cert), timeout=60) as client:
        r = client.post("/batteries", json={"gtin": GTIN, **registration}, headers=headers)
        r.raise_for_status()
        battery = r.json()
        data = load_example("ev")
        for name in ("batteryIdentifier", "passportId", "passportVersion"):
            data.pop(name)
        r = client.post(f"/batteries/{battery['id']}/passport", json=data, headers=headers)
        r.raise_for_status()
    return battery["itemUri"]


def start_php(site: Path, cert: Path, port: int, log: Path) -> subprocess.Popen:
    php = shutil.which("php")
    if php is None:
        raise SystemExit("php is not installed (apt-get install php-cli php-curl)")
    process = subprocess.Popen(
        [php, "-d", f"curl.cainfo={cert}", "-d", f"openssl.cafile={cert}",
         "-S", f"127.0.0.1:{port}", "-t", str(site)],
        stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"php exited ({process.returncode}); see {log}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/index.html", timeout=2)
            return process
        except httpx.HTTPError:
            time.sleep(0.2)  # polling for readiness, not a timed assertion
    raise SystemExit(f"php did not answer within 30 s; see {log}")


def browser(profile: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as DriverService

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--ignore-certificate-errors",  # dbp's self-signed loopback certificate
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    return webdriver.Chrome(options=options, service=DriverService(executable_path=driver_path))


def run_page(driver, page: str, dl: str, timeout_s: float) -> Run:
    from urllib.parse import quote

    driver.get(f"{page}?dl={quote(dl, safe='')}")
    deadline = time.monotonic() + timeout_s
    state = driver.execute_script(RESULTS_JS)
    while not state["done"] and time.monotonic() < deadline:
        time.sleep(0.25)  # polling the page for completion, not a timed assertion
        state = driver.execute_script(RESULTS_JS)
    run = Run(dl, state["results"], state["exchanges"], state["error"])
    if not state["done"]:
        run.error = (run.error or "") + f" page not finished after {timeout_s:.0f} s"
    return run


def exchange_for(run: Run, url: str) -> dict | None:
    for exchange in run.exchanges:
        if exchange["url"] == url:
            return exchange
    return None


def report(run: Run) -> str:
    out = [f"== {run.dl}"]
    for r in run.results:
        out.append(f"  {r['status']:5} {r['id']}: {r['msg']}")
        if r["status"] == "fail" and r.get("url"):
            exchange = exchange_for(run, r["url"])
            if exchange is not None:
                out.append(f"        request: {r['url']}")
                out.append(f"        answer:  {exchange['body'][:600]}")
    if run.error:
        out.append(f"  page error: {run.error}")
    out.append(
        f"  {run.count('pass')} passed, {run.count('warn')} warned, {run.count('fail')} failed"
    )
    return "\n".join(out)


def markdown(runs: list[Run], suite: Path) -> str:
    """Every test id with its verdict at each level tested (a section of docs/conformance.md)."""
    commit = subprocess.run(
        ["git", "-C", str(suite), "rev-parse", "--short", "HEAD"],
        capture_output=True, text=True,
    ).stdout.strip() or "unknown"  # fmt: skip
    ids: list[str] = []
    for run in runs:
        ids += [r["id"] for r in run.results if r["id"] not in ids]
    by_run = [{r["id"]: r for r in run.results} for run in runs]
    header = " | ".join(f"`{_path_of(run.dl)}`" for run in runs)
    lines = [
        f"GS1DL-resolver-testsuite {commit}, run by `tests/conformance/run_gs1_suite.py`: "
        + "; ".join(
            f"`{_path_of(run.dl)}` {run.count('pass')} pass, {run.count('warn')} warn, "
            f"{run.count('fail')} fail"
            for run in runs
        ),
        "",
        f"| test id | {header} | the suite's message |",
        "| --- | " + " | ".join("---" for _ in runs) + " | --- |",
    ]
    for test_id in ids:
        # "—": the suite did not run this test there (a link type that level has no link of)
        verdicts = [results.get(test_id, {}).get("status", "—") for results in by_run]
        message = next(
            (results[test_id]["msg"] for results in reversed(by_run) if test_id in results), ""
        )
        cells = " | ".join(verdicts)
        lines.append(f"| `{test_id}` | {cells} | {message.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


def _path_of(uri: str) -> str:
    return "/" + uri.split("://", 1)[-1].split("/", 1)[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", type=Path, required=True, help="GS1DL-resolver-testsuite")
    parser.add_argument("--ajv", type=Path, required=True, help="ajv-dist's dist/ajv7.bundle.js")
    parser.add_argument("--description-schema", type=Path, required=True)
    links = parser.add_mutually_exclusive_group()
    links.add_argument("--linktypes", type=Path, help="GS1's link type list (JSON)")
    links.add_argument(
        "--web-vocabulary",
        type=Path,
        help="the GS1 Web Vocabulary as JSON-LD (gs1/WebVoc gs1Voc.jsonld): the link type list "
        "is derived from it",
    )
    parser.add_argument(
        "--level",
        action="append",
        choices=("item", "qualified", "model"),
        help="test the item URI (/01/{gtin}/21/{serial}), an item URI with qualifiers "
        "(/01/{gtin}/22/{variant}/10/{batch}/21/{serial}) and/or the model URI (/01/{gtin}); "
        "default: all three",
    )
    parser.add_argument("--timeout", type=float, default=300, help="seconds per page")
    parser.add_argument("--json", type=Path, help="write every result and exchange here")
    parser.add_argument("--markdown", type=Path, help="write the per-test table here")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    levels = args.level or ["item", "qualified", "model"]

    workdir = Path(tempfile.mkdtemp(prefix="dbp-gs1-suite-"))
    linktypes = args.linktypes
    if args.web_vocabulary is not None:
        linktypes = workdir / "linktypes.json"
        linktypes.write_text(json.dumps(link_types_from_vocabulary(args.web_vocabulary), indent=1))
    service = Service(workdir)
    php = driver = None
    runs: list[Run] = []
    try:
        _did, token = service.create_operator()
        service.start(workdir / "dbp.log")
        uris = {
            "item": register_battery(service, token, {"serial": SERIAL}),
            "qualified": register_battery(service, token, QUALIFIED),
            "model": f"{service.base}/01/{GTIN}",
        }
        php_port = _free_port()
        site = workdir / "site"
        prepare_site(
            args.suite,
            site,
            f"http://127.0.0.1:{php_port}/tester.php",
            args.ajv,
            args.description_schema,
            linktypes,
        )
        php = start_php(site, service.cert, php_port, workdir / "php.log")
        driver = browser(workdir / "chromium-profile")
        for level in levels:
            run = run_page(
                driver, f"http://127.0.0.1:{php_port}/index.html", uris[level], args.timeout
            )
            runs.append(run)
            print(report(run), flush=True)
    finally:
        if driver is not None:
            driver.quit()
        if php is not None:
            php.terminate()
            php.wait(10)
        service.stop()
        if args.keep:
            print(f"work directory kept: {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps([run.__dict__ for run in runs], indent=2))
    if args.markdown:
        args.markdown.write_text(markdown(runs, args.suite))
    failed = sum(run.count("fail") for run in runs) + sum(1 for run in runs if run.error)
    print(
        f"{sum(run.count('pass') for run in runs)} passed, "
        f"{sum(run.count('warn') for run in runs)} warned, {failed} failed"
    )
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
