"""Both key stores behind the one interface: sealed keys and keys inside a SoftHSM2 token."""

from __future__ import annotations

import os
import pickle

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature
from hsm_testkit import softhsm_token

from proofs import pkcs11 as token_keys
from proofs.keys import Ed25519Key
from proofs.sealing import SealError
from proofs.signer import SECP256K1_N, HeldKey, KeystoreError, SealedKeystore, as_keystore


@pytest.fixture(params=["sealed", "pkcs11"])
def keystore(request):
    if request.param == "sealed":
        return SealedKeystore(os.urandom(32))
    t = softhsm_token()
    return token_keys.keystore(t["module"], t["token_label"], t["pin"])


def test_ed25519_key_signs_and_verifies(keystore) -> None:
    public, held = keystore.new_ed25519("did:web:example.com#key-1")
    signer = keystore.ed25519(held, "did:web:example.com#key-1", public)
    signature = signer.sign(b"battery")
    assert Ed25519Key.from_public(public).verify(signature, b"battery")
    assert not Ed25519Key.from_public(public).verify(signature, b"batterY")
    if keystore.backend == "pkcs11":
        assert held.sealed is None and held.ref.startswith("pkcs11:id=%")
        assert signer.private is None  # nothing of the private key outside the token
        # it crosses into a spawned worker process as a reference
        again = pickle.loads(pickle.dumps(signer))
        assert Ed25519Key.from_public(public).verify(again.sign(b"x"), b"x")
    else:
        assert held.ref is None and held.sealed is not None


def test_imported_ed25519_key_signs_like_the_original(keystore) -> None:
    original = Ed25519Key.generate()
    held = keystore.import_ed25519(original.private, "vm-1")
    signer = keystore.ed25519(held, "vm-1", original.public)
    # Ed25519 is deterministic: the token gives the same signature as the seed in memory
    assert signer.sign(b"passport") == original.sign(b"passport")


def _verify_secp256k1(public: bytes, digest: bytes, r: int, s: int) -> None:
    numbers = ec.EllipticCurvePublicNumbers(
        int.from_bytes(public[:32], "big"), int.from_bytes(public[32:], "big"), ec.SECP256K1()
    )
    numbers.public_key().verify(
        encode_dss_signature(r, s), digest, ec.ECDSA(Prehashed(hashes.SHA256()))
    )


def test_secp256k1_signatures_are_low_s_and_verify(keystore) -> None:
    seen = {}
    public, held = keystore.new_secp256k1(lambda point: seen.setdefault("label", point.hex()[:8]))
    assert len(public) == 64
    signer = keystore.secp256k1(held, seen["label"])
    for n in range(20):
        digest = bytes([n]) * 32
        r, s = signer.sign_digest(digest)
        assert s <= SECP256K1_N // 2
        _verify_secp256k1(public, digest, r, s)


def test_imported_secp256k1_key(keystore) -> None:
    private = (12345678901234567890).to_bytes(32, "big")
    held = keystore.import_secp256k1(private, "acct")
    from proofs.signer import secp256k1_public

    r, s = keystore.secp256k1(held, "acct").sign_digest(b"\x07" * 32)
    _verify_secp256k1(secp256k1_public(private), b"\x07" * 32, r, s)


def test_sealed_key_does_not_open_under_another_label() -> None:
    store = SealedKeystore(os.urandom(32))
    public, held = store.new_ed25519("vm-1")
    with pytest.raises(SealError):
        store.ed25519(held, "vm-2", public)


def test_each_backend_refuses_the_other_kind_of_key() -> None:
    t = softhsm_token()
    token = token_keys.keystore(t["module"], t["token_label"], t["pin"])
    sealed = SealedKeystore(os.urandom(32))
    public, in_token = token.new_ed25519("vm")
    with pytest.raises(KeystoreError, match="token"):
        sealed.ed25519(in_token, "vm", public)
    public, in_db = sealed.new_ed25519("vm")
    with pytest.raises(KeystoreError, match="dbp keys migrate"):
        token.ed25519(in_db, "vm", public)


def test_a_reference_to_no_key_and_a_wrong_pin_are_named() -> None:
    t = softhsm_token()
    token = token_keys.keystore(t["module"], t["token_label"], t["pin"])
    missing = HeldKey(ref=token_keys.key_ref(b"\x00" * 16, "gone"))
    with pytest.raises(KeystoreError, match="no private key with id 0000"):
        token.ed25519(missing, "gone", Ed25519Key.generate().public).sign(b"x")
    with pytest.raises(KeystoreError, match="no PKCS#11 token labelled 'nope'"):
        token_keys.Pkcs11Keystore(t["module"], "nope", t["pin"]).check()


def test_as_keystore_takes_the_master_key_or_a_keystore() -> None:
    store = as_keystore(b"\x01" * 32)
    assert isinstance(store, SealedKeystore) and as_keystore(store) is store


def test_a_key_another_process_made_is_found_after_this_one_wrote_to_the_token() -> None:
    """SoftHSM2's file store misses objects another process wrote before this process's own
    last write; the keystore re-reads the token once before saying a key is not there."""
    import subprocess
    import sys

    token = softhsm_token()
    store = token_keys.keystore(token["module"], token["token_label"], token["pin"])
    store.new_ed25519("before")  # this process has a session and has written
    made = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from proofs import pkcs11 as t; "
            "pub, held = t.keystore(*sys.argv[1:4]).new_ed25519('theirs'); "
            "print(held.ref, pub.hex())",
            token["module"],
            token["token_label"],
            token["pin"],
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    ref, public = made.stdout.split()
    store.new_ed25519("after")  # ours, written after theirs
    key = store.ed25519(HeldKey(ref=ref), "theirs", bytes.fromhex(public))
    assert Ed25519Key.from_public(bytes.fromhex(public)).verify(key.sign(b"data"), b"data")
