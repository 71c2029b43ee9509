"""Ed25519 keys, multibase / multicodec, JWK, Multikey verification methods, did:key and the
selection of a verification method from a controller document."""

from __future__ import annotations

import base64

import base58
import pytest
from hypothesis import given
from hypothesis import strategies as st
from multiformats import multibase, multicodec
from proofs_testkit import read_vector

from proofs.controller import verification_method_for_purpose
from proofs.didkey import (
    did_key,
    did_key_document,
    did_key_verification_method_id,
    public_key_from_did_key,
    resolve_did_key_verification_method,
)
from proofs.errors import InvalidDid, InvalidKey, VerificationMethodError
from proofs.keys import Ed25519Key, b64url_decode, b64url_encode
from proofs.multibase import encode_base58btc
from proofs.multikey import multikey_verification_method, public_key_from_verification_method

SPEC_DID = "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
P256_MULTIBASE = "zDnaegE6RR3atJtHKwTRTWHsJ3kNHqFwv7n9YjTgmU7TyfU76"  # issuer key of employ/


def test_sign_and_verify():
    key = Ed25519Key.generate()
    signature = key.sign(b"battery")
    assert len(signature) == 64
    assert key.verify(signature, b"battery")
    assert not key.verify(signature, b"Battery")
    assert not key.verify(signature[:-1], b"battery")
    assert key.public_only().verify(signature, b"battery")
    with pytest.raises(InvalidKey, match="no private part"):
        key.public_only().sign(b"x")


def test_private_key_is_not_in_repr():
    key = Ed25519Key.generate()
    assert key.private is not None and key.private.hex() not in repr(key)
    assert repr(key.private) not in repr(key)


def test_from_private_is_deterministic():
    key = Ed25519Key.generate()
    assert Ed25519Key.from_private(key.private) == key


def test_mismatched_or_malformed_keys_are_refused():
    a, b = Ed25519Key.generate(), Ed25519Key.generate()
    with pytest.raises(InvalidKey, match="does not belong"):
        Ed25519Key(a.public, b.private)
    with pytest.raises(InvalidKey, match="32 bytes"):
        Ed25519Key(b"\x01" * 31)
    with pytest.raises(InvalidKey, match="32 bytes"):
        Ed25519Key.from_private(b"\x01" * 33)


def test_multibase_matches_the_w3c_key_pair_and_multiformats(spec_key):
    pair = read_vector("keyPair.json")
    assert spec_key.public_multibase == pair["publicKeyMultibase"]
    assert spec_key.private_multibase == pair["privateKeyMultibase"]
    # our two-byte prefixes + base58 give exactly what the multiformats package gives
    assert spec_key.public_multibase == multibase.encode(
        multicodec.wrap("ed25519-pub", spec_key.public), "base58btc"
    )
    assert spec_key.private_multibase == multibase.encode(
        multicodec.wrap("ed25519-priv", spec_key.private), "base58btc"
    )


def test_multibase_rejects_other_codecs_and_encodings(spec_key):
    with pytest.raises(InvalidKey, match="expected an Ed25519 public key"):
        Ed25519Key.from_multibase(spec_key.private_multibase)
    with pytest.raises(InvalidKey, match="P-256"):
        Ed25519Key.from_multibase("zDnaegE6RR3atJtHKwTRTWHsJ3kNHqFwv7n9YjTgmU7TyfU76")
    with pytest.raises(InvalidKey, match="'z'"):
        Ed25519Key.from_multibase("u" + spec_key.public_multibase[1:])
    with pytest.raises(InvalidKey, match="base58"):
        Ed25519Key.from_multibase(spec_key.public_multibase + "0")
    with pytest.raises(InvalidKey, match="canonical"):
        Ed25519Key.from_multibase(spec_key.public_multibase + " ")
    other = Ed25519Key.generate()
    with pytest.raises(InvalidKey, match="does not belong"):
        Ed25519Key.from_multibase(spec_key.public_multibase, other.private_multibase)


def test_jwk_round_trip_rfc8037(spec_key):
    jwk = spec_key.to_jwk()
    assert jwk == {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(spec_key.public)}
    assert "=" not in jwk["x"]
    assert Ed25519Key.from_jwk(jwk) == spec_key.public_only()
    assert Ed25519Key.from_jwk(spec_key.to_jwk(private=True)) == spec_key
    with pytest.raises(InvalidKey, match="OKP/Ed25519"):
        Ed25519Key.from_jwk({"kty": "EC", "crv": "P-256", "x": "a", "y": "b"})
    with pytest.raises(InvalidKey, match="base64url"):
        Ed25519Key.from_jwk({"kty": "OKP", "crv": "Ed25519", "x": jwk["x"] + "=="})


def test_jwk_interoperates_with_jwcrypto(spec_key):
    from jwcrypto.jwk import JWK

    theirs = JWK(**spec_key.to_jwk(private=True))
    assert theirs.export_public(as_dict=True)["x"] == spec_key.to_jwk()["x"]


# --- did:key -------------------------------------------------------------------------------


def test_did_key_of_the_spec_key(spec_key):
    assert did_key(spec_key.public) == SPEC_DID
    assert public_key_from_did_key(SPEC_DID) == spec_key.public
    assert did_key_verification_method_id(SPEC_DID) == (
        SPEC_DID + "#z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
    )


def test_did_key_document_follows_the_did_key_spec(spec_key):
    doc = did_key_document(SPEC_DID)
    vm_id = did_key_verification_method_id(SPEC_DID)
    assert doc == {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": SPEC_DID,
        "verificationMethod": [
            {
                "id": vm_id,
                "type": "Multikey",
                "controller": SPEC_DID,
                "publicKeyMultibase": spec_key.public_multibase,
            }
        ],
        "authentication": [vm_id],
        "assertionMethod": [vm_id],
        "capabilityInvocation": [vm_id],
        "capabilityDelegation": [vm_id],
    }


def test_did_key_document_is_valid_json_ld():
    from proofs.canonical import rdfc

    assert "https://w3id.org/security#Multikey" in rdfc(did_key_document(SPEC_DID))


@pytest.mark.parametrize(
    ("did", "reason"),
    [
        ("did:web:example.com", "not a did:key"),
        ("did:key:" + "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2#frag", "DID URL"),
        ("did:key:zDnaegE6RR3atJtHKwTRTWHsJ3kNHqFwv7n9YjTgmU7TyfU76", "P-256"),
        ("did:key:" + encode_base58btc(b"\xed\x01" + bytes(31)), "32 key bytes"),
        ("did:key:6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2", "'z'"),
        ("did:key:z0000", "base58"),
    ],
)
def test_malformed_did_key(did, reason):
    with pytest.raises(InvalidDid, match=reason) as excinfo:
        public_key_from_did_key(did)
    assert excinfo.value.status == 400 and excinfo.value.code == "invalid-did"


def test_did_key_resolver():
    vm_id = did_key_verification_method_id(SPEC_DID)
    method = resolve_did_key_verification_method(vm_id, "assertionMethod")
    assert method["id"] == vm_id and method["controller"] == SPEC_DID
    with pytest.raises(VerificationMethodError, match="keyAgreement"):
        resolve_did_key_verification_method(vm_id, "keyAgreement")
    with pytest.raises(VerificationMethodError):
        resolve_did_key_verification_method(SPEC_DID + "#other", "assertionMethod")
    with pytest.raises(VerificationMethodError, match="cannot be resolved"):
        resolve_did_key_verification_method("did:key:zBad#zBad", "assertionMethod")


# --- verification methods ------------------------------------------------------------------


def test_every_supported_method_type_yields_the_key(spec_key):
    vm = {"id": SPEC_DID + "#k", "controller": SPEC_DID}
    forms = [
        {"type": "Multikey", "publicKeyMultibase": spec_key.public_multibase},
        {"type": "Ed25519VerificationKey2020", "publicKeyMultibase": spec_key.public_multibase},
        {"type": "JsonWebKey", "publicKeyJwk": spec_key.to_jwk()},
        {"type": "JsonWebKey2020", "publicKeyJwk": spec_key.to_jwk()},
        {
            "type": "Ed25519VerificationKey2018",
            "publicKeyBase58": base58.b58encode(spec_key.public).decode(),
        },
    ]
    for form in forms:
        assert public_key_from_verification_method({**vm, **form}) == spec_key.public, form


def test_unusable_verification_methods(spec_key):
    vm = {"id": "did:example:1#k", "controller": "did:example:1"}
    with pytest.raises(VerificationMethodError, match="EcdsaSecp256k1"):
        public_key_from_verification_method({**vm, "type": "EcdsaSecp256k1VerificationKey2019"})
    with pytest.raises(InvalidKey, match="private key material"):
        public_key_from_verification_method(
            {**vm, "type": "JsonWebKey", "publicKeyJwk": spec_key.to_jwk(private=True)}
        )
    with pytest.raises(InvalidKey, match="only OKP/Ed25519"):
        public_key_from_verification_method(
            {**vm, "type": "JsonWebKey2020", "publicKeyJwk": {"kty": "EC", "crv": "P-256"}}
        )
    with pytest.raises(InvalidKey, match="P-256"):
        public_key_from_verification_method(
            {
                **vm,
                "type": "Multikey",
                "publicKeyMultibase": "zDnaegE6RR3atJtHKwTRTWHsJ3kNHqFwv7n9YjTgmU7TyfU76",
            }
        )
    with pytest.raises(InvalidKey, match="no publicKeyMultibase"):
        public_key_from_verification_method({**vm, "type": "Multikey"})


def test_multikey_verification_method(spec_key):
    vm = multikey_verification_method(
        spec_key, "did:web:acme.example#key-1", "did:web:acme.example"
    )
    assert vm == {
        "id": "did:web:acme.example#key-1",
        "type": "Multikey",
        "controller": "did:web:acme.example",
        "publicKeyMultibase": spec_key.public_multibase,
    }
    assert public_key_from_verification_method(vm) == spec_key.public


def test_verification_method_for_purpose_with_relative_and_embedded_methods(spec_key):
    did = "did:web:acme.example"
    embedded = multikey_verification_method(spec_key, "#auth", did)
    doc = {
        "id": did,
        "verificationMethod": [multikey_verification_method(spec_key, "#key-1", did)],
        "assertionMethod": ["#key-1"],
        "authentication": [embedded],
    }
    assert verification_method_for_purpose(doc, did + "#key-1", "assertionMethod")["id"] == (
        did + "#key-1"
    )
    assert verification_method_for_purpose(doc, did + "#auth", "authentication")["id"] == (
        did + "#auth"
    )
    with pytest.raises(VerificationMethodError, match="not listed under 'authentication'"):
        verification_method_for_purpose(doc, did + "#key-1", "authentication")
    with pytest.raises(VerificationMethodError, match="not part of"):
        verification_method_for_purpose(doc, "did:web:evil.example#key-1", "assertionMethod")
    doc["assertionMethod"] = ["#missing"]
    with pytest.raises(VerificationMethodError, match="does not define"):
        verification_method_for_purpose(doc, did + "#missing", "assertionMethod")


def _stdlib_b64url_decode(text: str) -> bytes:
    # b64url_decode before pybase64: the same refusals, then the stdlib's (lenient) decoder.
    if "=" in text or "+" in text or "/" in text:
        raise ValueError("not unpadded base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@given(
    st.one_of(
        st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
        st.text(alphabet="QUJDRA-_ =+/!.\n\u00e9\x00", max_size=12),
        st.binary().map(lambda b: b64url_encode(b)),
    )
)
def test_b64url_decode_accepts_and_decodes_what_the_stdlib_path_did(text):
    """proofs.keys.b64url_decode tries pybase64 first (speed); it must accept exactly what the
    stdlib path accepted and decode it alike."""
    try:
        expected: bytes | None = _stdlib_b64url_decode(text)
    except ValueError:
        expected = None
    try:
        got: bytes | None = b64url_decode(text)
    except ValueError:
        got = None
    assert got == expected


@given(st.binary(min_size=1, max_size=80))
def test_base58btc_round_trip(data):
    """multibase._decode reads digits by bytes.translate (speed); every encoding decodes back."""
    from proofs.multibase import decode_base58btc

    assert decode_base58btc(encode_base58btc(data)) == data
    assert base58.b58decode(encode_base58btc(data)[1:]) == data


@pytest.mark.parametrize("text", ["z3mJ0", "z3mJO", "z3mJl", "z3mJI", "z3mJ é", "z3mJ\n"])
def test_base58btc_refuses_what_is_not_in_the_alphabet(text):
    from proofs.multibase import decode_base58btc

    with pytest.raises(ValueError):
        decode_base58btc(text + "x" * 70)
