"""The wallet's own checks on credentials (unit level: did:key issuers, status lists handed in by
a fetch function) and the request flow around them with a scripted HTTP transport: a tampered
credential released by a service fails here, and its data is not passed on."""

from __future__ import annotations

import copy
import json
from datetime import timedelta

import httpx
import pytest
from wallet_testkit import Issuer

from proofs import dataintegrity, jose
from proofs.keys import b64url_decode, b64url_encode
from vocab import bitstring
from vocab.datetimes import format_datetime, utcnow
from wallet import identity, requesting
from wallet.dids import Resolver, did_web_url
from wallet.errors import ResolutionFailed, ServiceError, ServiceRefused
from wallet.net import Http
from wallet.verify import verify_credential

LIST_URL = "https://issuer.example/status/1"


def no_lists(url: str) -> dict:
    raise AssertionError(f"no status list should be fetched ({url})")


@pytest.fixture
def resolver():
    with Http() as http:
        yield Resolver(http)


def checks(verdict) -> dict[str, str]:
    return {c.name: c.status for c in verdict.checks}


def test_a_good_credential_passes_every_check(resolver):
    vc = Issuer.new().credential("did:example:holder")
    verdict = verify_credential(vc, resolver, no_lists)
    assert verdict.verified
    assert checks(verdict) == {
        "dataModel": "passed",
        "proof": "passed",
        "issuer": "passed",
        "validity": "passed",
        "status": "skipped",
    }


def test_a_tampered_credential_fails_the_proof(resolver):
    vc = Issuer.new().credential("did:example:holder")
    vc["credentialSubject"]["degree"]["name"] = "Forged"
    verdict = verify_credential(vc, resolver, no_lists)
    assert not verdict.verified
    assert verdict.first_failure.name == "proof"


def test_a_tampered_vc_jwt_fails_the_proof(resolver):
    token = Issuer.new().jwt("did:example:holder")
    header, payload, signature = token.split(".")
    claims = json.loads(b64url_decode(payload))
    claims["credentialSubject"]["degree"]["name"] = "Forged"
    forged = ".".join([header, b64url_encode(json.dumps(claims).encode()), signature])
    good = verify_credential(jose.envelope(token), resolver, no_lists)
    assert good.verified and good.credential["issuer"].startswith("did:key:")
    bad = verify_credential(jose.envelope(forged), resolver, no_lists)
    assert not bad.verified and bad.first_failure.name == "proof"


def test_signed_by_someone_else_than_the_issuer(resolver):
    signer, claimed = Issuer.new(), Issuer.new()
    vc = Issuer(signer.key, signer.did).credential("did:example:holder")
    del vc["proof"]
    vc["issuer"] = claimed.did
    vc = dataintegrity.create_proof(vc, signer.key, signer.vm)
    verdict = verify_credential(vc, resolver, no_lists)
    assert verdict.first_failure.name == "issuer"


def test_outside_the_validity_window(resolver):
    issuer = Issuer.new()
    expired = issuer.credential("did:example:h", validUntil="2025-06-01T00:00:00Z")
    assert verify_credential(expired, resolver, no_lists).first_failure.name == "validity"
    future = format_datetime(utcnow() + timedelta(days=1))
    later = issuer.credential("did:example:h", validFrom=future)
    assert verify_credential(later, resolver, no_lists).first_failure.name == "validity"


def status_list(issuer: Issuer, revoked: list[int], purpose: str = "revocation") -> dict:
    bits = bitstring.empty_bitstring()
    for index in revoked:
        bitstring.set_bit(bits, index, True)
    unsigned = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": LIST_URL,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer.did,
        "validFrom": "2025-01-01T00:00:00Z",
        "credentialSubject": {
            "id": LIST_URL + "#list",
            "type": "BitstringStatusList",
            "statusPurpose": purpose,
            "encodedList": bitstring.encode(bits),
        },
    }
    return dataintegrity.create_proof(unsigned, issuer.key, issuer.vm)


def with_status(issuer: Issuer, index: int) -> dict:
    return issuer.credential(
        "did:example:h", credentialStatus=bitstring.entry(LIST_URL, "revocation", index)
    )


def test_status_list_bits_are_read(resolver):
    issuer = Issuer.new()
    lists = {LIST_URL: status_list(issuer, [7])}
    ok = verify_credential(with_status(issuer, 8), resolver, lists.__getitem__)
    assert ok.verified and checks(ok)["status"] == "passed"
    revoked = verify_credential(with_status(issuer, 7), resolver, lists.__getitem__)
    assert revoked.first_failure.name == "status"
    assert "revoked (index 7" in revoked.first_failure.detail


def test_a_status_list_from_another_issuer_or_tampered_is_not_believed(resolver):
    issuer = Issuer.new()
    stranger = {LIST_URL: status_list(Issuer.new(), [])}
    verdict = verify_credential(with_status(issuer, 8), resolver, stranger.__getitem__)
    assert "not issued by the credential's issuer" in verdict.first_failure.detail
    tampered = status_list(issuer, [7])
    tampered["credentialSubject"]["encodedList"] = bitstring.encode(bitstring.empty_bitstring())
    verdict = verify_credential(with_status(issuer, 7), resolver, {LIST_URL: tampered}.get)
    assert "does not verify" in verdict.first_failure.detail


def test_did_web_urls_and_their_scheme():
    assert did_web_url("did:web:dbp.example") == "https://dbp.example/.well-known/did.json"
    assert (
        did_web_url("did:web:127.0.0.1%3A8000:holders:r")
        == "http://127.0.0.1:8000/holders/r/did.json"
    )
    assert did_web_url("did:web:dbp.example:a", insecure_http=True).startswith("http://")
    with pytest.raises(ResolutionFailed):
        did_web_url("did:web:")


@pytest.mark.parametrize(
    "did",
    ["did:web:dbp.example\n", "did:web:dbp.example:holders:r\n", "did:web:dbp.example%0A"],
)
def test_a_did_web_with_a_trailing_newline_names_no_url(did):
    # `$` in a Python regex also matches before a final "\n": segments and host are whole texts.
    with pytest.raises(ResolutionFailed, match="malformed method-specific identifier|valid host"):
        did_web_url(did)


# --- the request flow around the checks, over a scripted transport ----------------------------

ITEM = "https://a.example/01/09520123456788/21/SN1"
MOVED = "https://b.example/01/09520123456788/21/SN1"


class Service:
    """Two dbp hosts as seen by the wallet: a.example redirects to b.example, which holds the
    battery and releases `released` for any presentation."""

    def __init__(self, released: list[dict]) -> None:
        self.released = released
        self.seen: list[str] = []
        self.posted: dict | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        self.seen.append(f"{request.method} {url}")
        if url == ITEM:
            return httpx.Response(307, headers={"Location": MOVED})
        if url == MOVED:
            assert request.headers["accept"] == "application/linkset+json"
            link = {"href": MOVED + "/access", "method": ["POST"]}
            return httpx.Response(
                200, json={"linkset": [{"anchor": MOVED, requesting.RESTRICTED_DATA[0]: [link]}]}
            )
        if url == "https://b.example/challenges":
            return httpx.Response(200, json={"challenge": "nonce-1", "domain": "b.example"})
        if url == MOVED + "/access":
            self.posted = json.loads(request.content)
            body = {"battery": MOVED, "tiers": ["public"], "verifiableCredentials": self.released}
            return httpx.Response(200, json=body)
        return httpx.Response(404)


def wallet_with_role(issuer: Issuer) -> tuple[dict, list[dict]]:
    holder = identity.did_key_identity(identity.new_key())
    role = issuer.credential(holder["did"])
    role["type"] = ["VerifiableCredential", "LegitimateInterestCredential"]
    return holder, [{"id": role["id"], "credential": role}]


def test_a_tampered_released_credential_fails_here_and_its_data_is_withheld():
    issuer = Issuer.new()
    holder, entries = wallet_with_role(issuer)
    good = issuer.credential("did:example:battery")
    tampered = copy.deepcopy(good)
    tampered["credentialSubject"]["degree"]["name"] = "Forged"
    service = Service([good, tampered])
    client = httpx.Client(transport=httpx.MockTransport(service))
    with Http(client=client) as http:
        outcome = requesting.request(ITEM, holder, entries, http)
    # followed the 307, asked b.example for the challenge, presented over it
    assert service.seen[:2] == [f"GET {ITEM}", f"GET {MOVED}"]
    vp = service.posted["verifiablePresentation"]
    assert vp["holder"] == holder["did"]
    assert vp["proof"]["challenge"] == "nonce-1" and vp["proof"]["domain"] == "b.example"
    assert vp["verifiableCredential"] == [entries[0]["credential"]]
    assert [r.verdict.verified for r in outcome.released] == [True, False]
    assert not outcome.verified
    shown = requesting.as_json(outcome)
    assert shown["credentials"][0]["attributes"] == [
        {"attribute": "degree.name", "value": "Battery recycling", "unit": None}
    ]
    assert shown["credentials"][1]["attributes"] is None
    assert shown["credentials"][1]["checks"][-1]["name"] == "proof"


def test_plain_http_to_another_host_is_refused_on_every_hop():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(307, headers={"Location": "http://evil.example/x"})

    issuer = Issuer.new()
    holder, entries = wallet_with_role(issuer)
    client = httpx.Client(transport=httpx.MockTransport(handler))
    with Http(client=client) as http, pytest.raises(ServiceError, match="plain HTTP to evil"):
        requesting.request(ITEM, holder, entries, http)


def test_a_problem_answer_becomes_a_refusal():
    def handler(request: httpx.Request) -> httpx.Response:
        problem = {
            "type": "https://w3id.org/dbp/problems/challenge-expired",
            "title": "Challenge expired",
            "status": 401,
            "detail": "the challenge expired",
        }
        return httpx.Response(
            401, json=problem, headers={"Content-Type": "application/problem+json"}
        )

    client = httpx.Client(transport=httpx.MockTransport(handler))
    with Http(client=client) as http, pytest.raises(ServiceRefused) as caught:
        http.json("POST", "https://b.example/x")
    assert str(caught.value) == "refused: challenge-expired (HTTP 401): the challenge expired"


def test_grants_are_selected_only_for_their_battery():
    issuer = Issuer.new()
    holder = identity.did_key_identity(identity.new_key())

    def grant(battery: str, expiry: str) -> dict:
        return {
            "id": battery + expiry,
            "credential": {
                "type": ["VerifiableCredential", "AccessGrantCredential"],
                "issuer": issuer.did,
                "credentialSubject": {
                    "grantee": holder["did"], "batteries": [battery], "tiers": ["authorities"],
                    "expiry": expiry,
                },
            },
        }  # fmt: skip

    key = requesting.item_key(ITEM)
    later = format_datetime(utcnow() + timedelta(days=1))
    mine, other = grant(ITEM, later), grant(ITEM.replace("SN1", "SN2"), later)
    expired = grant(MOVED, "2025-01-01T00:00:00Z")
    assert requesting.select([mine, other, expired], holder["did"], key) == [mine]


def test_the_cli_withholds_a_tampered_credential_and_exits_1(tmp_path, monkeypatch):
    # Unit test of the command around the flow: `requesting.request` answers with what the
    # scripted service above released; the printing and the exit code are the CLI's own.
    from wallet_testkit import Wallet, one_line_error

    issuer = Issuer.new()
    good = issuer.credential("did:example:battery")
    tampered = copy.deepcopy(good)
    tampered["credentialSubject"]["degree"]["name"] = "Forged"
    holder, entries = wallet_with_role(issuer)
    client = httpx.Client(transport=httpx.MockTransport(Service([good, tampered])))
    with Http(client=client) as http:
        outcome = requesting.request(ITEM, holder, entries, http)
    monkeypatch.setattr(requesting, "request", lambda *args, **kwargs: outcome)

    wallet = Wallet(tmp_path / "w")
    wallet.ok("init")
    result = wallet.run("request", ITEM, env={"COLUMNS": "200"})
    assert result.exit_code == 1
    assert one_line_error(result) == "error: 1 of 2 released credential(s) failed verification"
    assert "Battery recycling" in result.stdout  # the good one is shown
    assert "Forged" not in result.stdout
    assert "NOT VERIFIED (proof: " in result.stdout
    assert result.stdout.count("verified: dataModel, proof, issuer, validity") == 1
