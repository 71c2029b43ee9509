"""Revocation and suspension: the W3C Bitstring Status List as issued, served and checked."""

from __future__ import annotations

from issuer_testkit import auth, failed_checks, issued, set_status, verify
from sqlmodel import Session, select

from issuer.tables import StatusList
from vocab import bitstring


def _list(app_client, url: str):
    return app_client.get(url.removeprefix("http://testserver"))


def test_revoked_credential_fails_and_stays_revoked(app_client, acme):
    vc = issued(app_client, acme)["verifiableCredentials"][0]
    r = set_status(app_client, acme, vc["id"], "revocation", True)
    assert r.status_code == 200, r.text
    statuses = {s["statusPurpose"]: s["status"] for s in r.json()["credentialStatus"]}
    assert statuses == {"revocation": True, "suspension": False}
    assert failed_checks(verify(app_client, vc)) == {"status": "revoked"}
    again = set_status(app_client, acme, vc["id"], "revocation", False)
    assert again.status_code == 409
    assert "not reversible" in again.json()["detail"]
    assert "Bitstring Status List" in again.json()["detail"]
    assert failed_checks(verify(app_client, vc)) == {"status": "revoked"}
    assert set_status(app_client, acme, vc["id"], "revocation", True).status_code == 200


def test_suspended_credential_fails_then_passes_after_reinstatement(app_client, acme):
    credentials = issued(app_client, acme)["verifiableCredentials"]
    vc, other = credentials[0], credentials[1]
    assert set_status(app_client, acme, vc["id"], "suspension", True).status_code == 200
    assert failed_checks(verify(app_client, vc)) == {"status": "suspended"}
    assert verify(app_client, other).status_code == 200  # its neighbour is untouched
    assert set_status(app_client, acme, vc["id"], "suspension", False).status_code == 200
    r = verify(app_client, vc)
    assert r.status_code == 200, r.text


def test_legacy_request_shape(app_client, acme):
    vc = issued(app_client, acme)["verifiableCredentials"][0]
    body = {
        "credentialId": vc["id"],
        "credentialStatus": [{"type": "BitstringStatusListCredential", "status": "suspended"}],
    }
    assert app_client.post("/credentials/status", json=body, headers=auth(acme)).status_code == 200
    assert failed_checks(verify(app_client, vc)) == {"status": "suspended"}
    body["credentialStatus"][0]["status"] = "unsuspended"
    assert app_client.post("/credentials/status", json=body, headers=auth(acme)).status_code == 200
    assert verify(app_client, vc).status_code == 200


def test_status_list_bits_decode_to_the_expected_set(app_client, acme):
    credentials = issued(app_client, acme)["verifiableCredentials"]
    revoke = [credentials[0], credentials[2]]
    for vc in revoke:
        assert set_status(app_client, acme, vc["id"], "revocation", True).status_code == 200
    entries = [vc["credentialStatus"][0] for vc in credentials]
    urls = {e["statusListCredential"] for e in entries}
    assert len(urls) == 1  # one revocation list per operator until it is full
    document = _list(app_client, urls.pop()).json()
    bits = bitstring.decode(document["credentialSubject"]["encodedList"])
    assert len(bits) * 8 >= 131_072
    expected = sorted(int(vc["credentialStatus"][0]["statusListIndex"]) for vc in revoke)
    assert bitstring.set_indexes(bits) == expected
    indexes = [int(e["statusListIndex"]) for e in entries]
    assert len(set(indexes)) == len(indexes)


def test_status_list_credential_is_signed_and_cache_aware(app_client, acme):
    vc = issued(app_client, acme)["verifiableCredentials"][0]
    url = vc["credentialStatus"][1]["statusListCredential"]
    r = _list(app_client, url)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vc+ld+json")
    assert "no-cache" in r.headers["cache-control"]
    document = r.json()
    assert document["id"] == url
    assert document["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert document["issuer"] == acme["did"]
    subject = document["credentialSubject"]
    assert subject["id"] == url + "#list"
    assert subject["type"] == "BitstringStatusList"
    assert subject["statusPurpose"] == "suspension"
    assert document["proof"]["cryptosuite"] == "eddsa-rdfc-2022"
    assert verify(app_client, document).status_code == 200
    etag = r.headers["etag"]
    assert _list(app_client, url).headers["etag"] == etag
    cached = app_client.get(url.removeprefix("http://testserver"), headers={"If-None-Match": etag})
    assert cached.status_code == 304
    set_status(app_client, acme, vc["id"], "suspension", True)
    changed = app_client.get(url.removeprefix("http://testserver"), headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert app_client.get("/status-lists/nope").status_code == 404


def test_list_ids_are_random_and_lists_are_per_operator(app_client, acme, globex):
    a = issued(app_client, acme, "A")["verifiableCredentials"][0]["credentialStatus"]
    b = issued(app_client, globex, "B")["verifiableCredentials"][0]["credentialStatus"]
    assert {e["statusListCredential"] for e in a}.isdisjoint(e["statusListCredential"] for e in b)
    with Session(app_client.app.state.runtime.engine) as s:
        lists = s.exec(select(StatusList)).all()
    assert sorted(lst.purpose for lst in lists) == [
        "revocation",
        "revocation",
        "suspension",
        "suspension",
    ]
    assert all(lst.size >= 131_072 for lst in lists)


def test_only_the_issuer_changes_a_status(app_client, acme, globex):
    vc = issued(app_client, acme)["verifiableCredentials"][0]
    r = set_status(app_client, globex, vc["id"], "revocation", True)
    assert r.status_code == 403
    assert set_status(app_client, acme, "urn:uuid:nope", "revocation", True).status_code == 404
    assert verify(app_client, vc).status_code == 200


def test_bad_status_requests_name_the_field(app_client, acme):
    vc = issued(app_client, acme)["verifiableCredentials"][0]
    cases = [
        (
            {
                "credentialStatus": {
                    "type": "BitstringStatusListEntry",
                    "statusPurpose": "revocation",
                },
                "status": True,
            },
            "credentialId",
        ),
        ({"credentialId": vc["id"], "status": True}, "credentialStatus"),
        (
            {
                "credentialId": vc["id"],
                "credentialStatus": {"type": "X", "statusPurpose": "revocation"},
                "status": True,
            },
            "credentialStatus.type",
        ),
        (
            {
                "credentialId": vc["id"],
                "credentialStatus": {
                    "type": "BitstringStatusListEntry",
                    "statusPurpose": "refresh",
                },
                "status": True,
            },
            "credentialStatus.statusPurpose",
        ),
        (
            {
                "credentialId": vc["id"],
                "credentialStatus": {
                    "type": "BitstringStatusListEntry",
                    "statusPurpose": "suspension",
                },
                "status": "yes",
            },
            "status",
        ),
    ]
    for body, field in cases:
        r = app_client.post("/credentials/status", json=body, headers=auth(acme))
        assert r.status_code == 400, (field, r.text)
        assert r.json()["field"] == field


def test_list_rolls_over_when_full(database_url, make_settings, monkeypatch):
    from issuer import operators, statuslists
    from service.db import session_scope
    from service.runtime import Runtime

    settings = make_settings(database_url, bulk_worker=False)
    rt = Runtime.start(settings)
    try:
        config = rt.issuer_config
        with session_scope(rt.engine) as s:
            op, _ = operators.create_operator(
                s,
                name="acme",
                did_method="web",
                did_web_base=config.did_web_base,
                master_key=config.master_key,
            )
            first = statuslists.allocate(s, config, op, 1)[0][0]
            row = s.get(StatusList, first.list_id)
            # pretend every other index is taken
            statuslists.allocator._taken[row.id] = set(range(row.size))
            second = statuslists.allocate(s, config, op, 1)[0][0]
            assert second.list_id != first.list_id
            assert s.get(StatusList, first.list_id).full
    finally:
        rt.close()
