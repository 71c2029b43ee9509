"""The consumer page's content-keyed verification memo (verifier.memo), over the real issuer on
SQLite and PostgreSQL: memoized verdicts equal uncached ones, other bytes or another key are
verified from scratch, and status is read on every request even when the proof verdict is kept."""

from __future__ import annotations

import copy

import pytest
from resolver_testkit import issued_battery, issued_public_credential, set_status

from proofs.keys import Ed25519Key
from service.db import session_scope

PAGE = {"Accept": "text/html"}


@pytest.fixture
def acme(operator_token):
    return operator_token("acme")


def _checks(result) -> list[dict]:
    return [c.as_dict() for c in result.checks]


def test_memoized_verdict_equals_uncached(app_client, acme):
    battery = issued_battery(app_client, acme, "MEMO-1")
    credential = issued_public_credential(battery)
    rt = app_client.app.state.runtime
    with session_scope(rt.engine) as session:
        plain = rt.verify_credential(session, credential)
        first = rt.verify_credential(session, credential, memoized=True)
        hits = rt.proof_memo.hits
        again = rt.verify_credential(session, credential, memoized=True)
    assert plain.verified
    assert rt.proof_memo.hits > hits  # the second memoized run skipped the signature work
    assert _checks(first) == _checks(plain)
    assert _checks(again) == _checks(plain)
    assert again.signers == plain.signers
    names = [c.name for c in again.checks]
    assert {"proof", "schema", "status", "validity", "anchor"} <= set(names)


def test_other_bytes_are_not_served_from_the_memo(app_client, acme):
    battery = issued_battery(app_client, acme, "MEMO-2")
    credential = issued_public_credential(battery)
    rt = app_client.app.state.runtime
    tampered = copy.deepcopy(credential)
    tampered["credentialSubject"]["batteryCategory"] = "lmt"
    assert tampered != credential
    with session_scope(rt.engine) as session:
        assert rt.verify_credential(session, credential, memoized=True).verified
        assert rt.verify_credential(session, credential, memoized=True).verified
        result = rt.verify_credential(session, tampered, memoized=True)
    assert not result.verified
    assert "proof" in result.failed_names()


def test_a_changed_key_is_not_served_from_the_memo(app_client, acme):
    battery = issued_battery(app_client, acme, "MEMO-3")
    credential = issued_public_credential(battery)
    rt = app_client.app.state.runtime
    other = Ed25519Key.generate().public_multibase
    with session_scope(rt.engine) as session:
        real = rt.resolver(session).verification_method
        assert rt.proof_memo.verify_proof(credential, real)  # remembered with the real key

        def rotated(vm_id: str, purpose: str) -> dict:
            return {**real(vm_id, purpose), "publicKeyMultibase": other}

        with pytest.raises(Exception, match="(?i)signature"):
            rt.proof_memo.verify_proof(credential, rotated)


def test_revocation_shows_on_the_next_request_with_the_proof_memoized(app_client, acme):
    battery = issued_battery(app_client, acme, "MEMO-4")
    rt = app_client.app.state.runtime
    for _ in range(2):
        page = app_client.get(battery["path"], headers=PAGE)
        assert 'class="verdict verdict-ok"' in page.text
    hits = rt.proof_memo.hits
    r = set_status(app_client, acme, issued_public_credential(battery)["id"], "revocation", True)
    assert r.status_code == 200, r.text
    page = app_client.get(battery["path"], headers=PAGE)
    assert rt.proof_memo.hits > hits  # the credential's own proof verdict came from the memo
    assert 'class="verdict verdict-bad"' in page.text
    assert 'class="check check-failed" data-check="status"' in page.text
    assert 'class="check check-passed" data-check="proof"' in page.text
