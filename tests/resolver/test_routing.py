"""The routing registry end to end: a battery whose holder moved to a second dbp instance (a real
`uvicorn service.asgi:app` process started here), re-pointing rules, and batteries of an operator
that left the market (kept copy or successor). The first instance runs on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

import httpx
import pytest
from resolver_testkit import (
    GTIN,
    battery_with_passport,
    register_battery,
    running_instance,
)
from sqlmodel import Session
from typer.testing import CliRunner

from issuer import operators
from resolver import registry
from service.cli import app as cli
from service.db import session_scope
from vocab.gs1 import item_key

LINKSET = "application/linkset+json"


@pytest.fixture(scope="module")
def second(tmp_path_factory):
    """Instance B, with an operator of its own that takes batteries over."""
    data_dir = tmp_path_factory.mktemp("second-instance") / "var"
    data_dir.mkdir()
    with running_instance(data_dir) as instance:
        engine = instance.engine()
        with session_scope(engine) as session:
            operator, token = operators.create_operator(
                session,
                name="second-life",
                did_method="web",
                did_web_base=instance.settings.did_web_base,
                master_key=instance.settings.load_keystore(),
            )
            instance.operator = {"did": operator.did, "token": token}
        instance.db = engine
        yield instance
        engine.dispose()


def unique(prefix: str) -> str:
    """A serial not used before: instance B outlives one test (and one database kind)."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def arrives_at(instance, battery: dict) -> None:
    """Instance B takes the battery into its registry; it keeps the DID it had."""
    with session_scope(instance.db) as session:
        registry.register(
            session,
            battery_id=battery["id"],
            key=item_key(battery["gtin"], battery["serial"]),
            did_web_base=instance.settings.did_web_base,
            holder_did=instance.operator["did"],
            did=battery["did"],
        )


@pytest.fixture
def acme(operator_token):
    return operator_token("acme")


def repoint(client, token: str, battery_id: str, **body):
    return client.put(
        f"/batteries/{battery_id}/route",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
    )


def test_holder_moved_to_a_second_instance(app_client, acme, second):
    serial = unique("MOVE")
    battery = battery_with_passport(app_client, acme, serial)
    arrives_at(second, battery)
    r = repoint(
        app_client, acme["token"], battery["id"], holderDid=second.operator["did"],
        endpoint=second.url + "/",
    )  # fmt: skip
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["endpoint"] == second.url
    assert view["state"] == "moved"
    assert view["holderDid"] == second.operator["did"]
    assert view["passportEndpoint"] == second.url + battery["path"]

    # every resolution path answers 307 to the same path and query on the other instance
    cases = [
        (battery["path"], {"Accept": "text/html"}),
        (battery["path"], {"Accept": LINKSET}),
        (battery["path"], {"Accept": "application/ld+json"}),
        (battery["path"] + "?linkType=gs1:dpp", {}),
        (battery["path"] + "?linkType=linkset&x=%2F", {}),
        (f"/01/9520123456788/10/LOT%2F1/21/{serial}", {"Accept": LINKSET}),
        (battery["path"] + "/passport", {}),
    ]
    for path, headers in cases:
        r = app_client.get(path, headers=headers, follow_redirects=False)
        assert r.status_code == 307, (path, r.text)
        assert r.headers["location"] == second.url + path
    # ...where the battery resolves
    linkset = httpx.get(second.url + battery["path"], headers={"Accept": LINKSET}, timeout=10)
    assert linkset.status_code == 200, linkset.text
    assert linkset.json()["linkset"][0]["anchor"] == second.url + battery["path"]
    page = httpx.get(second.url + battery["path"], headers={"Accept": "text/html"}, timeout=10)
    assert page.status_code == 200
    assert serial in page.text
    # following the redirect from the first instance ends there too
    with httpx.Client(timeout=10, follow_redirects=True) as client:
        final = client.get(second.url + battery["path"] + "?linkType=linkset")
        assert final.status_code == 200

    # the DID document stays here, with the new controller and endpoint
    doc = app_client.get(f"/batteries/{battery['id']}/did.json").json()
    assert doc["controller"] == second.operator["did"]
    assert doc["service"][0]["serviceEndpoint"] == second.url + battery["path"]
    assert doc["alsoKnownAs"] == [battery["uri"]]  # the identifier printed on the battery
    resolved = app_client.get(f"/1.0/identifiers/{battery['did']}").json()["didDocument"]
    assert resolved == doc
    # the QR code still carries this instance's identifier
    assert app_client.get(battery["path"] + "/qr.svg").status_code == 200
    # and the old holder no longer controls the route
    again = repoint(app_client, acme["token"], battery["id"], holderDid=acme["did"])
    assert again.status_code == 403


def test_repoint_back_here(app_client, acme, operator_token):
    battery = register_battery(app_client.app.state.runtime, acme["did"], "BACK-1")
    other = operator_token("beta")
    r = repoint(
        app_client, acme["token"], battery["id"], holderDid=other["did"],
        endpoint="http://testserver",
    )  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["endpoint"] is None  # this instance's own URL means "here"
    assert r.json()["state"] == "active"
    assert app_client.get(battery["path"], headers={"Accept": LINKSET}).status_code == 200
    doc = app_client.get(f"/batteries/{battery['id']}/did.json").json()
    assert doc["controller"] == other["did"]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"holderDid": "not a did"}, 400, "holderDid"),
        ({"holderDid": 7}, 400, "holderDid"),
        ({"holderDid": "did:key:z6Mk", "endpoint": "ftp://x.example"}, 400, "endpoint"),
        ({"holderDid": "did:key:z6Mk", "endpoint": "https://x.example/?a=1"}, 400, "endpoint"),
        ({"holderDid": "did:key:z6Mk", "endpoint": 5}, 400, "endpoint"),
        ({"holderDid": "did:key:z6Mk", "colour": "blue"}, 400, "colour"),
    ],
)
def test_repoint_refuses_bad_bodies(app_client, acme, body, status, field):
    battery = register_battery(app_client.app.state.runtime, acme["did"], "BAD-1")
    r = repoint(app_client, acme["token"], battery["id"], **body)
    assert r.status_code == status, r.text
    assert r.json()["field"] == field


def test_repoint_needs_the_holder(app_client, acme, operator_token):
    battery = register_battery(app_client.app.state.runtime, acme["did"], "AUTH-1")
    url = f"/batteries/{battery['id']}/route"
    body = {"holderDid": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"}
    assert app_client.put(url, json=body).status_code == 401
    other = operator_token("beta")
    r = repoint(app_client, other["token"], battery["id"], **body)
    assert r.status_code == 403
    assert r.json()["type"].endswith("/not-holder")
    assert repoint(app_client, acme["token"], "nope", **body).status_code == 404


# --- an operator leaves the market ---


@pytest.fixture
def cli_env(app_client, monkeypatch):
    settings = app_client.app.state.runtime.settings
    monkeypatch.setenv("DBP_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("DBP_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("DBP_PUBLIC_URL", settings.public_url)
    return CliRunner()


def test_removed_operator_served_from_the_kept_copy(app_client, acme, cli_env):
    battery = battery_with_passport(app_client, acme, "GONE-1")
    result = cli_env.invoke(cli, ["operator", "remove", "--name", "acme", "--backup", "--json"])
    assert result.exit_code == 0, result.output
    assert '"batteries": 1' in result.stdout
    page = app_client.get(battery["path"], headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "Served from a kept copy" in page.text
    assert "left the market" in page.text
    assert "Authentic" in page.text  # its DID document stays, so its credentials still verify
    assert app_client.get(battery["path"], headers={"Accept": LINKSET}).status_code == 200
    doc = app_client.get(f"/batteries/{battery['id']}/did.json").json()
    backup = next(s for s in doc["service"] if s["id"].endswith("#backup"))
    assert backup["serviceEndpoint"] == battery["uri"]
    assert app_client.get("/operators/acme/did.json").status_code == 200
    # its token no longer works
    denied = repoint(app_client, acme["token"], battery["id"], holderDid=acme["did"])
    assert denied.status_code == 401


def test_removed_operator_redirects_to_its_successor(app_client, acme, cli_env, second):
    serial = unique("SUCC")
    battery = battery_with_passport(app_client, acme, serial)
    arrives_at(second, battery)
    result = cli_env.invoke(
        cli, ["operator", "remove", "--name", "acme", "--successor", second.url]
    )
    assert result.exit_code == 0, result.output
    assert "redirected to" in result.stdout
    r = app_client.get(battery["path"], headers={"Accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 307
    assert r.headers["location"] == second.url + battery["path"]
    followed = httpx.get(r.headers["location"], headers={"Accept": LINKSET}, timeout=10)
    assert followed.status_code == 200
    doc = app_client.get(f"/batteries/{battery['id']}/did.json").json()
    assert doc["service"][0]["serviceEndpoint"] == second.url + battery["path"]
    with Session(app_client.app.state.runtime.engine) as session:
        route = registry.lookup(session, GTIN, serial)
        assert (route.state, route.successor) == ("archived", second.url)


def test_remove_needs_a_destination_for_held_batteries(app_client, acme, cli_env):
    register_battery(app_client.app.state.runtime, acme["did"], "HELD-1")
    result = cli_env.invoke(cli, ["operator", "remove", "--name", "acme"])
    assert result.exit_code == 1
    assert "--successor URL or --backup" in result.stderr
    # nothing changed
    with Session(app_client.app.state.runtime.engine) as session:
        assert operators.by_name(session, "acme").removed_at is None
    bad = cli_env.invoke(cli, ["operator", "remove", "--name", "acme", "--successor", "nope"])
    assert bad.exit_code == 1
    assert "--successor" in bad.stderr
    ok = cli_env.invoke(cli, ["operator", "remove", "--name", "acme", "--backup"])
    assert ok.exit_code == 0, ok.output
    twice = cli_env.invoke(cli, ["operator", "remove", "--name", "acme", "--backup"])
    assert twice.exit_code == 1
    assert "already removed" in twice.stderr
    instance = cli_env.invoke(cli, ["operator", "remove", "--name", "instance", "--backup"])
    assert instance.exit_code == 1
    unknown = cli_env.invoke(cli, ["operator", "remove", "--name", "nobody", "--backup"])
    assert unknown.exit_code == 1
