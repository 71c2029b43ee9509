"""The company portal's lifecycle forms: a condition update and a status change (event
credentials), and a battery offered and accepted between two operators of this instance."""

from __future__ import annotations

import html
import re

from portal_testkit import GTIN, csrf_of, passport_text, sign_in


def _issue(client, serial: str) -> str:
    csrf = csrf_of(client.get("/portal/issue").text)
    r = client.post(
        "/portal/issue",
        data={"csrf": csrf, "gtin": GTIN, "serial": serial, "passport": passport_text()},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return r.headers["location"].split("?")[0]


def test_condition_update_and_status_change(app_client, operator_token):
    acme = operator_token("acme")
    sign_in(app_client, acme["token"])
    url = _issue(app_client, "EV-1")
    csrf = csrf_of(app_client.get(url).text)
    r = app_client.post(
        url + "/events",
        data={"csrf": csrf, "kind": "condition-update", "energy": "97.5", "cycles": "120",
              "occurred_at": "2027-03-01T10:00"},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303, r.text
    token = {"Authorization": f"Bearer {acme['token']}"}
    view = app_client.get("/batteries/" + url.split("/")[-1] + "/passport", headers=token).json()
    condition = view["passport"]["performance"]["condition"]
    assert condition["stateOfCertifiedEnergy"] == {
        "value": 97.5, "lastUpdate": "2027-03-01T10:00:00Z"
    }  # fmt: skip
    assert condition["numberOfFullCycles"]["value"] == 120
    r = app_client.post(
        url + "/events",
        data={"csrf": csrf, "kind": "status-change", "battery_status": "waste"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    page = app_client.get(url).text
    assert "status-change to waste" in page
    # waste cannot go back to original: the lifecycle rule, as a 409 page
    r = app_client.post(
        url + "/events", data={"csrf": csrf, "kind": "status-change", "battery_status": "original"}
    )
    assert r.status_code == 409, r.text
    for bad in ({"kind": "condition-update"}, {"kind": "condition-update", "energy": "x"},
                {"kind": "nope"}, {"kind": "condition-update", "cycles": "1.5"},
                {"kind": "status-change", "occurred_at": "yesterday"}):  # fmt: skip
        r = app_client.post(url + "/events", data={"csrf": csrf, **bad})
        assert r.status_code == 422, (bad, r.text)
    assert app_client.post(url + "/events", data={"kind": "status-change"}).status_code == 403


def test_offer_and_accept_a_transfer(app_client, operator_token):
    acme, second = operator_token("acme"), operator_token("second")
    sign_in(app_client, acme["token"])
    url = _issue(app_client, "TR-1")
    csrf = csrf_of(app_client.get(url).text)
    r = app_client.post(url + "/transfers", data={"csrf": csrf, "to": second["did"]})
    assert r.status_code == 200, r.text
    offer = html.unescape(re.search(r"<textarea id=\"offer\" readonly[^>]*>(.*?)</textarea>",
                                    r.text, re.S)[1])  # fmt: skip
    assert '"BatteryTransferCredential"' in offer
    assert app_client.post(url + "/transfers", data={"csrf": csrf, "to": "nope"}).status_code in (
        400,
        422,
    )
    app_client.cookies.clear()
    sign_in(app_client, second["token"])
    page = app_client.get("/portal/transfers")
    r = app_client.post(
        "/portal/transfers/accept",
        data={"csrf": csrf_of(page.text), "offer": offer},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    arrived = app_client.get(r.headers["location"])
    assert arrived.status_code == 200 and "Battery TR-1" in arrived.text
    # the first operator no longer reaches it
    app_client.cookies.clear()
    sign_in(app_client, acme["token"])
    assert app_client.get(url).status_code == 404
    r = app_client.post(
        "/portal/transfers/accept", data={"csrf": csrf_of(page.text), "offer": "{}"}
    )
    assert r.status_code == 403  # the CSRF token of another session
