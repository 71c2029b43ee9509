"""The authority portal over HTTP: sign-in by presentation of an AuthorityCredential (no
password), restricted tiers, the access log with its hash chain, flags the operator sees, the
search API by session or token; and nobody else gets in."""

from __future__ import annotations

import re

from portal_testkit import (
    CHALLENGE,
    GTIN,
    Holder,
    accredit,
    authority_sign_in,
    csrf_of,
    passport_text,
    register_many,
    sign_in,
)


def _issued_battery(client, operator) -> str:
    sign_in(client, operator["token"])
    csrf = csrf_of(client.get("/portal/issue").text)
    r = client.post(
        "/portal/issue",
        data={"csrf": csrf, "gtin": GTIN, "serial": "AUTH-1", "passport": passport_text()},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    client.cookies.clear()
    return r.headers["location"].split("/")[-1].split("?")[0]


def test_sign_in_by_presentation_reads_restricted_tiers_and_logs(app_client, operator_token):
    acme = operator_token("acme")
    battery_id = _issued_battery(app_client, acme)
    holder = Holder()
    r = authority_sign_in(app_client, holder, accredit(app_client, holder.did))
    assert r.status_code == 200, r.text
    assert r.json()["authority"] == holder.did
    # the waiting browser is now signed in
    r = app_client.get("/authority/login", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/authority/search"
    search = app_client.get("/authority/search", params={"serial": "AUTH"})
    assert "AUTH-1" in search.text and acme["did"] in search.text
    page = app_client.get(f"/authority/batteries/{battery_id}")
    assert page.status_code == 200
    tiers = re.findall(r'<h2 id="tier-\d+">([^<]+)', page.text)
    # Art 77(2)(b): points 2 and 3 of Annex XIII, not the individual battery data of point 4
    assert [t.strip() for t in tiers] == [
        "Public", "Legitimate interest and commission", "Authorities"
    ]  # fmt: skip
    assert "verifies" in page.text and "does not verify" not in page.text
    log = app_client.get("/authority/access-log")
    assert "Hash chain verified" in log.text
    assert "authority-sign-in" in log.text and "restricted-data" in log.text
    # a flag, seen by the operator
    r = app_client.post(
        f"/authority/batteries/{battery_id}/flags",
        data={"csrf": csrf_of(page.text), "note": "Check the carbon footprint study."},
        follow_redirects=False,
    )
    assert r.status_code == 303
    app_client.cookies.clear()
    sign_in(app_client, acme["token"])
    assert "Check the carbon footprint study." in app_client.get("/portal/flags").text
    detail = app_client.get(f"/portal/batteries/{battery_id}").text
    assert "Check the carbon footprint study." in detail and holder.did in detail


def test_verify_page_shows_each_check(app_client, operator_token):
    holder = Holder()
    credential = accredit(app_client, holder.did)
    assert authority_sign_in(app_client, holder, credential).status_code == 200
    page = app_client.get("/authority/verify")
    import orjson

    r = app_client.post(
        "/authority/verify",
        data={"csrf": csrf_of(page.text), "credential": orjson.dumps(credential).decode()},
    )
    assert r.status_code == 200 and "Verifies" in r.text
    tampered = {**credential, "validFrom": "2020-01-01T00:00:00Z"}
    r = app_client.post(
        "/authority/verify",
        data={"csrf": csrf_of(page.text), "credential": orjson.dumps(tampered).decode()},
    )
    assert "Does not verify" in r.text
    assert app_client.post("/authority/verify", data={"credential": "{}"}).status_code == 403


def test_other_roles_and_consumers_get_nothing(app_client, operator_token):
    acme = operator_token("acme")
    battery_id = _issued_battery(app_client, acme)
    for path in ("/authority/search", f"/authority/batteries/{battery_id}",
                 "/authority/access-log", "/authority/verify"):  # fmt: skip
        assert app_client.get(path).status_code == 401, path
    r = app_client.get("/passports")
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    # a recycler's role credential does not open the authority portal
    recycler = Holder()
    r = authority_sign_in(app_client, recycler, accredit(app_client, recycler.did, "recycling"))
    assert r.status_code == 403, r.text
    assert r.json()["type"].endswith("/role-not-allowed")
    assert app_client.get("/authority/search").status_code == 401
    # an operator's portal session is not an authority's
    sign_in(app_client, acme["token"])
    assert app_client.get("/authority/search").status_code == 401
    assert app_client.get("/passports").status_code == 401


def test_presentation_for_another_challenge_is_refused(app_client):
    holder = Holder()
    credential = accredit(app_client, holder.did)
    page = app_client.get("/authority/login")
    challenge = CHALLENGE.search(page.text)[1]
    other = app_client.post("/challenges").json()
    vp = holder.present([credential], other["challenge"], other["domain"])
    r = app_client.post(
        f"/authority/presentations/{challenge}", json={"verifiablePresentation": vp}
    )
    assert r.status_code == 400 and r.json()["type"].endswith("/challenge-mismatch")
    r = app_client.post("/authority/presentations/nope", json={"verifiablePresentation": vp})
    assert r.status_code == 404
    assert app_client.get("/authority/login/nope").status_code == 404


def test_search_api_by_token_is_paged(app_client, operator_token):
    acme, other = operator_token("acme"), operator_token("other")
    register_many(app_client, acme, 120, prefix="A")
    register_many(app_client, other, 5, prefix="O")
    holder = Holder()
    challenge = app_client.post("/challenges").json()
    vp = holder.present(
        [accredit(app_client, holder.did, "commission")], challenge["challenge"],
        challenge["domain"],
    )  # fmt: skip
    r = app_client.post("/authority/tokens", json={"verifiablePresentation": vp})
    assert r.status_code == 201, r.text
    auth = {"Authorization": f"Bearer {r.json()['token']}"}
    seen, after = [], None
    while True:
        params = {"operator": acme["did"], "limit": 50, **({"after": after} if after else {})}
        page = app_client.get("/passports", params=params, headers=auth).json()
        seen += [i["serial"] for i in page["items"]]
        after = page["next"]
        if after is None:
            break
    assert sorted(seen) == [f"A{i:06d}" for i in range(120)]
    r = app_client.get("/passports", params={"operator": other["did"]}, headers=auth)
    assert [i["operator"] for i in r.json()["items"]] == [other["did"]] * 5
    r = app_client.get("/passports", params={"model": "no such model"}, headers=auth)
    assert r.json() == {"items": [], "next": None}
    r = app_client.get("/passports", params={"gtin": "1"}, headers=auth)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    r = app_client.get("/passports", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401
