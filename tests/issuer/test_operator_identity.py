"""Issue 13 item 1: the signer is the operator the passport names. Issuance fills the operator
identifier in, accepts the operator's DID or an `alsoKnownAs` identifier it manages with
`PATCH /operators/me`, and refuses anything else with a 422 naming the field; the verifier's
trust check (and so the consumer page) applies the same rule to credentials signed elsewhere."""

from __future__ import annotations

import copy

from issuer_testkit import auth, issue, passport, registered, verify
from sqlmodel import Session, func, select

from issuer import operators
from issuer.tables import IssuedCredential, OperatorAlias
from proofs.dataintegrity import create_proof
from service.db import session_scope

LEI = "urn:lei:529900T8BM49AURSDO55"
EORI = "urn:eori:DE123456789012345"


def public(result: dict) -> dict:
    [vc] = [
        c for c in result["verifiableCredentials"] if "PublicBatteryPassportCredential" in c["type"]
    ]
    return vc


def issued_count(app_client) -> int:
    with Session(app_client.app.state.runtime.engine) as s:
        return s.exec(select(func.count()).select_from(IssuedCredential)).one()


def test_the_operator_identifier_is_filled_in_with_the_signer(app_client, acme):
    battery = registered(app_client, acme)
    data = passport("ev")
    assert "identifier" not in data["general"]["operator"]  # the example names nobody now
    r = issue(app_client, acme, battery["id"], data)
    assert r.status_code == 201, r.text
    vc = public(r.json())
    assert vc["credentialSubject"]["general"]["operator"]["identifier"] == acme["did"]
    assert vc["issuer"] == acme["did"]
    assert verify(app_client, vc).status_code == 200


def test_another_operator_named_is_a_422_naming_the_field(app_client, acme, globex):
    battery = registered(app_client, acme)
    before = issued_count(app_client)
    for stranger in (
        globex["did"],
        "did:web:dpp.example.com:operators:example-battery-systems",
        LEI,
    ):
        data = passport("ev")
        data["general"]["operator"]["identifier"] = stranger
        r = issue(app_client, acme, battery["id"], data)
        assert r.status_code == 422, r.text
        problem = r.json()
        assert problem["type"].endswith("/operator-not-issuer")
        assert problem["field"] == "general.operator.identifier"
        assert stranger in problem["detail"] and acme["did"] in problem["detail"]
    assert issued_count(app_client) == before  # nothing written


def test_an_alias_in_the_did_document_may_name_the_operator(app_client, acme, globex):
    me = app_client.get("/operators/me", headers=auth(acme))
    assert me.status_code == 200, me.text
    assert me.json() == {"name": "acme", "did": acme["did"], "didMethod": "web", "alsoKnownAs": []}
    r = app_client.patch(
        "/operators/me",
        json={"alsoKnownAs": [LEI, EORI, LEI]},
        headers={**auth(acme), "Content-Type": "application/merge-patch+json"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["alsoKnownAs"] == [LEI, EORI]
    doc = app_client.get("/operators/acme/did.json").json()
    assert doc["alsoKnownAs"] == [LEI, EORI]

    battery = registered(app_client, acme)
    data = passport("ev")
    data["general"]["operator"]["identifier"] = LEI
    r = issue(app_client, acme, battery["id"], data)
    assert r.status_code == 201, r.text
    vc = public(r.json())
    assert vc["credentialSubject"]["general"]["operator"]["identifier"] == LEI
    checked = verify(app_client, vc)
    assert checked.status_code == 200, checked.text

    # another operator cannot take the identifier; bad values name their index
    taken = app_client.patch("/operators/me", json={"alsoKnownAs": [LEI]}, headers=auth(globex))
    assert taken.status_code == 409 and taken.json()["field"] == "alsoKnownAs[0]", taken.text
    for body, field in (
        ({"alsoKnownAs": [EORI, "not a uri"]}, "alsoKnownAs[1]"),
        ({"alsoKnownAs": "urn:x:1"}, "alsoKnownAs"),
        ({"name": "other"}, "name"),
        ({"alsoKnownAs": [acme["did"]]}, "alsoKnownAs[0]"),
    ):
        bad = app_client.patch("/operators/me", json=body, headers=auth(acme))
        assert bad.status_code == 422 and bad.json()["field"] == field, bad.text
    assert app_client.get("/operators/me", headers=auth(acme)).json()["alsoKnownAs"] == [LEI, EORI]

    # dropping the alias: credentials naming it no longer pass the verifier's trust check
    r = app_client.patch("/operators/me", json={"alsoKnownAs": None}, headers=auth(acme))
    assert r.status_code == 200 and r.json()["alsoKnownAs"] == []
    assert "alsoKnownAs" not in app_client.get("/operators/acme/did.json").json()
    with Session(app_client.app.state.runtime.engine) as s:
        assert s.exec(select(OperatorAlias)).all() == []
    refused = verify(app_client, vc)
    assert refused.status_code == 400, refused.text
    problems = {p["type"].rsplit("/", 1)[-1] for p in refused.json()["problemDetails"]}
    assert "operator-not-issuer" in problems, refused.text


def test_the_verifier_refuses_a_passport_naming_another_operator(app_client, acme):
    """A credential signed elsewhere (here: acme's key, outside the issuance path) that names
    another operator fails the trust check with operator-not-issuer, and the page says so."""
    battery = registered(app_client, acme)
    r = issue(app_client, acme, battery["id"], passport("ev"))
    assert r.status_code == 201, r.text
    vc = public(r.json())
    forged = copy.deepcopy(vc)
    forged.pop("proof")
    forged["id"] = "urn:uuid:8d0f7c5e-1b7a-4c55-9a55-5ad5e3b1c001"
    forged["credentialSubject"]["general"]["operator"]["identifier"] = (
        "did:web:dpp.example.com:operators:example-battery-systems"
    )
    rt = app_client.app.state.runtime
    with session_scope(rt.engine) as s:
        key = operators.signing_key(s, operators.by_name(s, "acme"), rt.master_key)
    signed = create_proof(forged, key.key, key.verification_method)
    r = verify(app_client, signed)
    assert r.status_code == 400, r.text
    body = r.json()
    [problem] = [p for p in body["problemDetails"] if p["type"].endswith("/operator-not-issuer")]
    assert "example-battery-systems" in problem["detail"] and acme["did"] in problem["detail"]
