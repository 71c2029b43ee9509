"""Materialized scan answers (issue 16 item 1), over the real issuer on SQLite and PostgreSQL: a
scan after the first is served from the stored view without running a verification, every write
that changes the battery (status change, event, key rotation) is seen by the very next scan, and
a view built while a write committed is not kept."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from resolver_testkit import auth, issued_battery, issued_public_credential, set_status

from resolver import views
from resolver.tables import ResolverView
from service.db import session_scope

PAGE = {"Accept": "text/html"}
LINKSET = {"Accept": "application/linkset+json"}


@pytest.fixture
def acme(operator_token):
    return operator_token("acme")


@pytest.fixture
def verifications(app_client, monkeypatch):
    """How many credential verifications the scans ran (a counting wrapper around the real one)."""
    passports = app_client.app.state.runtime.passports
    real = passports.verify_credential
    calls: list[object] = []

    def counted(session, credential):
        calls.append(credential)
        return real(session, credential)

    monkeypatch.setattr(passports, "verify_credential", counted)
    return calls


def _checked_at(page: str) -> str:
    match = re.search(r'class="muted checked-at">Checked <time datetime="([^"]+)"', page)
    assert match, "the page does not say when its checks were made"
    return match[1]


def _view(app_client, battery_id: str) -> ResolverView | None:
    with session_scope(app_client.app.state.runtime.engine) as session:
        return session.get(ResolverView, battery_id)


def test_a_second_scan_is_served_from_the_view(app_client, acme, verifications):
    battery = issued_battery(app_client, acme, "VIEW-1")
    first = app_client.get(battery["path"], headers=PAGE)
    assert first.status_code == 200
    built = len(verifications)
    assert built >= 1
    view = _view(app_client, battery["id"])
    assert view is not None and view.built_generation == view.generation
    for headers in (PAGE, LINKSET, {"Accept": "application/ld+json"}):
        again = app_client.get(battery["path"], headers=headers)
        assert again.status_code == 200
    assert len(verifications) == built, "a scan of an unchanged battery verified again"
    again = app_client.get(battery["path"], headers=PAGE)
    assert again.content == first.content and again.headers["etag"] == first.headers["etag"]
    assert _checked_at(again.text) == _checked_at(first.text)
    # the stored answers are the ones a fresh build gives (conditional requests still work)
    assert (
        app_client.get(
            battery["path"], headers={**PAGE, "If-None-Match": first.headers["etag"]}
        ).status_code
        == 304
    )


def test_a_revocation_is_seen_by_the_next_scan(app_client, acme):
    battery = issued_battery(app_client, acme, "VIEW-2")
    page = app_client.get(battery["path"], headers=PAGE)
    assert 'class="verdict verdict-ok"' in page.text
    r = set_status(app_client, acme, issued_public_credential(battery)["id"], "revocation", True)
    assert r.status_code == 200, r.text
    page = app_client.get(battery["path"], headers=PAGE)
    assert 'class="verdict verdict-bad"' in page.text and "Revoked" in page.text


def test_an_event_and_a_key_rotation_rebuild_the_answers(app_client, acme, verifications):
    battery = issued_battery(app_client, acme, "VIEW-3")
    app_client.get(battery["path"], headers=PAGE)
    generation = _view(app_client, battery["id"]).generation
    r = app_client.post(
        f"/batteries/{battery['id']}/events",
        json={"eventType": "status-change", "occurredAt": "2027-04-01T08:00:00Z",
              "batteryStatus": "re-used"},
        headers=auth(acme),
    )  # fmt: skip
    assert r.status_code in (200, 201), r.text
    assert _view(app_client, battery["id"]).generation > generation
    built = len(verifications)
    app_client.get(battery["path"], headers=PAGE)
    assert len(verifications) > built, "the scan after an event served the old answers"

    generation = _view(app_client, battery["id"]).generation
    r = app_client.post("/operators/me/keys", headers=auth(acme))
    assert r.status_code == 201, r.text
    assert _view(app_client, battery["id"]).generation > generation
    built = len(verifications)
    assert app_client.get(battery["path"], headers=LINKSET).status_code == 200
    assert len(verifications) > built, "the scan after a key rotation served the old answers"


def test_a_view_built_across_a_write_is_not_kept(app_client, acme):
    battery = issued_battery(app_client, acme, "VIEW-4")
    app_client.get(battery["path"], headers=PAGE)
    engine = app_client.app.state.runtime.engine
    with session_scope(engine) as builder:
        view = builder.get(ResolverView, battery["id"])
        read_generation = view.generation
        built = views.Built(
            anchor=view.anchor,
            link_header=view.link_header,
            linkset=b"{}",
            passport=None,
            page=b"stale",
            built_at=datetime.now(UTC),
            stale_at=datetime.now(UTC) + timedelta(hours=1),
        )
        with session_scope(engine) as writer:  # a write commits while the view is being built
            views.invalidate(writer, {battery["id"]})
            writer.commit()
        assert views.store(builder, battery["id"], read_generation, built) is False
    page = app_client.get(battery["path"], headers=PAGE)
    assert page.status_code == 200 and page.content != b"stale"
    assert 'class="verdict verdict-ok"' in page.text


def test_views_expire_at_the_next_validity_boundary():
    built_at = datetime(2027, 1, 1, tzinfo=UTC)
    soon = {"validUntil": "2027-01-01T00:01:00Z"}
    later = {"validFrom": "2026-01-01T00:00:00Z", "validUntil": "2030-01-01T00:00:00Z"}
    assert views.stale_at(built_at, 300, [later], []) == built_at + timedelta(seconds=300)
    assert views.stale_at(built_at, 300, [later, soon], []) == built_at + timedelta(minutes=1)
    assert views.stale_at(built_at, 0, [later], []) == built_at
