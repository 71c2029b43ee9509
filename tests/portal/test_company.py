"""The company portal over HTTP: sign-in, search, issue from the form, change status with a
confirmation, CSRF refusals, and each operator seeing only its own batteries."""

from __future__ import annotations

import re

from portal_testkit import GTIN, csrf_of, passport_text, register_many, sign_in


def test_pages_need_a_session(app_client):
    for path in ("/portal/batteries", "/portal/issue", "/portal/bulk", "/portal/flags",
                 "/portal/export.csv"):  # fmt: skip
        r = app_client.get(path, follow_redirects=False)
        assert r.status_code == 401, path
        assert "Sign in" in r.text


def test_sign_in_sets_a_strict_http_only_cookie(app_client, operator_token):
    acme = operator_token("acme")
    r = app_client.get("/portal/login")
    assert "script-src" not in r.headers["content-security-policy"]
    r = app_client.post(
        "/portal/login",
        data={"token": acme["token"], "csrf": csrf_of(r.text)},
        follow_redirects=False,
    )
    cookie = r.headers["set-cookie"]
    assert "dbp_portal=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert app_client.get("/portal/batteries").status_code == 200


def test_a_wrong_token_is_refused(app_client):
    r = app_client.get("/portal/login")
    r = app_client.post("/portal/login", data={"token": "nope", "csrf": csrf_of(r.text)})
    assert r.status_code == 401
    assert "not valid" in r.text


def test_every_form_refuses_a_missing_or_wrong_csrf_token(app_client, operator_token):
    acme = operator_token("acme")
    # the sign-in form: its double-submit token
    r = app_client.post("/portal/login", data={"token": acme["token"]})
    assert r.status_code == 403
    r = app_client.post("/portal/login", data={"token": acme["token"], "csrf": "forged"})
    assert r.status_code == 403
    sign_in(app_client, acme["token"])
    forms = {
        "/portal/issue": {"gtin": GTIN, "serial": "C1", "passport": passport_text()},
        "/portal/bulk": {"key": "k"},
        "/portal/logout": {},
        "/portal/batteries/x/status": {"credential_id": "x", "action": "revoke", "confirm": "yes"},
    }
    for path, data in forms.items():
        for csrf in (None, "forged"):
            body = dict(data) if csrf is None else {**data, "csrf": csrf}
            r = app_client.post(path, data=body, files={"unused": ("u", b"")})
            assert r.status_code == 403, (path, csrf, r.text)
            assert "CSRF" in r.text
    # nothing was written
    assert "C1" not in app_client.get("/portal/batteries").text


def test_issue_revoke_and_the_consumer_page_turns_red(app_client, operator_token):
    acme = operator_token("acme")
    sign_in(app_client, acme["token"])
    page = app_client.get("/portal/issue")
    r = app_client.post(
        "/portal/issue",
        data={"csrf": csrf_of(page.text), "gtin": GTIN, "serial": "FORM1",
              "passport": passport_text()},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303, r.text
    detail = app_client.get(r.headers["location"])
    assert detail.status_code == 200
    assert "Battery FORM1" in detail.text and "verifies" in detail.text
    item_uri = re.search(r'href="(http://testserver/01/[^"]+)"', detail.text)[1]
    assert app_client.get(item_uri.removeprefix("http://testserver")).status_code == 200
    public_id = re.search(
        r'<h3 id="cred-\d+">Public[^<]*(?:<[^>]+>[^<]*)*?</h3>\s*<p class="mono break">([^<]+)<',
        detail.text,
    )[1]
    action = r.headers["location"].split("?")[0] + "/status"
    form = {"csrf": csrf_of(detail.text), "credential_id": public_id, "action": "revoke"}
    confirm = app_client.post(action, data=form)
    assert confirm.status_code == 200 and "Revocation is final" in confirm.text
    done = app_client.post(action, data={**form, "confirm": "yes"}, follow_redirects=False)
    assert done.status_code == 303
    assert "revoked" in app_client.get(done.headers["location"]).text
    consumer = app_client.get(item_uri.removeprefix("http://testserver"))
    assert "verdict-bad" in consumer.text


def test_a_bad_passport_is_a_422_page_and_nothing_is_registered(app_client, operator_token):
    acme = operator_token("acme")
    sign_in(app_client, acme["token"])
    csrf = csrf_of(app_client.get("/portal/issue").text)
    r = app_client.post(
        "/portal/issue", data={"csrf": csrf, "gtin": GTIN, "serial": "BAD1", "passport": "{"}
    )
    assert r.status_code == 422 and "not JSON" in r.text
    r = app_client.post(
        "/portal/issue",
        data={"csrf": csrf, "gtin": GTIN, "serial": "BAD2", "passport": '{"general": 5}'},
    )
    assert 400 <= r.status_code < 500, r.text
    r = app_client.post(
        "/portal/issue", data={"csrf": csrf, "gtin": "123", "serial": "BAD3",
                               "passport": passport_text()},
    )  # fmt: skip
    assert 400 <= r.status_code < 500, r.text
    listed = app_client.get("/portal/batteries").text
    assert "BAD1" not in listed and "BAD2" not in listed and "BAD3" not in listed


def test_search_and_paging_among_thousands(app_client, operator_token):
    acme = operator_token("acme")
    register_many(app_client, acme, 2100)
    sign_in(app_client, acme["token"])
    r = app_client.get("/portal/batteries", params={"serial": "S001234"})
    assert r.status_code == 200
    assert r.text.count('href="/portal/batteries/') == 1 and "S001234" in r.text
    seen: set[str] = set()
    url = "/portal/batteries?serial=S0005"
    while url:
        r = app_client.get(url)
        seen |= set(re.findall(r'href="/portal/batteries/[^"]+">(S\d+)<', r.text))
        nxt = re.search(r'rel="next" href="([^"]+)"', r.text)
        url = nxt[1].replace("&amp;", "&") if nxt else None
    assert seen == {f"S{i:06d}" for i in range(500, 600)}
    assert app_client.get("/portal/batteries", params={"gtin": "12"}).status_code == 422
    assert app_client.get("/portal/batteries", params={"after": "x"}).status_code == 422
    assert app_client.get("/portal/batteries", params={"status": "new"}).status_code == 422
    csv = app_client.get("/portal/export.csv", params={"serial": "S00000"})
    assert csv.headers["content-type"].startswith("text/csv")
    assert len(csv.text.strip().splitlines()) == 1 + 10


def test_an_operator_never_sees_another_operators_batteries(app_client, operator_token):
    acme, other = operator_token("acme"), operator_token("other")
    register_many(app_client, other, 3, prefix="OTHER")
    sign_in(app_client, other["token"])
    mine = re.findall(
        r'href="/portal/batteries/([^"?]+)"', app_client.get("/portal/batteries").text
    )
    assert len(mine) == 3
    app_client.cookies.clear()
    sign_in(app_client, acme["token"])
    assert "OTHER" not in app_client.get("/portal/batteries").text
    assert "OTHER" not in app_client.get("/portal/export.csv").text
    r = app_client.get(f"/portal/batteries/{mine[0]}")
    assert r.status_code == 404
    csrf = csrf_of(app_client.get("/portal/issue").text)
    r = app_client.post(
        f"/portal/batteries/{mine[0]}/status",
        data={"csrf": csrf, "credential_id": "x", "action": "revoke", "confirm": "yes"},
    )
    assert r.status_code == 404


def test_sign_out_ends_the_session(app_client, operator_token):
    acme = operator_token("acme")
    sign_in(app_client, acme["token"])
    csrf = csrf_of(app_client.get("/portal/batteries").text)
    cookie = app_client.cookies.get("dbp_portal")
    r = app_client.post("/portal/logout", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    app_client.cookies.set("dbp_portal", cookie)
    assert app_client.get("/portal/batteries").status_code == 401


def test_search_by_model_and_chemistry(app_client, operator_token):
    acme = operator_token("acme")
    register_many(app_client, acme, 3, prefix="PLAIN")
    sign_in(app_client, acme["token"])
    csrf = csrf_of(app_client.get("/portal/issue").text)
    for serial, example in (("M-EV", "ev"), ("M-LMT", "lmt")):
        r = app_client.post(
            "/portal/issue",
            data={"csrf": csrf, "gtin": GTIN, "serial": serial, "passport": passport_text(example)},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
    from portal_testkit import passport_data

    ev, lmt = passport_data("ev"), passport_data("lmt")
    found = app_client.get("/portal/batteries", params={"model": ev["general"]["model"]}).text
    assert re.findall(r'href="/portal/batteries/[^"]+">([^<]+)<', found) == ["M-EV"]
    chemistry = lmt["materials"]["batteryChemistry"]["shortName"]
    found = app_client.get("/portal/batteries", params={"chemistry": chemistry}).text
    assert "M-LMT" in found and "PLAIN" not in found
    csv = app_client.get("/portal/export.csv", params={"model": ev["general"]["model"]}).text
    header, row = csv.strip().splitlines()
    assert header.split(",")[6:8] == ["model", "chemistry"]
    assert row.split(",")[6:8] == [
        ev["general"]["model"],
        ev["materials"]["batteryChemistry"]["shortName"],
    ]
