"""Restricted data over HTTP: each class of requester gets exactly its tiers, and every refusal
has its own reason and its own access-log row. Both databases, real keys and signatures."""

from __future__ import annotations

import copy
import json
import threading
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import Session
from verifier_testkit import Holder, World

from service.app import create_app
from service.db import session_scope
from verifier.tables import Challenge
from vocab.catalogue import Tier
from vocab.datetimes import format_datetime, utcnow

PUBLIC, LI, LIC, AUTH = (t.value for t in Tier)


def tiers_of(response) -> list[str]:
    """The tiers of the credentials in a release, from the credentials themselves."""
    found = []
    for vc in response.json()["verifiableCredentials"]:
        found.append(vc["credentialSubject"]["accessTier"])
    return found


def refused(world: World, response, reason: str, status: int) -> dict:
    """Assert a refusal with `reason`, and a log row recording it; return the problem."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == f"https://w3id.org/dbp/problems/{reason}"
    assert "verifiableCredentials" not in problem
    row = world.last_log()
    assert (row.outcome, row.reason, row.action) == ("refused", reason, "restricted-data")
    return problem


# --- who gets what -------------------------------------------------------------------------


def test_recycler_gets_legitimate_interest_tiers_not_test_reports(world):
    recycler = Holder.new()
    role = world.accredit(recycler.did, "recycling")
    r = world.present_and_access(recycler, [role], world.b1)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["battery"] == world.b1.item_uri
    assert body["tiers"] == [PUBLIC, LI, LIC]
    assert tiers_of(r) == [PUBLIC, LI, LIC]
    assert AUTH not in json.dumps(body)
    assert "testReports" not in json.dumps(body)
    assert r.headers["cache-control"] == "no-store"
    row = world.last_log()
    assert row.outcome == "released" and row.reason is None
    assert row.requester == recycler.did
    assert row.role == "legitimate-interest:recycling"
    assert json.loads(row.tiers) == sorted([PUBLIC, LI, LIC])
    assert json.loads(row.credentials) == [role["id"]]
    assert row.battery == world.b1.item_uri and row.operator == world.acme["did"]


@pytest.mark.parametrize("authority", ["market-surveillance", "notified-body", "commission"])
def test_authority_gets_test_reports_and_point_2_not_point_4(world, authority):
    officer = Holder.new()
    role = world.accredit(officer.did, authority)
    r = world.present_and_access(officer, [role], world.b1)
    assert r.status_code == 200, r.text
    assert r.json()["tiers"] == [PUBLIC, LIC, AUTH]
    assert tiers_of(r) == [PUBLIC, LIC, AUTH]
    assert "testReports" in json.dumps(r.json())
    assert world.last_log().role == f"authority:{authority}"


def test_authority_gets_point_4_when_policy_says_so(database_url, make_settings):
    settings = make_settings(database_url, authorities_see_individual_data=True)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        from issuer import operators
        from service.db import session_scope

        rt = client.app.state.runtime
        with session_scope(rt.engine) as session:
            op, token = operators.create_operator(
                session,
                name="acme",
                did_method="web",
                did_web_base=rt.settings.did_web_base,
                master_key=rt.master_key,
            )
            acme = {"name": op.name, "did": op.did, "token": token}
        world = World(client, acme)
        officer = Holder.new()
        role = world.accredit(officer.did, "market-surveillance")
        r = world.present_and_access(officer, [role], world.b1)
        assert r.status_code == 200, r.text
        assert r.json()["tiers"] == [PUBLIC, LI, LIC, AUTH]
        assert tiers_of(r) == [PUBLIC, LI, LIC, AUTH]


def test_grantee_gets_only_granted_tiers_and_batteries(world):
    aggregator = Holder.new()
    grant = world.grant(aggregator.did, [world.b1], [LI])
    r = world.present_and_access(aggregator, [grant], world.b1)
    assert r.status_code == 200, r.text
    assert r.json()["tiers"] == [PUBLIC, LI]
    assert tiers_of(r) == [PUBLIC, LI]
    row = world.last_log()
    assert (row.role, row.requester, row.outcome) == ("grant", aggregator.did, "released")
    # the same grant does not open the other battery
    r = world.present_and_access(aggregator, [grant], world.b2)
    refused(world, r, "grant-other-battery", 403)


def test_grant_of_test_reports_opens_exactly_that_tier(world):
    consultant = Holder.new()
    grant = world.grant(consultant.did, [world.b1, world.b2], [AUTH])
    r = world.present_and_access(consultant, [grant], world.b1)
    assert r.status_code == 200, r.text
    assert tiers_of(r) == [PUBLIC, AUTH]


def test_role_and_grant_together_add_up(world):
    recycler = Holder.new()
    role = world.accredit(recycler.did, "recycling", "repair")
    grant = world.grant(recycler.did, [world.b1], [AUTH])
    r = world.present_and_access(recycler, [role, grant], world.b1)
    assert r.status_code == 200, r.text
    assert tiers_of(r) == [PUBLIC, LI, LIC, AUTH]
    assert world.last_log().role == "legitimate-interest:recycling,repair;grant"


def test_requested_subset_of_tiers(world):
    recycler = Holder.new()
    role = world.accredit(recycler.did, "repurposing")
    r = world.present_and_access(recycler, [role], world.b1, tiers=[LIC])
    assert r.status_code == 200, r.text
    assert tiers_of(r) == [LIC]
    assert json.loads(world.last_log().tiers) == [LIC]


def test_requesting_a_tier_the_role_does_not_open(world):
    recycler = Holder.new()
    role = world.accredit(recycler.did, "recycling")
    r = world.present_and_access(recycler, [role], world.b1, tiers=[LIC, AUTH])
    refused(world, r, "tier-not-allowed", 403)
    assert json.loads(world.last_log().tiers) == sorted([LIC, AUTH])


def test_vp_jwt_presentation(world):
    recycler = Holder.new()
    role = world.accredit(recycler.did, "recycling")
    nonce, domain = world.challenge()
    vp = recycler.present_jwt([role], nonce, domain)
    r = world.access(world.b1, {"verifiablePresentation": vp})
    assert r.status_code == 200, r.text
    assert tiers_of(r) == [PUBLIC, LI, LIC]


def test_jcs_presentation(world):
    recycler = Holder.new()
    role = world.accredit(recycler.did, "recycling")
    nonce, domain = world.challenge()
    vp = recycler.present([role], nonce, domain, cryptosuite="eddsa-jcs-2022")
    r = world.access(world.b1, {"verifiablePresentation": vp})
    assert r.status_code == 200, r.text
    # the tiers the recycling role opens, released and logged as such for this requester
    assert tiers_of(r) == [PUBLIC, LI, LIC]
    row = world.last_log()
    assert (row.outcome, row.reason, row.action) == ("released", None, "restricted-data")
    assert (row.requester, row.role) == (recycler.did, "legitimate-interest:recycling")
    assert json.loads(row.tiers) == sorted([PUBLIC, LI, LIC])


def test_access_through_the_battery_did_service(world):
    recycler = Holder.new()
    role = world.accredit(recycler.did, "recycling")
    nonce, domain = world.challenge()
    vp = recycler.present([role], nonce, domain)
    r = world.client.post(f"/batteries/{world.b1.id}/access", json={"verifiablePresentation": vp})
    assert r.status_code == 200, r.text
    assert r.json()["battery"] == world.b1.item_uri
    assert tiers_of(r) == [PUBLIC, LI, LIC]


@pytest.mark.parametrize(
    "path",
    [
        "/01/9520123456788/21/SN1",  # GTIN-13, left-padded to GTIN-14
        "/01/09520123456788/10/BATCH7/21/SN1",
        "/01/09520123456788/22/V1/10/BATCH7/21/SN1",
    ],
)
def test_gs1_forms_of_the_same_battery(world, path):
    recycler = Holder.new()
    role = world.accredit(recycler.did, "recycling")
    nonce, domain = world.challenge()
    vp = recycler.present([role], nonce, domain)
    r = world.access(path, {"verifiablePresentation": vp})
    assert r.status_code == 200, r.text
    assert r.json()["battery"] == world.b1.item_uri
    assert world.last_log().battery == world.b1.item_uri


def test_bad_gtin_is_a_client_error(world):
    r = world.access("/01/09520123456789/21/SN1", {})
    assert r.status_code == 400
    assert r.json()["type"].endswith("/invalid-gs1-key")


class LeakyPassports:
    """The real passport store, except that it hands back every tier whatever was asked: a fake
    used only in the defence-in-depth test below, a unit test of the release code around the
    store (what a buggy store would do cannot be produced with the real one)."""

    def __init__(self, real) -> None:
        self.real = real

    def __getattr__(self, name: str):
        return getattr(self.real, name)

    def credentials_for_tiers(self, session, battery_id, tiers):
        return self.real.credentials_for_tiers(session, battery_id, list(Tier))


def test_store_returning_too_much_is_filtered(world):
    """Whatever the passport store hands back, only the allowed tiers leave the service."""
    world.rt.passports = LeakyPassports(world.rt.passports)
    recycler = Holder.new()
    role = world.accredit(recycler.did, "recycling")
    r = world.present_and_access(recycler, [role], world.b1)
    assert r.status_code == 200
    assert tiers_of(r) == [PUBLIC, LI, LIC]


def test_one_challenge_two_concurrent_requests(world):
    """Exactly one of two simultaneous requests with the same challenge succeeds."""
    recycler = Holder.new()
    role = world.accredit(recycler.did, "recycling")
    nonce, domain = world.challenge()
    vp = recycler.present([role], nonce, domain)
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def go() -> None:
        barrier.wait()
        statuses.append(world.access(world.b1, {"verifiablePresentation": vp}).status_code)

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200, 401]
    assert sorted((r.outcome, r.reason) for r in world.log()) == [
        ("refused", "challenge-replayed"),
        ("released", None),
    ]


# --- refusals: each with its own reason and a log row --------------------------------------


def test_refused_without_presentation(world):
    refused(world, world.access(world.b1, None), "no-presentation", 401)
    refused(world, world.access(world.b1, {}), "no-presentation", 401)
    row = world.last_log()
    assert row.requester is None and row.battery == world.b1.item_uri
    assert row.operator == world.acme["did"]


def test_refused_presentation_signed_by_someone_else_than_the_subject(world):
    recycler, thief = Holder.new(), Holder.new()
    role = world.accredit(recycler.did, "recycling")
    r = world.present_and_access(thief, [role], world.b1)
    refused(world, r, "holder-mismatch", 401)
    assert world.last_log().requester == thief.did


def test_refused_presentation_claiming_a_holder_it_is_not_signed_by(world):
    recycler, thief = Holder.new(), Holder.new()
    role = world.accredit(recycler.did, "recycling")
    nonce, domain = world.challenge()
    vp = thief.present([role], nonce, domain, holder=recycler.did)
    refused(world, world.access(world.b1, {"verifiablePresentation": vp}), "holder-mismatch", 401)


def test_refused_replayed_challenge(world):
    recycler = Holder.new()
    role = world.accredit(recycler.did, "recycling")
    nonce, domain = world.challenge()
    vp = recycler.present([role], nonce, domain)
    assert world.access(world.b1, {"verifiablePresentation": vp}).status_code == 200
    r = world.access(world.b1, {"verifiablePresentation": vp})
    refused(world, r, "challenge-replayed", 401)


def test_refused_expired_challenge(world):
    recycler = Holder.new()
    role = world.accredit(recycler.did, "recycling")
    nonce, domain = world.challenge()
    with Session(world.rt.engine) as session:
        session.execute(
            update(Challenge)
            .where(Challenge.id == nonce)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        session.commit()
    vp = recycler.present([role], nonce, domain)
    refused(world, world.access(world.b1, {"verifiablePresentation": vp}), "challenge-expired", 401)


def test_refused_wrong_domain(world):
    recycler = Holder.new()
    role = world.accredit(recycler.did, "recycling")
    nonce, _ = world.challenge()
    vp = recycler.present([role], nonce, "evil.example")
    refused(world, world.access(world.b1, {"verifiablePresentation": vp}), "domain-mismatch", 401)


def test_refused_unknown_challenge(world):
    recycler = Holder.new()
    role = world.accredit(recycler.did, "recycling")
    vp = recycler.present([role], "made-up-nonce", world.domain)
    refused(world, world.access(world.b1, {"verifiablePresentation": vp}), "challenge-unknown", 401)


def test_refused_presentation_without_challenge(world):
    recycler = Holder.new()
    role = world.accredit(recycler.did, "recycling")
    vp = recycler.present([role], None, None)
    refused(world, world.access(world.b1, {"verifiablePresentation": vp}), "challenge-missing", 401)


def test_refused_role_credential_from_untrusted_issuer(world):
    recycler, self_made = Holder.new(), Holder.new()
    from verifier.accreditation import role_credential

    role = self_made.sign(
        role_credential(issuer=self_made.did, subject=recycler.did, roles=["recycling"])
    )
    r = world.present_and_access(recycler, [role], world.b1)
    refused(world, r, "untrusted-issuer", 403)
    row = world.last_log()
    assert row.requester == recycler.did and row.role == "legitimate-interest:recycling"


def test_refused_role_credential_from_operator_that_is_no_anchor(world):
    """Any operator can sign a role credential through the VC-API; it opens nothing."""
    recycler = Holder.new()
    from verifier.accreditation import role_credential

    role = world.issue(
        world.acme,
        role_credential(issuer=world.acme["did"], subject=recycler.did, roles=["recycling"]),
    )
    refused(world, world.present_and_access(recycler, [role], world.b1), "untrusted-issuer", 403)


def change_status(world: World, credential: dict, purpose: str, value: bool) -> None:
    with session_scope(world.rt.engine) as session:
        world.rt.change_instance_credential_status(session, credential["id"], purpose, value)


def test_role_credentials_carry_status_entries(world):
    role = world.accredit(Holder.new().did, "recycling")
    purposes = [entry["statusPurpose"] for entry in role["credentialStatus"]]
    assert purposes == ["revocation", "suspension"]
    assert role["credentialStatus"][0]["statusListCredential"].startswith(
        "http://testserver/status-lists/"
    )


def test_refused_revoked_role_credential(world):
    recycler = Holder.new()
    role = world.accredit(recycler.did, "recycling")
    assert world.present_and_access(recycler, [role], world.b1).status_code == 200
    change_status(world, role, "revocation", True)
    r = world.present_and_access(recycler, [role], world.b1)
    refused(world, r, "credential-revoked", 403)
    assert world.last_log().requester == recycler.did


def test_refused_suspended_role_credential_until_reinstated(world):
    officer = Holder.new()
    role = world.accredit(officer.did, "market-surveillance")
    change_status(world, role, "suspension", True)
    r = world.present_and_access(officer, [role], world.b1)
    refused(world, r, "credential-suspended", 403)
    change_status(world, role, "suspension", False)
    assert world.present_and_access(officer, [role], world.b1).status_code == 200


def test_refused_expired_role_credential(world):
    recycler = Holder.new()
    role = world.accredit(
        recycler.did, "recycling", now=utcnow() - timedelta(days=10), valid_days=1
    )
    refused(world, world.present_and_access(recycler, [role], world.b1), "credential-expired", 403)


def test_refused_expired_grant(world):
    aggregator = Holder.new()
    grant = world.grant(aggregator.did, [world.b1], [LI], expiry=utcnow() - timedelta(minutes=1))
    refused(world, world.present_and_access(aggregator, [grant], world.b1), "grant-expired", 403)


def test_refused_grant_for_another_battery(world):
    aggregator = Holder.new()
    grant = world.grant(aggregator.did, [world.b2], [LI])
    r = world.present_and_access(aggregator, [grant], world.b1)
    refused(world, r, "grant-other-battery", 403)


def test_refused_grant_from_operator_no_longer_responsible(world, operator_token):
    aggregator = Holder.new()
    grant = world.grant(aggregator.did, [world.b1], [LI])
    assert world.present_and_access(aggregator, [grant], world.b1).status_code == 200
    newco = operator_token("newco")
    world.transfer(world.b1, newco["did"])
    r = world.present_and_access(aggregator, [grant], world.b1)
    refused(world, r, "grant-issuer-not-responsible", 403)
    assert world.last_log().operator == newco["did"]


def test_refused_grant_issued_by_another_operator(world, operator_token):
    rival = operator_token("rival")
    aggregator = Holder.new()
    grant = world.issue(
        rival, world.grant_credential(rival["did"], aggregator.did, [world.b1], [LI])
    )
    r = world.present_and_access(aggregator, [grant], world.b1)
    refused(world, r, "grant-issuer-not-responsible", 403)


def test_refused_tampered_credential_inside_a_validly_signed_presentation(world):
    recycler = Holder.new()
    role = world.accredit(recycler.did, "recycling")
    forged = copy.deepcopy(role)
    forged["credentialSubject"]["purpose"] = ["recycling", "repair"]
    r = world.present_and_access(recycler, [forged], world.b1)
    refused(world, r, "invalid-credential", 403)
    assert world.last_log().requester == recycler.did


def test_refused_tampered_grant(world):
    aggregator = Holder.new()
    grant = world.grant(aggregator.did, [world.b1], [LI])
    grant["credentialSubject"]["tiers"] = [LI, AUTH]
    refused(
        world, world.present_and_access(aggregator, [grant], world.b1), "invalid-credential", 403
    )


def test_refused_presentation_with_broken_signature(world):
    recycler = Holder.new()
    role = world.accredit(recycler.did, "recycling")
    nonce, domain = world.challenge()
    vp = recycler.present([role], nonce, domain)
    vp["holder"] = Holder.new().did  # changes what was signed
    r = world.access(world.b1, {"verifiablePresentation": vp})
    refused(world, r, "invalid-presentation", 401)
    assert world.last_log().requester is None


def test_refused_presentation_without_role_or_grant(world):
    someone = Holder.new()
    r = world.present_and_access(someone, [world.tier_credentials[Tier.PUBLIC]], world.b1)
    refused(world, r, "no-entitlement", 403)


def test_refused_unknown_battery_after_authentication(world):
    recycler = Holder.new()
    role = world.accredit(recycler.did, "recycling")
    nonce, domain = world.challenge()
    vp = recycler.present([role], nonce, domain)
    r = world.access("/01/09520123456788/21/NOPE", {"verifiablePresentation": vp})
    refused(world, r, "unknown-battery", 404)
    # unauthenticated: the battery's existence is not what decides the answer
    r = world.access("/01/09520123456788/21/NOPE", {})
    refused(world, r, "no-presentation", 401)


def test_refusals_leak_nothing_about_the_passport(world):
    """No refusal carries passport content, whatever the reason."""
    secrets_of_b1 = [
        vc["credentialSubject"]
        for tier, vc in world.tier_credentials.items()
        if tier is not Tier.PUBLIC
    ]
    recycler = Holder.new()
    responses = [
        world.access(world.b1, {}),
        world.present_and_access(
            recycler, [world.accredit(Holder.new().did, "recycling")], world.b1
        ),
        world.present_and_access(
            recycler, [world.grant(recycler.did, [world.b2], [LI, AUTH])], world.b1
        ),
    ]
    # every restricted text value of the passport (not also public), whole: none may appear
    public_values = set(string_leaves(world.tier_credentials[Tier.PUBLIC]["credentialSubject"]))
    secrets = {v for subject in secrets_of_b1 for v in string_leaves(subject)} - public_values
    secrets = {v for v in secrets if len(v) >= 4}
    assert len(secrets) >= 10, secrets  # the check has something to look for
    for r in responses:
        assert r.status_code in (401, 403)
        assert set(r.json()) <= {"type", "title", "status", "detail"}
        leaked = [v for v in secrets if v in r.text]
        assert not leaked, (r.text, leaked)


def string_leaves(value) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in string_leaves(v)]
    if isinstance(value, list):
        return [s for v in value for s in string_leaves(v)]
    return [value] if isinstance(value, str) else []


def test_malformed_tiers_request_is_refused_and_logged(world):
    recycler = Holder.new()
    role = world.accredit(recycler.did, "recycling")
    r = world.present_and_access(recycler, [role], world.b1, tiers=["everything"])
    refused(world, r, "invalid-access-request", 400)


def test_every_decision_is_in_one_valid_chain(world):
    from verifier.audit import verify_chain

    recycler = Holder.new()
    role = world.accredit(recycler.did, "recycling")
    world.present_and_access(recycler, [role], world.b1)
    world.access(world.b1, {})
    world.present_and_access(Holder.new(), [role], world.b1)
    rows = world.log()
    assert [r.seq for r in rows] == [1, 2, 3]
    assert [r.outcome for r in rows] == ["released", "refused", "refused"]
    with Session(world.rt.engine) as session:
        report = verify_chain(session)
    assert report.ok and report.rows == 3
    assert format_datetime(rows[0].at) <= format_datetime(rows[-1].at)


def test_refused_when_a_did_may_not_be_fetched(world):
    """A role credential from a did:web host this service may not fetch is refused and logged."""
    recycler, outsider = Holder.new(), Holder.new()
    from proofs import dataintegrity
    from verifier.accreditation import role_credential

    unsigned = role_credential(
        issuer="did:web:accreditor.example", subject=recycler.did, roles=["recycling"]
    )
    role = dataintegrity.create_proof(unsigned, outsider.key, "did:web:accreditor.example#key-1")
    r = world.present_and_access(recycler, [role], world.b1)
    problem = refused(world, r, "invalid-credential", 403)
    assert "accreditor.example" in problem["detail"]


def test_serial_with_an_encoded_slash(world):
    """AI 21 allows "/"; it travels percent-encoded and must not split the path."""
    battery = world.register("A/B-7", world.acme)
    world.issue_passport(battery, world.acme)
    recycler = Holder.new()
    role = world.accredit(recycler.did, "recycling")
    r = world.present_and_access(recycler, [role], battery)
    assert r.status_code == 200, r.text
    assert r.json()["battery"] == "http://testserver/01/09520123456788/21/A%2FB-7"


def test_the_resolvers_advertised_access_point_works(world):
    """The battery's linkset (resolver) names this endpoint as dbp:restrictedDataAccess."""
    r = world.client.get(world.b1.item_uri.removeprefix("http://testserver") + "?linkType=linkset")
    assert r.status_code == 200, r.text
    (links,) = r.json()["linkset"]
    (target,) = links["https://w3id.org/dbp/linktypes/restrictedDataAccess"]
    assert target["href"] == world.b1.item_uri + "/access"
    recycler = Holder.new()
    role = world.accredit(recycler.did, "recycling")
    nonce, domain = world.challenge()
    vp = recycler.present([role], nonce, domain)
    href = target["href"].removeprefix("http://testserver")
    assert world.client.post(href, json={"verifiablePresentation": vp}).status_code == 200
