"""Issue 14 item 3: the issuer refuses a relatedResource whose digest it can check (a resource it
holds offline) and that does not match, by the verifier's own rule (vocab.related)."""

from __future__ import annotations

import base64
import hashlib

import pytest
from conformance_testkit import ISSUER, V2, minimal

from issuer.credentials import IssueOptions, prepare
from issuer.errors import InvalidCredentialRequest
from vocab.loader import context_bytes


def sri(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


def multibase_sha256(data: bytes) -> str:
    raw = bytes([0x12, 32]) + hashlib.sha256(data).digest()
    return "u" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "resource",
    [
        {"id": V2, "digestMultibase": "uM4RgWQc3RUDtjJCSgTJtTfvpZ7SPEg_LNO0ESlovQC0"},
        {"id": V2, "digestSRI": "sha384-" + "A" * 64},
    ],
)
def test_a_wrong_digest_of_a_resource_held_offline_is_refused(resource):
    with pytest.raises(InvalidCredentialRequest, match="does not match"):
        prepare(minimal(relatedResource=[resource]), ISSUER, IssueOptions())


def test_right_digests_and_resources_not_held_are_signed():
    data = context_bytes(V2)
    resources = [
        {"id": V2, "digestSRI": sri(data), "digestMultibase": multibase_sha256(data)},
        # nothing is fetched: a resource dbp does not hold cannot be checked, so it is kept
        {"id": "https://example.org/manual.pdf", "digestSRI": "sha384-" + "A" * 64},
    ]
    prepared = prepare(minimal(relatedResource=resources), ISSUER, IssueOptions())
    assert prepared["relatedResource"] == resources
