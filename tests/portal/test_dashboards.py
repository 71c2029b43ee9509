"""Dashboards: public aggregate figures, the operator's own behind sign-in, a table and a CSV
for every chart, and figures that follow the passports issued."""

from __future__ import annotations

import csv
import io
import re

from portal_testkit import GTIN, csrf_of, passport_text, sign_in


def _issue(client, serial: str) -> None:
    csrf = csrf_of(client.get("/portal/issue").text)
    r = client.post(
        "/portal/issue",
        data={"csrf": csrf, "gtin": GTIN, "serial": serial, "passport": passport_text()},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text


def test_public_dashboard_has_charts_tables_and_csv(app_client, operator_token):
    acme = operator_token("acme")
    sign_in(app_client, acme["token"])
    _issue(app_client, "D1")
    _issue(app_client, "D2")
    app_client.cookies.clear()
    r = app_client.get("/dashboards")
    assert r.status_code == 200
    ids = re.findall(r'<figure class="chart" id="([^"]+)"', r.text)
    assert {"recycled-content", "carbon-footprint", "batteries-by-status", "second-life",
            "material-recovery", "completeness", "batteries-over-time"} <= set(ids)  # fmt: skip
    assert r.text.count("<svg") >= len(ids) - 1 and r.text.count("<table") == len(ids)
    # the example passport declares cobalt 4 + 8 = 12 % recycled; Art 8 wants 16 % from 2031
    rows = list(
        csv.reader(io.StringIO(app_client.get("/dashboards/data/recycled-content.csv").text))
    )
    assert rows[0][0] == "category" and "Minimum from 2031 (% of the material)" in rows[0]
    assert ["Cobalt", "12", "16", "26"] in rows
    status = app_client.get("/dashboards/data/batteries-by-status.csv").text
    assert "original,2" in status
    carbon = app_client.get("/dashboards/data/carbon-footprint.csv").text
    assert "VX75 · class B,0.057,0.057,0.057" in carbon
    done = app_client.get("/dashboards/data/completeness.csv").text
    assert "EV,100" in done
    assert app_client.get("/dashboards/data/nope.csv").status_code == 404


def test_operator_dashboard_shows_only_its_batteries(app_client, operator_token):
    acme, other = operator_token("acme"), operator_token("other")
    sign_in(app_client, other["token"])
    _issue(app_client, "OTHER1")
    app_client.cookies.clear()
    assert app_client.get("/dashboards/mine").status_code == 401
    assert app_client.get("/dashboards/mine/data/second-life.csv").status_code == 401
    sign_in(app_client, acme["token"])
    r = app_client.get("/dashboards/mine")
    assert r.status_code == 200 and "of acme" in r.text
    assert "original" not in app_client.get("/dashboards/mine/data/batteries-by-status.csv").text
    assert "original,1" in app_client.get("/dashboards/data/batteries-by-status.csv").text


def test_completeness_counts_a_missing_mandatory_attribute():
    from portal import figures
    from vocab.catalogue import Tier
    from vocab.examples import load_example
    from vocab.tiers import split_by_tier

    full = split_by_tier(load_example("ev"))[Tier.PUBLIC]
    gap = split_by_tier(load_example("ev"))[Tier.PUBLIC]
    del gap["carbonFootprint"]["performanceClass"]
    chart, missing = figures.completeness([full, gap])
    assert chart.rows() == [["EV", "50"]]
    assert list(missing) == ["Carbon footprint performance class"]
