"""The trust registry (file, defaults, served with an ETag) and the `trust` and `schema` checks in
the verification pipeline every endpoint uses."""

from __future__ import annotations

import copy
import json

import pytest
from fastapi.testclient import TestClient
from verifier_testkit import Holder, World

from service.app import create_app
from verifier.accreditation import InvalidAccreditation, role_credential
from verifier.trust import (
    DEFAULT_ISSUERS,
    ROLES,
    RegistrySource,
    TrustRegistryInvalid,
    default_registry,
    parse_registry,
)
from vocab.catalogue import Tier
from vocab.context import AUTHORITY_PASSPORT_CREDENTIAL, PUBLIC_PASSPORT_CREDENTIAL

SELF = "did:web:dpp.example"


def verify(world: World, vc: dict) -> dict:
    r = world.client.post("/credentials/verify", json={"verifiableCredential": vc})
    assert r.status_code in (200, 400), r.text
    return r.json()


def outcome(body: dict, check: str) -> tuple[str, str]:
    for item in body["results"]:
        if item["check"] == check:
            return item["status"], item.get("code", "")
    raise AssertionError(f"no {check} check in {body['results']}")


# --- the registry file ------------------------------------------------------------------------


def test_defaults_make_this_instance_the_anchor_for_every_role():
    registry = default_registry(SELF)
    assert registry.accredits(SELF, ["recycling", "commission"])
    assert not registry.accredits("did:web:other", ["recycling"])
    assert not registry.accredits(SELF, [])
    assert {a.id for a in registry.anchors} == {SELF}
    assert registry.anchors[0].accredits == ROLES


def test_parse_registry_file():
    registry = parse_registry(
        {
            "trustAnchors": [
                {"id": "self", "accredits": ["commission"]},
                {
                    "id": "did:web:recyclers.example",
                    "name": "EU recyclers",
                    "accredits": ["recycling"],
                },
            ],
            "notifiedBodies": [{"id": "did:web:nb.example", "number": "0123"}],
            "issuers": {AUTHORITY_PASSPORT_CREDENTIAL: ["notified-body"]},
        },
        SELF,
    )
    assert registry.accredits(SELF, ["commission"])
    assert not registry.accredits(SELF, ["recycling"])
    assert registry.accredits("did:web:recyclers.example", ["recycling"])
    assert registry.is_notified_body("did:web:nb.example")
    assert registry.issuers[AUTHORITY_PASSPORT_CREDENTIAL] == ("notified-body",)
    # types the file does not name keep their default rule
    assert (
        registry.issuers[PUBLIC_PASSPORT_CREDENTIAL] == DEFAULT_ISSUERS[PUBLIC_PASSPORT_CREDENTIAL]
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "must be a JSON object"),
        ({"anchors": []}, "unknown member"),
        ({"trustAnchors": [{"id": "not-a-did", "accredits": ["repair"]}]}, "not a DID"),
        ({"trustAnchors": [{"id": "did:web:x", "accredits": ["hacking"]}]}, "unknown role"),
        ({"trustAnchors": [{"id": "did:web:x", "accredits": []}]}, "non-empty list"),
        (
            {"trustAnchors": [{"id": "did:web:x", "accredits": ["repair"], "x": 1}]},
            "unknown member",
        ),
        ({"issuers": {"X": []}}, "non-empty list"),
        ({"issuers": {"X": ["everyone"]}}, "not a DID"),
        (
            {
                "trustAnchors": [
                    {"id": "did:web:x", "accredits": ["repair"]},
                    {"id": "did:web:x", "accredits": ["recycling"]},
                ]
            },
            "twice",
        ),
    ],
)
def test_bad_registry_files(data, message):
    with pytest.raises(TrustRegistryInvalid, match=message):
        parse_registry(data, SELF)


def test_registry_file_is_reread_when_it_changes(tmp_path, caplog):
    path = tmp_path / "trust.json"
    path.write_text(json.dumps({"trustAnchors": [{"id": "self", "accredits": ["repair"]}]}))
    source = RegistrySource(path, SELF)
    assert source.current().accredits(SELF, ["repair"])
    path.write_text(json.dumps({"trustAnchors": [{"id": "self", "accredits": ["recycling"]}]}))
    import os

    os.utime(path, ns=(1, 1))  # a different mtime even within the file system's resolution
    assert source.current().accredits(SELF, ["recycling"])
    path.write_text("{broken")
    os.utime(path, ns=(2, 2))
    assert source.current().accredits(SELF, ["recycling"])  # the last good one stays
    assert "not reloaded" in caplog.text


def test_missing_registry_file_stops_the_start(tmp_path):
    with pytest.raises(TrustRegistryInvalid, match="cannot read"):
        RegistrySource(tmp_path / "absent.json", SELF)


def test_trust_registry_served_with_etag(world):
    r = world.client.get("/trust-registry")
    assert r.status_code == 200
    body = r.json()
    assert body["trustAnchors"] == [
        {"id": "did:web:testserver", "accredits": sorted(ROLES), "name": "this dbp instance"}
    ]
    assert body["issuers"]["LegitimateInterestCredential"] == ["trust-anchor"]
    assert body["accessPolicy"]["legitimate-interest"] == [
        "public",
        "legitimate-interest",
        "legitimate-interest+commission",
    ]
    assert body["accessPolicy"]["commission"] == [
        "public",
        "legitimate-interest+commission",
        "authorities",
    ]
    etag = r.headers["etag"]
    again = world.client.get("/trust-registry", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.headers["etag"] == etag


# --- role credentials -----------------------------------------------------------------------


def test_role_credential_shapes():
    li = role_credential(issuer=SELF, subject="did:key:z6Mkx", roles=["repair", "recycling"])
    assert li["type"] == ["VerifiableCredential", "LegitimateInterestCredential"]
    assert li["credentialSubject"] == {"id": "did:key:z6Mkx", "purpose": ["recycling", "repair"]}
    assert "validUntil" in li
    auth = role_credential(
        issuer=SELF,
        subject="did:key:z6Mkx",
        roles=["commission"],
        jurisdiction="EU",
        name="DG GROW",
    )
    assert auth["credentialSubject"] == {
        "id": "did:key:z6Mkx",
        "authorityType": "commission",
        "jurisdiction": "EU",
        "name": "DG GROW",
    }
    for bad in (["commission", "repair"], ["hacking"], []):
        with pytest.raises(InvalidAccreditation):
            role_credential(issuer=SELF, subject="did:key:z6Mkx", roles=bad)


def test_role_credential_from_the_instance_verifies(world):
    role = world.accredit(Holder.new().did, "recycling", name="Recycling GmbH")
    body = verify(world, role)
    assert body["verified"] is True, body
    assert outcome(body, "trust") == ("passed", "")


def test_role_credential_from_a_stranger_fails_trust(world):
    stranger = Holder.new()
    role = stranger.sign(
        role_credential(issuer=stranger.did, subject=stranger.did, roles=["repair"])
    )
    body = verify(world, role)
    assert body["verified"] is False
    assert outcome(body, "trust") == ("failed", "untrusted-issuer")


def test_operator_listed_as_anchor_issues_role_credentials(database_url, make_settings, tmp_path):
    """A registry file makes an operator a trust anchor for some roles, through the VC-API."""
    from issuer import operators
    from service.db import session_scope

    path = tmp_path / "trust.json"
    path.write_text(
        json.dumps(
            {
                "trustAnchors": [
                    {
                        "id": "did:web:testserver:operators:recyclers-union",
                        "accredits": ["recycling"],
                    }
                ]
            }
        )
    )
    with TestClient(create_app(make_settings(database_url, trust_registry=path))) as client:
        rt = client.app.state.runtime
        with session_scope(rt.engine) as session:
            union, token = operators.create_operator(
                session,
                name="recyclers-union",
                did_method="web",
                did_web_base=rt.settings.did_web_base,
                master_key=rt.master_key,
            )
            acme, acme_token = operators.create_operator(
                session,
                name="acme",
                did_method="web",
                did_web_base=rt.settings.did_web_base,
                master_key=rt.master_key,
            )
        world = World(client, {"name": "acme", "did": acme.did, "token": acme_token})
        union_op = {"did": union.did, "token": token}
        recycler = Holder.new()
        good = world.issue(
            union_op, role_credential(issuer=union.did, subject=recycler.did, roles=["recycling"])
        )
        assert outcome(verify(world, good), "trust") == ("passed", "")
        beyond = world.issue(
            union_op, role_credential(issuer=union.did, subject=recycler.did, roles=["repair"])
        )
        assert outcome(verify(world, beyond), "trust") == ("failed", "untrusted-issuer")
        # the instance is no anchor under this file
        instance_role = world.accredit(recycler.did, "recycling")
        assert outcome(verify(world, instance_role), "trust") == ("failed", "untrusted-issuer")
        r = world.present_and_access(recycler, [good], world.b1)
        assert r.status_code == 200, r.text


# --- passport credentials: issued by the responsible operator --------------------------------


def test_tier_credentials_pass_schema_and_trust(world):
    for tier, vc in world.tier_credentials.items():
        body = verify(world, vc)
        assert body["verified"] is True, (tier, body["errors"])
        assert outcome(body, "schema")[0] == "passed"
        assert outcome(body, "trust")[0] == "passed"


def test_tier_credential_by_another_operator_fails_trust(world, operator_token):
    rival = operator_token("rival")
    doc = world.tier_credentials[Tier.PUBLIC]["credentialSubject"]
    vc = world.issue(rival, world.tier_credential(world.b1, rival["did"], Tier.PUBLIC, doc))
    body = verify(world, vc)
    assert body["verified"] is False
    assert outcome(body, "trust") == ("failed", "issuer-not-responsible")


def test_tier_credential_after_transfer_is_no_longer_trusted(world, operator_token):
    """The routing registry keeps no history: after a hand-over only the new operator passes."""
    newco = operator_token("newco")
    world.transfer(world.b1, newco["did"])
    body = verify(world, world.tier_credentials[Tier.PUBLIC])
    assert outcome(body, "trust") == ("failed", "issuer-not-responsible")


def test_tier_credential_for_unknown_battery(world):
    doc = copy.deepcopy(world.tier_credentials[Tier.PUBLIC]["credentialSubject"])
    doc["batteryIdentifier"] = "http://testserver/01/09520123456788/21/UNKNOWN"
    vc = world.issue(
        world.acme, world.tier_credential(world.b1, world.acme["did"], Tier.PUBLIC, doc)
    )
    assert outcome(verify(world, vc), "trust") == ("failed", "unknown-battery")


def test_test_reports_from_a_listed_notified_body(database_url, make_settings, tmp_path):
    from issuer import operators
    from service.db import session_scope

    path = tmp_path / "trust.json"
    nb_did = "did:web:testserver:operators:nb-0123"
    path.write_text(json.dumps({"notifiedBodies": [{"id": nb_did, "number": "0123"}]}))
    with TestClient(create_app(make_settings(database_url, trust_registry=path))) as client:
        rt = client.app.state.runtime
        made = {}
        with session_scope(rt.engine) as session:
            for name in ("acme", "nb-0123", "lab"):
                op, token = operators.create_operator(
                    session,
                    name=name,
                    did_method="web",
                    did_web_base=rt.settings.did_web_base,
                    master_key=rt.master_key,
                )
                made[name] = {"did": op.did, "token": token}
        world = World(client, made["acme"])
        doc = world.tier_credentials[Tier.AUTHORITIES]["credentialSubject"]
        by_nb = world.issue(
            made["nb-0123"], world.tier_credential(world.b1, nb_did, Tier.AUTHORITIES, doc)
        )
        assert outcome(verify(world, by_nb), "trust") == ("passed", "")
        by_lab = world.issue(
            made["lab"], world.tier_credential(world.b1, made["lab"]["did"], Tier.AUTHORITIES, doc)
        )
        assert outcome(verify(world, by_lab), "trust")[0] == "failed"
        # a notified body may not issue the other tiers
        public = world.tier_credentials[Tier.PUBLIC]["credentialSubject"]
        nb_public = world.issue(
            made["nb-0123"], world.tier_credential(world.b1, nb_did, Tier.PUBLIC, public)
        )
        assert outcome(verify(world, nb_public), "trust")[0] == "failed"


def test_credentials_without_rules_skip_trust(world):
    vc = world.issue(
        world.acme,
        {
            "@context": [
                "https://www.w3.org/ns/credentials/v2",
                "https://www.w3.org/ns/credentials/examples/v2",
            ],
            "type": ["VerifiableCredential", "ExampleCredential"],
            "issuer": world.acme["did"],
            "credentialSubject": {"id": "did:example:1", "note": "x"},
        },
    )
    body = verify(world, vc)
    assert body["verified"] is True
    assert outcome(body, "trust")[0] == "skipped"
    assert outcome(body, "schema")[0] == "skipped"


# --- the schema check -----------------------------------------------------------------------


def test_schema_mismatch_fails(world):
    doc = copy.deepcopy(world.tier_credentials[Tier.PUBLIC]["credentialSubject"])
    doc["passportVersion"] = 0  # the schema says minimum 1; the JSON-LD context does not care
    vc = world.issue(
        world.acme, world.tier_credential(world.b1, world.acme["did"], Tier.PUBLIC, doc)
    )
    body = verify(world, vc)
    assert body["verified"] is False
    assert outcome(body, "schema") == ("failed", "schema-mismatch")
    assert "passportVersion" in next(e for e in body["errors"] if e["check"] == "schema")["detail"]


def test_schema_of_another_tier_fails(world):
    """A public document declared against the legitimate-interest schema."""
    vc = world.tier_credential(
        world.b1,
        world.acme["did"],
        Tier.PUBLIC,
        world.tier_credentials[Tier.PUBLIC]["credentialSubject"],
    )
    vc["credentialSchema"] = {
        "id": "https://w3id.org/dbp/schemas/v1/legitimate-interest-battery-passport-credential.json",
        "type": "JsonSchema",
    }
    body = verify(world, world.issue(world.acme, vc))
    assert outcome(body, "schema") == ("failed", "schema-mismatch")


def test_schema_not_bundled_is_a_warning_not_a_fetch(world):
    vc = world.tier_credential(
        world.b1,
        world.acme["did"],
        Tier.PUBLIC,
        world.tier_credentials[Tier.PUBLIC]["credentialSubject"],
    )
    vc["credentialSchema"] = {"id": "https://schemas.example/x.json", "type": "JsonSchema"}
    body = verify(world, world.issue(world.acme, vc))
    assert body["verified"] is True
    assert outcome(body, "schema") == ("warning", "schema-not-bundled")
    assert body["warnings"][0]["check"] == "schema"


# --- the command line -----------------------------------------------------------------------


def cli_env(world: World) -> dict[str, str]:
    s = world.rt.settings
    return {
        "DBP_DATABASE_URL": s.resolved_database_url,
        "DBP_DATA_DIR": str(s.data_dir),
        "DBP_PUBLIC_URL": s.public_url,
    }


def test_dbp_trust_accredit_signs_with_the_instance_key(world, tmp_path):
    from typer.testing import CliRunner

    from service.cli import app as cli

    recycler = Holder.new()
    out = tmp_path / "role.json"
    result = CliRunner().invoke(
        cli,
        [
            "trust",
            "accredit",
            "--subject",
            recycler.did,
            "--role",
            "recycling",
            "--role",
            "repair",
            "--valid-days",
            "30",
            "--name",
            "Recycling GmbH",
            "--out",
            str(out),
        ],
        env=cli_env(world),
    )
    assert result.exit_code == 0, result.output
    role = json.loads(out.read_text())
    assert role["issuer"] == "did:web:testserver"
    assert role["credentialSubject"]["purpose"] == ["recycling", "repair"]
    body = verify(world, role)
    assert body["verified"] is True, body["errors"]
    r = world.present_and_access(recycler, [role], world.b1)
    assert r.status_code == 200, r.text


def test_dbp_trust_accredit_refuses_nonsense(world):
    from typer.testing import CliRunner

    from service.cli import app as cli

    result = CliRunner().invoke(
        cli,
        [
            "trust",
            "accredit",
            "--subject",
            "did:key:z6Mkx",
            "--role",
            "commission",
            "--role",
            "repair",
        ],
        env=cli_env(world),
    )
    assert result.exit_code == 1
    assert "exactly one authority type" in result.output


def test_dbp_trust_show(world):
    from typer.testing import CliRunner

    from service.cli import app as cli

    result = CliRunner().invoke(cli, ["trust", "show"], env=cli_env(world))
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["trustAnchors"][0]["id"] == "did:web:testserver"


def failed_status(body: dict) -> list[str]:
    return [
        c["code"] for c in body["results"] if c["check"] == "status" and c["status"] == "failed"
    ]


def test_dbp_trust_status_revokes_and_suspends(world):
    from typer.testing import CliRunner

    from service.cli import app as cli

    officer = Holder.new()
    role = world.accredit(officer.did, "commission")
    runner = CliRunner()
    args = ["trust", "status", "--credential", role["id"]]
    result = runner.invoke(cli, [*args, "--suspend"], env=cli_env(world))
    assert result.exit_code == 0, result.output
    assert failed_status(verify(world, role)) == ["suspended"]
    assert runner.invoke(cli, [*args, "--reinstate"], env=cli_env(world)).exit_code == 0
    assert verify(world, role)["verified"] is True
    assert runner.invoke(cli, [*args, "--revoke"], env=cli_env(world)).exit_code == 0
    assert failed_status(verify(world, role)) == ["revoked"]
    result = runner.invoke(cli, [*args, "--reinstate"], env=cli_env(world))
    assert result.exit_code == 0  # reinstating touches the suspension bit only
    result = runner.invoke(cli, [*args], env=cli_env(world))
    assert result.exit_code == 2
    unknown = runner.invoke(
        cli, ["trust", "status", "--credential", "urn:x", "--revoke"], env=cli_env(world)
    )
    assert unknown.exit_code == 1
