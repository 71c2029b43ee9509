"""The resolver over the real issuer (issuer/views.py through the runtime), on SQLite and
PostgreSQL: a battery registered and issued through the API resolves, its page verifies every
credential with the full check set (status list included), and revoking or suspending flips the
verdict."""

from __future__ import annotations

import pytest
from resolver_testkit import issued_battery, issued_public_credential, set_status

LINKSET = "application/linkset+json"


@pytest.fixture
def acme(operator_token):
    return operator_token("acme")


def test_issued_battery_resolves(app_client, acme):
    battery = issued_battery(app_client, acme, "ISS-1")
    linkset = app_client.get(battery["path"], headers={"Accept": LINKSET})
    assert linkset.status_code == 200, linkset.text
    context = linkset.json()["linkset"][0]
    assert context["anchor"] == battery["itemUri"]
    assert context["itemDescription"].startswith("EV battery")
    assert context["dpp"][0]["href"] == battery["itemUri"] + "/passport"
    credentials = app_client.get(battery["path"] + "/passport").json()["verifiableCredential"]
    assert credentials == [issued_public_credential(battery)]  # the public tier only
    page = app_client.get(battery["path"], headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert 'class="verdict verdict-ok"' in page.text
    assert 'class="check check-passed" data-check="status"' in page.text
    assert "Not revoked: the issuer&#39;s status list was checked." in page.text
    assert "Not suspended" in page.text
    assert "<td>Created</td>" in page.text  # the passport history from issuer.views
    assert "Passport version</dt><dd>1 (active)" in page.text
    assert "Dismantling" not in page.text  # restricted-tier data never reaches the page
    doc = app_client.get(f"/batteries/{battery['id']}/did.json").json()
    assert doc["id"] == battery["did"]
    assert doc["controller"] == acme["did"]


@pytest.mark.parametrize(
    ("purpose", "headline"), [("revocation", "Revoked"), ("suspension", "Suspended")]
)
def test_withdrawn_passport_page(app_client, acme, purpose, headline):
    battery = issued_battery(app_client, acme, f"ISS-{purpose}")
    r = set_status(app_client, acme, issued_public_credential(battery)["id"], purpose, True)
    assert r.status_code == 200, r.text
    page = app_client.get(battery["path"], headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert 'class="verdict verdict-bad"' in page.text
    assert f"</span>{headline}</h2>" in page.text
    assert 'class="check check-failed" data-check="status"' in page.text
    # the JSON paths do not verify anything: they still serve the credential as stored
    assert app_client.get(battery["path"] + "/passport").status_code == 200
