"""relatedResource integrity against the resources dbp holds offline."""

from __future__ import annotations

import base64
import hashlib

import pytest

from verifier.related import check_related_resources
from verifier.result import Result
from vocab.loader import context_bytes

V2 = "https://www.w3.org/ns/credentials/v2"
# The digest VC 2.0 examples give for the W3C-published v2 context.
W3C_V2_SRI = "sha384-l/HrjlBCNWyAX91hr6LFV2Y3heB5Tcr6IeE4/Tje8YyzYBM8IhqjHWiWpr8+ZbYU"


def run(resource) -> dict[str, str]:
    result = Result()
    check_related_resources({"relatedResource": resource}, result)
    return {c.name: (c.status, c.code) for c in result.checks}


def test_bundled_v2_context_is_the_w3c_published_file():
    digest = base64.b64encode(hashlib.sha384(context_bytes(V2)).digest()).decode()
    assert "sha384-" + digest == W3C_V2_SRI


def _multihash_sha256(data: bytes) -> str:
    multihash = b"\x12\x20" + hashlib.sha256(data).digest()
    return "u" + base64.urlsafe_b64encode(multihash).decode().rstrip("=")


@pytest.mark.parametrize(
    "resource",
    [
        {"id": V2, "digestSRI": W3C_V2_SRI},
        [{"id": V2, "digestMultibase": _multihash_sha256(context_bytes(V2))}],
        {"id": V2, "digestSRI": "sha256-AAAA " + W3C_V2_SRI},
    ],
)
def test_matching_digests_pass(resource):
    assert run(resource) == {"relatedResource": ("passed", "")}


@pytest.mark.parametrize(
    "resource",
    [
        {"id": V2, "digestSRI": "sha384-" + "A" * 64},
        {"id": V2, "digestMultibase": _multihash_sha256(b"something else")},
        {"id": V2, "digestSRI": W3C_V2_SRI, "digestMultibase": "uAAAA"},
    ],
)
def test_mismatching_digests_fail(resource):
    assert run(resource) == {"relatedResource": ("failed", "digest-mismatch")}


def test_resources_not_held_offline_are_a_warning():
    checks = run({"id": "https://example.org/image.png", "digestSRI": W3C_V2_SRI})
    assert checks == {"relatedResource": ("warning", "related-resource-unchecked")}


def test_no_related_resource_no_check():
    result = Result()
    check_related_resources({}, result)
    assert result.checks == []
