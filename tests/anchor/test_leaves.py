"""What a leaf is the hash of: JCS of a Data Integrity credential, the JWS of a vc+jwt one."""

from __future__ import annotations

import base64
import json

import pytest
import rfc8785

from anchor import leaves, merkle
from anchor.errors import UnanchorableDocument

CREDENTIAL = {
    "@context": ["https://www.w3.org/ns/credentials/v2"],
    "id": "urn:uuid:3978344f-8596-4c3a-a978-8fcaba3903c5",
    "type": ["VerifiableCredential"],
    "issuer": "did:example:issuer",
    "credentialSubject": {"id": "did:example:battery", "capacity": 75.0, "name": "Zellé €"},
    "proof": {"type": "DataIntegrityProof", "proofValue": "z3abc"},
}


def b64url(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


HEADER = b64url({"alg": "EdDSA", "typ": "vc+jwt"})
TOKEN = f"{HEADER}.{b64url({**CREDENTIAL, 'proof': None})}.c2lnbmF0dXJl"


def test_data_integrity_leaf_is_jcs_of_the_signed_document():
    encoding, data = leaves.canonical_bytes(CREDENTIAL)
    assert encoding == "jcs"
    assert data == rfc8785.dumps(CREDENTIAL)
    assert data.startswith(b'{"@context":') and b'"capacity":75,' in data  # JCS numbers
    assert leaves.leaf_of(CREDENTIAL) == merkle.leaf_hash(data)


def test_transport_does_not_matter_content_does():
    reordered = json.loads(json.dumps(dict(reversed(list(CREDENTIAL.items())))))
    pretty = json.loads(json.dumps(CREDENTIAL, indent=4, ensure_ascii=True))
    assert leaves.leaf_of(reordered) == leaves.leaf_of(pretty) == leaves.leaf_of(CREDENTIAL)
    changed = json.loads(json.dumps(CREDENTIAL))
    changed["proof"]["proofValue"] = "z3abd"  # the proof is covered too
    assert leaves.leaf_of(changed) != leaves.leaf_of(CREDENTIAL)
    extra = {**CREDENTIAL, "undefinedTerm": 1}  # an RDF hash would drop this; JCS does not
    assert leaves.leaf_of(extra) != leaves.leaf_of(CREDENTIAL)


def test_memoized_leaves_equal_fresh_ones_and_follow_the_content():
    leaves._LEAVES.clear()
    first = leaves.leaf_of(CREDENTIAL)
    assert leaves.leaf_of(json.loads(json.dumps(CREDENTIAL))) == first  # served from the memo
    assert first == merkle.leaf_hash(rfc8785.dumps(CREDENTIAL))
    # values that JSON keeps apart get their own leaves (75.0 and 75 are one JCS number, so
    # those two share a leaf whichever way it is computed)
    as_int = json.loads(json.dumps(CREDENTIAL))
    as_int["credentialSubject"]["capacity"] = 75
    assert leaves.leaf_of(as_int) == first
    as_text = json.loads(json.dumps(CREDENTIAL))
    as_text["credentialSubject"]["capacity"] = "75"
    assert leaves.leaf_of(as_text) != first
    as_bool = {**CREDENTIAL, "flag": True}
    as_one = {**CREDENTIAL, "flag": 1}
    assert leaves.leaf_of(as_bool) != leaves.leaf_of(as_one)
    assert leaves.leaf_of(as_one) == merkle.leaf_hash(rfc8785.dumps(as_one))


def test_enveloped_vc_jwt_leaf_is_the_compact_jws():
    envelope = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": f"data:application/vc+jwt,{TOKEN}",
        "type": "EnvelopedVerifiableCredential",
    }
    assert leaves.canonical_bytes(envelope) == ("jws", TOKEN.encode())
    assert leaves.canonical_bytes(TOKEN) == ("jws", TOKEN.encode())  # a bare token too
    base64_url = "data:application/vc+jwt;base64," + base64.b64encode(TOKEN.encode()).decode()
    assert leaves.canonical_bytes({**envelope, "id": base64_url})[1] == TOKEN.encode()
    assert leaves.document_id(envelope) == CREDENTIAL["id"]  # from the JWT payload
    assert leaves.document_id(CREDENTIAL) == CREDENTIAL["id"]
    # the envelope's other members are not signed and do not matter
    assert leaves.leaf_of({**envelope, "@context": []}) == leaves.leaf_of(envelope)


@pytest.mark.parametrize(
    "document",
    [
        {"type": "EnvelopedVerifiableCredential", "id": "https://not-a-data-url"},
        {"type": "EnvelopedVerifiableCredential", "id": "data:application/vc+jwt,not-a-jws"},
        {"type": "EnvelopedVerifiableCredential", "id": "data:application/vc+jwt;base64,%%%"},
        {"big": 2**60},
        {"nan": float("nan")},
        ["a", "list"],
        42,
    ],
)
def test_documents_without_a_canonical_form(document):
    with pytest.raises(UnanchorableDocument):
        leaves.canonical_bytes(document)


TRICKY = [
    CREDENTIAL,
    {"s": "".join(chr(i) for i in range(0x80)) + "\u2028\u2029\u00e9\u20ac\U0001f600\ufeff"},
    {"b": [1, -5, 0, True, False, None, 2**53 - 1, -(2**53 - 1)], "c": {"z": "", "y": {}}},
    {"f": [0.0, -0.0, 1e-4, 0.1, 75.0, -3.25, 123456789012345.6, 9.999999999999999e15]},
    # out of the orjson path, each for its own reason: rfc8785 answers
    {"f": [1e16, 1e-5, 5e-324, 1.7976931348623157e308]},
    {"\ue000": 1, "\U0001f600": 2, "a": 3},  # keys JCS orders by UTF-16 code units
]


@pytest.mark.parametrize("document", TRICKY)
def test_the_orjson_path_writes_what_rfc8785_writes(document):
    assert leaves.canonical_bytes(document) == (leaves.JCS, rfc8785.dumps(document))


def test_the_orjson_path_writes_floats_as_rfc8785_does():
    import random
    import struct

    rng = random.Random(15)
    values = [rng.uniform(-1e6, 1e6) for _ in range(3000)]
    values += [round(rng.uniform(-1000, 1000), rng.randint(0, 6)) for _ in range(3000)]
    values += [float(rng.randint(-(10**15), 10**15)) for _ in range(3000)]
    values += [struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0] for _ in range(6000)]
    values = [v for v in values if v == v and abs(v) != float("inf")]
    for start in range(0, len(values), 500):
        document = {"v": values[start : start + 500]}
        assert leaves.canonical_bytes(document)[1] == rfc8785.dumps(document)
    assert leaves._plain_jcs({"v": values[:500]}) is not None  # the fast path was taken
