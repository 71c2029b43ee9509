"""The Bitstring Status List codec and the verifier's `status` check on foreign lists (HTTP)."""

from __future__ import annotations

import base64
import gzip

import httpx
import pytest

from proofs import dataintegrity
from proofs.didkey import did_key, did_key_verification_method_id
from proofs.keys import Ed25519Key
from resolver.dids import DidResolver
from resolver.didweb import DidWebPolicy
from verifier.result import Result
from verifier.status import StatusListFetcher, status_check
from vocab import bitstring

LIST_URL = "http://127.0.0.1:8080/lists/1"


def test_codec_round_trip_and_bit_order():
    bits = bitstring.empty_bitstring()
    for index in (0, 7, 8, 131_071):
        bitstring.set_bit(bits, index, True)
    assert bits[0] == 0b1000_0001  # index 0 is the left-most (most significant) bit
    encoded = bitstring.encode(bits)
    assert encoded.startswith("u") and "=" not in encoded
    assert bitstring.set_indexes(bitstring.decode(encoded)) == [0, 7, 8, 131_071]
    bitstring.set_bit(bits, 7, False)
    assert bitstring.set_indexes(bits) == [0, 8, 131_071]


def test_decode_refuses_bad_lists():
    small = "u" + base64.urlsafe_b64encode(gzip.compress(bytes(1024))).decode().rstrip("=")
    bomb = "u" + base64.urlsafe_b64encode(gzip.compress(bytes(64 * 1024 * 1024))).decode()
    for bad in ("", "zabc", "u!!", small, bomb.rstrip("="), "u" + "A" * 10):
        with pytest.raises(bitstring.StatusListError):
            bitstring.decode(bad)
    with pytest.raises(bitstring.StatusListError):
        bitstring.get_bit(bytes(16384), 131_072)


class Issuer:
    def __init__(self) -> None:
        self.key = Ed25519Key.generate()
        self.did = did_key(self.key.public)
        self.vm = did_key_verification_method_id(self.did)

    def sign(self, document: dict) -> dict:
        return dataintegrity.create_proof(document, self.key, self.vm)

    def status_list(self, purpose: str, set_bits=(), url: str = LIST_URL) -> dict:
        bits = bitstring.empty_bitstring()
        for index in set_bits:
            bitstring.set_bit(bits, index, True)
        return self.sign(
            {
                "@context": ["https://www.w3.org/ns/credentials/v2"],
                "id": url,
                "type": ["VerifiableCredential", "BitstringStatusListCredential"],
                "issuer": self.did,
                "validFrom": "2025-01-01T00:00:00Z",
                "credentialSubject": {
                    "id": url + "#list",
                    "type": "BitstringStatusList",
                    "statusPurpose": purpose,
                    "encodedList": bitstring.encode(bits),
                },
            }
        )

    def credential(self, purpose: str = "revocation", index: int = 42) -> dict:
        return {
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "type": ["VerifiableCredential"],
            "issuer": self.did,
            "credentialSubject": {"id": "did:example:battery"},
            "credentialStatus": bitstring.entry(LIST_URL, purpose, index),
        }


def run(credential: dict, served: dict, headers: dict | None = None) -> tuple[Result, list]:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json=served, headers=headers or {})

    fetcher = StatusListFetcher(
        own_prefix="http://testserver/status-lists/",
        local=lambda url: None,
        policy=DidWebPolicy(frozenset({"http://127.0.0.1:8080"})),
        client=httpx.Client(transport=httpx.MockTransport(handler)),
    )
    resolver = DidResolver(
        own_did_web_base="did:web:testserver", local=lambda d: None, policy=DidWebPolicy()
    )
    result = Result()
    status_check(fetcher, resolver.verification_method)(credential, result)
    return result, calls


def outcome(result: Result) -> list[tuple[str, str]]:
    return [(c.status, c.code) for c in result.checks if c.name == "status"]


@pytest.fixture(autouse=True)
def _fresh_cache(monkeypatch):
    from verifier import status

    monkeypatch.setattr(status, "_cache", status._Cache())


def test_foreign_list_bits():
    issuer = Issuer()
    assert outcome(run(issuer.credential(), issuer.status_list("revocation"))[0]) == [
        ("passed", "")
    ]
    revoked = issuer.status_list("revocation", [42])
    assert outcome(run(issuer.credential(), revoked)[0]) == [("failed", "revoked")]
    suspended = issuer.status_list("suspension", [42])
    assert outcome(run(issuer.credential("suspension"), suspended)[0]) == [("failed", "suspended")]


@pytest.mark.parametrize("index", ["42\n", "042", "4 2", "-1"])
def test_a_malformed_status_list_index_is_refused(index):
    # `$` in a Python regex also matches before a final "\n", and int("42\n") is 42.
    issuer = Issuer()
    credential = issuer.credential()
    credential["credentialStatus"]["statusListIndex"] = index
    result, calls = run(credential, issuer.status_list("revocation", [42]))
    assert outcome(result) == [("failed", "malformed-status-entry")]
    assert calls == []


def test_purpose_issuer_and_signature_must_match():
    issuer, other = Issuer(), Issuer()
    wrong_purpose = issuer.status_list("suspension")
    assert outcome(run(issuer.credential(), wrong_purpose)[0]) == [
        ("failed", "status-purpose-mismatch")
    ]
    foreign = other.status_list("revocation")
    assert outcome(run(issuer.credential(), foreign)[0]) == [
        ("failed", "status-list-issuer-mismatch")
    ]
    # a list that names the credential's issuer but is signed by someone else's key: it verifies
    # as a signature, yet only the issuer may say whether its credential was withdrawn
    impostor = dict(issuer.status_list("revocation"))
    impostor.pop("proof")
    impostor = other.sign(impostor)
    assert impostor["issuer"] == issuer.did
    assert outcome(run(issuer.credential(), impostor)[0]) == [
        ("failed", "status-list-issuer-mismatch")
    ]
    tampered = issuer.status_list("revocation", [42])
    tampered["credentialSubject"]["encodedList"] = issuer.status_list("revocation")[
        "credentialSubject"
    ]["encodedList"]
    assert outcome(run(issuer.credential(), tampered)[0]) == [
        ("failed", "status-list-invalid-proof")
    ]


def test_hosts_outside_the_allow_list_are_not_fetched():
    issuer = Issuer()
    credential = issuer.credential()
    credential["credentialStatus"]["statusListCredential"] = "https://elsewhere.example/l/1"
    result, calls = run(credential, issuer.status_list("revocation"))
    assert outcome(result) == [("failed", "status-list-unavailable")]
    assert calls == []


def test_cache_follows_cache_control_and_ttl():
    issuer = Issuer()
    served = issuer.status_list("revocation")
    _, calls = run(issuer.credential(), served, {"Cache-Control": "max-age=300"})
    assert len(calls) == 1
    _, calls = run(issuer.credential(), served, {"Cache-Control": "max-age=300"})
    assert calls == []  # fresh in the cache
    other_url = "http://127.0.0.1:8080/lists/2"
    no_cache = issuer.status_list("revocation", url=other_url)
    credential = issuer.credential()
    credential["credentialStatus"] = bitstring.entry(other_url, "revocation", 1)
    for _ in range(2):
        _, calls = run(credential, no_cache, {"Cache-Control": "no-cache", "ETag": '"a"'})
        assert len(calls) == 1  # asked again every time


def test_credentials_without_status_skip_the_check():
    issuer = Issuer()
    credential = issuer.credential()
    del credential["credentialStatus"]
    result, _ = run(credential, {})
    assert [(c.status) for c in result.checks] == ["skipped"]
