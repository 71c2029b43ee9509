"""Keys inside a PKCS#11 token (an HSM; SoftHSM2 in the tests), through python-pkcs11.

Keys are generated in the token as sensitive, non-extractable token objects and used by
reference: the database keeps `pkcs11:id=%..;object=..` (RFC 7512 URI attributes), the key's
CKA_ID and CKA_LABEL. Ed25519 signs with CKM_EDDSA (pure Ed25519, RFC 8032), secp256k1 with
CKM_ECDSA over a digest the caller computed (Keccak-256 for Ethereum); the token answers r||s,
which is normalised to low s.

One logged-in session per process and token, shared under a lock: a PKCS#11 session runs one
operation at a time, and a token's login state belongs to the whole process anyway. A process
started by `spawn` (the bulk workers) opens its own session the first time it signs; an
`TokenEd25519Key` pickles as its reference, not as a session.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote_to_bytes

from proofs.keys import Ed25519Key
from proofs.signer import HeldKey, Keystore, KeystoreError, Label, low_s, observe_sign

ED25519_OID = "1.3.101.112"
SECP256K1_OID = "1.3.132.0.10"
_ID_BYTES = 16


def _pkcs11() -> Any:
    try:
        import pkcs11
    except ImportError:  # pragma: no cover - python-pkcs11 is a dependency
        raise KeystoreError("DBP_KEY_BACKEND=pkcs11 needs the python-pkcs11 package") from None
    return pkcs11


def key_ref(key_id: bytes, label: str) -> str:
    """RFC 7512 attributes: id percent-encoded byte by byte, object the CKA_LABEL."""
    encoded = "".join(f"%{b:02x}" for b in key_id)
    return f"pkcs11:id={encoded};object={quote(label, safe='')};type=private"


def key_id_of(ref: str) -> bytes:
    if not ref.startswith("pkcs11:"):
        raise KeystoreError(f"{ref!r} is not a PKCS#11 key reference")
    for part in ref[len("pkcs11:") :].split(";"):
        name, _, value = part.partition("=")
        if name == "id" and value:
            return unquote_to_bytes(value)
    raise KeystoreError(f"the key reference {ref!r} has no id")


def _der_octets(data: bytes) -> bytes:
    """The content of a DER OCTET STRING (CKA_EC_POINT is wrapped in one)."""
    from asn1crypto.core import OctetString

    return OctetString.load(data).native


class _MissingKey(KeystoreError):
    """The token holds no key with that id (after re-reading it: see `_run`)."""


@dataclass(frozen=True)
class TokenConfig:
    module: str
    token_label: str
    pin: str = field(repr=False)


class Pkcs11Keystore(Keystore):
    backend = "pkcs11"

    def __init__(self, module: str, token_label: str, pin: str) -> None:
        self.config = TokenConfig(module, token_label, pin)
        self._lock = threading.RLock()
        self._session: Any = None
        self._pid = 0
        self._keys: dict[bytes, Any] = {}

    def describe(self) -> str:
        return f"pkcs11 token {self.config.token_label!r}"

    # --- session ---------------------------------------------------------------------------------

    def _open(self) -> Any:
        if self._session is not None and self._pid == os.getpid():
            return self._session
        p = _pkcs11()
        if not os.path.exists(self.config.module):
            raise KeystoreError(f"DBP_PKCS11_MODULE {self.config.module} does not exist")
        try:
            token = p.lib(self.config.module).get_token(token_label=self.config.token_label)
            self._session = token.open(rw=True, user_pin=self.config.pin)
        except p.exceptions.NoSuchToken:
            raise KeystoreError(
                f"no PKCS#11 token labelled {self.config.token_label!r} in {self.config.module}"
            ) from None
        except p.exceptions.PinIncorrect:
            raise KeystoreError(
                f"the PIN of token {self.config.token_label!r} is wrong (DBP_PKCS11_PIN)"
            ) from None
        except p.exceptions.PKCS11Error as exc:
            raise KeystoreError(f"token {self.config.token_label!r}: {_describe(exc)}") from None
        self._pid = os.getpid()
        self._keys.clear()
        return self._session

    def _reload(self) -> None:
        """Re-read the token: close the session and initialise the library again."""
        try:
            if self._session is not None:
                self._session.close()
        except _pkcs11().exceptions.PKCS11Error:
            pass  # a session already gone is what we want
        self._session = None
        _pkcs11().lib(self.config.module).reinitialize()

    def _run(self, what: str, action: Callable[[Any], Any]) -> Any:
        """Run `action(session)` under the lock; a session the token dropped is reopened once,
        and a key not found is looked up once more after re-reading the token."""
        p = _pkcs11()
        with self._lock:
            for attempt in (1, 2):
                session = self._open()
                try:
                    return action(session)
                except _MissingKey:
                    # Another process may have made the key after this one opened the token, and
                    # the module's view can miss it: SoftHSM2's file store does once this process
                    # has written to the token after the other one (its generation counter then
                    # looks current). Initialising the library again re-reads the token.
                    if attempt == 2:
                        raise
                    self._reload()
                except p.exceptions.GeneralError as exc:
                    # SoftHSM2 answers CKR_GENERAL_ERROR when it reads a token object file that
                    # another process was writing when it was killed (the bulk crash tests see
                    # it); reading the token again gets the state as it is now.
                    if attempt == 2:
                        raise KeystoreError(f"{what}: {_describe(exc)}") from None
                    self._reload()
                except (
                    p.exceptions.SessionHandleInvalid,
                    p.exceptions.SessionClosed,
                    p.exceptions.DeviceRemoved,
                    p.exceptions.TokenNotPresent,
                ) as exc:
                    self._session = None
                    if attempt == 2:
                        raise KeystoreError(f"{what}: {_describe(exc)}") from None
                except p.exceptions.PKCS11Error as exc:
                    raise KeystoreError(f"{what}: {_describe(exc)}") from None
        raise AssertionError("unreachable")

    def _private(self, session: Any, key_id: bytes) -> Any:
        key = self._keys.get(key_id)
        if key is None:
            p = _pkcs11()
            try:
                key = session.get_key(object_class=p.ObjectClass.PRIVATE_KEY, id=key_id)
            except p.exceptions.NoSuchKey:
                raise _MissingKey(
                    f"token {self.config.token_label!r} holds no private key with id {key_id.hex()}"
                ) from None
            self._keys[key_id] = key
        return key

    # --- key creation ----------------------------------------------------------------------------

    def _templates(self, key_id: bytes, label: str) -> tuple[dict, dict]:
        a = _pkcs11().Attribute
        common = {a.TOKEN: True, a.ID: key_id, a.LABEL: label}
        private = {
            **common,
            a.PRIVATE: True,
            a.SENSITIVE: True,
            a.EXTRACTABLE: False,  # the key never leaves the token
            a.SIGN: True,
        }
        return {**common, a.VERIFY: True}, private

    def _generate(self, oid: str, label: str, edwards: bool) -> tuple[bytes, bytes]:
        p = _pkcs11()
        from pkcs11.util.ec import encode_named_curve_parameters

        key_id = secrets.token_bytes(_ID_BYTES)
        public_template, private_template = self._templates(key_id, label)

        def generate(session: Any) -> bytes:
            params = session.create_domain_parameters(
                p.KeyType.EC_EDWARDS if edwards else p.KeyType.EC,
                {p.Attribute.EC_PARAMS: encode_named_curve_parameters(oid)},
                local=True,
            )
            public, _ = params.generate_keypair(
                store=True,
                mechanism=p.Mechanism.EC_EDWARDS_KEY_PAIR_GEN
                if edwards
                else p.Mechanism.EC_KEY_PAIR_GEN,
                public_template=public_template,
                private_template=private_template,
            )
            return _der_octets(public[p.Attribute.EC_POINT])

        return key_id, self._run(f"generating a key in {self.describe()}", generate)

    def _import(self, oid: str, private: bytes, public_point: bytes, label: str, edwards: bool):
        p = _pkcs11()
        from asn1crypto.core import OctetString
        from pkcs11.util.ec import encode_named_curve_parameters

        a = p.Attribute
        key_id = secrets.token_bytes(_ID_BYTES)
        public_template, private_template = self._templates(key_id, label)
        key_type = p.KeyType.EC_EDWARDS if edwards else p.KeyType.EC
        params = encode_named_curve_parameters(oid)

        def create(session: Any) -> None:
            session.create_object(
                {
                    **private_template,
                    a.CLASS: p.ObjectClass.PRIVATE_KEY,
                    a.KEY_TYPE: key_type,
                    a.EC_PARAMS: params,
                    a.VALUE: private,
                }
            )
            session.create_object(
                {
                    **public_template,
                    a.CLASS: p.ObjectClass.PUBLIC_KEY,
                    a.KEY_TYPE: key_type,
                    a.EC_PARAMS: params,
                    a.EC_POINT: OctetString(public_point).dump(),
                }
            )

        self._run(f"importing a key into {self.describe()}", create)
        return HeldKey(ref=key_ref(key_id, label))

    def new_ed25519(self, label: Label) -> tuple[bytes, HeldKey]:
        if isinstance(label, str):
            key_id, public = self._generate(ED25519_OID, label, edwards=True)
            return public, HeldKey(ref=key_ref(key_id, label))
        key_id, public = self._generate(ED25519_OID, "dbp-operator-key", edwards=True)
        name = label(public)
        self._relabel(key_id, name)
        return public, HeldKey(ref=key_ref(key_id, name))

    def _relabel(self, key_id: bytes, label: str) -> None:
        p = _pkcs11()

        def relabel(session: Any) -> None:
            for cls in (p.ObjectClass.PRIVATE_KEY, p.ObjectClass.PUBLIC_KEY):
                session.get_key(object_class=cls, id=key_id)[p.Attribute.LABEL] = label

        self._run(f"labelling a key in {self.describe()}", relabel)

    def import_ed25519(self, seed: bytes, label: str) -> HeldKey:
        public = Ed25519Key.from_private(seed).public
        return self._import(ED25519_OID, seed, public, label, edwards=True)

    def new_secp256k1(self, label_of: Callable[[bytes], str]) -> tuple[bytes, HeldKey]:
        key_id, point = self._generate(SECP256K1_OID, "dbp-anchor-account", edwards=False)
        public = point[1:]  # uncompressed point: 0x04 || x || y
        label = label_of(public)
        self._relabel(key_id, label)
        return public, HeldKey(ref=key_ref(key_id, label))

    def import_secp256k1(self, private_key: bytes, label: str) -> HeldKey:
        from proofs.signer import secp256k1_public

        point = b"\x04" + secp256k1_public(private_key)
        return self._import(SECP256K1_OID, private_key, point, label, edwards=False)

    # --- signing ---------------------------------------------------------------------------------

    def ed25519(self, held: HeldKey, label: str, public: bytes) -> TokenEd25519Key:
        if held.ref is None:
            raise KeystoreError(
                f"key {label} is sealed in the database, not in the token: "
                "run `dbp keys migrate` to move it"
            )
        return TokenEd25519Key(public, token=TokenKey(self.config, key_id_of(held.ref)))

    def secp256k1(self, held: HeldKey, label: str) -> TokenKey:
        if held.ref is None:
            raise KeystoreError(
                f"key {label} is sealed in the database, not in the token: "
                "run `dbp keys migrate` to move it"
            )
        return TokenKey(self.config, key_id_of(held.ref))

    def sign(self, key_id: bytes, data: bytes, mechanism: str) -> bytes:
        p = _pkcs11()
        mech = getattr(p.Mechanism, mechanism)
        return self._run(
            f"signing in {self.describe()}",
            lambda session: self._private(session, key_id).sign(data, mechanism=mech),
        )

    def describe_key(self, key_id: bytes) -> tuple[str, bytes]:
        """(algorithm, public key) of a key pair in the token: ("Ed25519", 32 bytes) or
        ("secp256k1", 64 bytes x||y). The remote signer answers this for a key name."""
        p = _pkcs11()

        def read(session: Any) -> tuple[str, bytes]:
            try:
                public = session.get_key(object_class=p.ObjectClass.PUBLIC_KEY, id=key_id)
            except p.exceptions.NoSuchKey:
                raise _MissingKey(
                    f"token {self.config.token_label!r} holds no key with id {key_id.hex()}"
                ) from None
            point = _der_octets(public[p.Attribute.EC_POINT])
            if public.key_type == p.KeyType.EC_EDWARDS:
                return "Ed25519", point
            return "secp256k1", point[1:]

        return self._run(f"reading a key in {self.describe()}", read)

    def check(self) -> None:
        self._run(f"reaching {self.describe()}", lambda session: session.token.label)


_keystores: dict[TokenConfig, Pkcs11Keystore] = {}
_keystores_lock = threading.Lock()


def keystore(module: str, token_label: str, pin: str) -> Pkcs11Keystore:
    """The process's keystore for this token (one session per process and token)."""
    config = TokenConfig(module, token_label, pin)
    with _keystores_lock:
        found = _keystores.get(config)
        if found is None:
            found = _keystores[config] = Pkcs11Keystore(module, token_label, pin)
        return found


@dataclass(frozen=True)
class TokenKey:
    """A private key in a token, by CKA_ID; plain data, so it crosses into worker processes."""

    config: TokenConfig
    key_id: bytes

    def _store(self) -> Pkcs11Keystore:
        c = self.config
        return keystore(c.module, c.token_label, c.pin)

    def sign_ed25519(self, data: bytes) -> bytes:
        started = time.perf_counter()
        signature = self._store().sign(self.key_id, data, "EDDSA")
        observe_sign("pkcs11", "ed25519", started)
        return signature

    def sign_digest(self, digest: bytes) -> tuple[int, int]:
        started = time.perf_counter()
        raw = self._store().sign(self.key_id, digest, "ECDSA")
        observe_sign("pkcs11", "secp256k1", started)
        if len(raw) != 64:
            raise KeystoreError(f"the token answered a {len(raw)}-byte ECDSA signature, not 64")
        return low_s(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))


@dataclass(frozen=True)
class TokenEd25519Key(Ed25519Key):
    """An Ed25519 key whose private half stays in the token: `sign` asks the token."""

    token: TokenKey | None = field(default=None, compare=False)

    @property
    def has_private(self) -> bool:
        return True

    def sign(self, data: bytes) -> bytes:
        assert self.token is not None
        return self.token.sign_ed25519(data)

    def __reduce__(self) -> tuple:
        # The parsed public key object does not pickle; the public bytes and the reference do.
        return (_rebuild, (self.public, self.token))


def _rebuild(public: bytes, token: TokenKey) -> TokenEd25519Key:
    return TokenEd25519Key(public, token=token)


def _describe(exc: Exception) -> str:
    text = str(exc).strip()
    return f"{exc.__class__.__name__}{': ' + text if text else ''}"
