"""Issue 14 item 4: issuing a credential whose id was issued before. The same request again is
idempotent (201 with the credential issued the first time), so a suite run twice against one
database passes twice; another credential under a taken id stays a 409."""

from __future__ import annotations

import pytest
from conformance_testkit import with_examples


@pytest.fixture
def acme(operator_token):
    return operator_token("acme")


def issue(client, op, credential, options=None):
    body = {"credential": credential, **({"options": options} if options is not None else {})}
    return client.post(
        "/credentials/issue", json=body, headers={"Authorization": f"Bearer {op['token']}"}
    )


def test_the_same_request_again_answers_the_first_credential(app_client, acme):
    cred = with_examples(acme["did"], id="urn:uuid:0d7b7f3e-5c1d-4b07-8f43-2f0d7e0c1a01")
    first = issue(app_client, acme, cred)
    assert first.status_code == 201, first.text
    again = issue(app_client, acme, cred)
    assert again.status_code == 201, again.text
    assert again.json() == first.json()  # the stored credential, proof and all

    for options in ({"format": "vc+jwt"}, {"cryptosuite": "eddsa-jcs-2022"}):
        r = issue(app_client, acme, cred, options)
        assert r.status_code == 409, (options, r.text)
    changed = {**cred, "credentialSubject": {"id": "did:example:someone-else"}}
    r = issue(app_client, acme, changed)
    assert r.status_code == 409
    assert r.json()["type"].endswith("/credential-exists")


def test_idempotent_with_status_entries_and_credential_id(app_client, acme):
    options = {"credentialStatus": {"type": "BitstringStatusListEntry"}, "credentialId": "ref-1"}
    first = issue(app_client, acme, with_examples(acme["did"]), options)
    assert first.status_code == 201, first.text
    again = issue(app_client, acme, with_examples(acme["did"]), options)
    assert again.json() == first.json()  # the same status entries, not new ones
    # asking for other status purposes is another credential
    other = {
        **options,
        "credentialStatus": {"type": "BitstringStatusListEntry", "statusPurpose": "suspension"},
    }
    assert issue(app_client, acme, with_examples(acme["did"]), other).status_code == 409


def test_vc_jwt_reissue_is_idempotent(app_client, acme):
    cred = with_examples(acme["did"], id="urn:uuid:6a1f2a4c-0c55-4c0e-9a52-1a5b8f7f0b02")
    first = issue(app_client, acme, cred, {"format": "vc+jwt"})
    assert first.status_code == 201, first.text
    assert issue(app_client, acme, cred, {"format": "vc+jwt"}).json() == first.json()


def test_another_operators_id_is_not_handed_out(app_client, acme, operator_token):
    globex = operator_token("globex")
    cred_id = "urn:uuid:3e0e2f8a-7d2b-4a4e-a0f1-0b5c2b7d9c03"
    assert issue(app_client, acme, with_examples(acme["did"], id=cred_id)).status_code == 201
    r = issue(app_client, globex, with_examples(globex["did"], id=cred_id))
    assert r.status_code == 409
