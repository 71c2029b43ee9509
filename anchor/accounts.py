"""The anchoring account: a secp256k1 key that signs anchoring transactions.

The private key lives where the key store (`proofs.signer`) keeps keys: sealed in the database
(AES-256-GCM under the service's master key, like operator keys, with the account address as
associated data so a sealed key copied onto another row does not open), or generated inside a
PKCS#11 token, which then signs every transaction (DBP_KEY_BACKEND=pkcs11). Exactly one account
is active; it signs everything new. Older accounts stay so that the
embedded chain can still be rebuilt from their recorded transactions.

The embedded backend creates its account on first use. For a real chain, the key of an account
that holds funds is imported: `DBP_ANCHOR_PRIVATE_KEY` at start-up or `dbp anchor import-key`
(after which the environment variable can be removed).

`eth_account` takes about a second to import, so it is imported where it is used.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, select

from anchor import ethlibs
from anchor.errors import AnchorError
from anchor.tables import AnchorAccount
from proofs.signer import HeldKey, Keystore, KeystoreError, SealedKeystore, as_keystore
from vocab.datetimes import utcnow


class InvalidPrivateKey(AnchorError):
    code = "invalid-anchor-key"
    status = 400


def key_label(address: str) -> str:
    """The key's label; for sealed keys also the associated data binding it to the address."""
    return "dbp-anchor-account:" + address.lower()


def _address_of_public(public: bytes) -> str:
    ethlibs.load()
    from eth_keys import keys

    return keys.PublicKey(public).to_checksum_address()


def parse_private_key(text: str) -> bytes:
    body = text.strip()
    body = body[2:] if body[:2] in ("0x", "0X") else body
    try:
        key = bytes.fromhex(body)
    except ValueError:
        raise InvalidPrivateKey(
            "the anchoring key must be 32 bytes of hex (64 digits, 0x optional)"
        ) from None
    if len(key) != 32 or not 0 < int.from_bytes(key, "big") < _SECP256K1_N:
        raise InvalidPrivateKey("the anchoring key must be a valid 32-byte secp256k1 private key")
    return key


_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def address_of(private_key: bytes) -> str:
    ethlibs.load()
    from eth_account import Account

    return Account.from_key(private_key).address


def active_account(session: Session) -> AnchorAccount | None:
    return session.exec(select(AnchorAccount).where(AnchorAccount.active == True)).first()  # noqa: E712


def all_accounts(session: Session) -> list[AnchorAccount]:
    return list(
        session.exec(
            select(AnchorAccount).order_by(AnchorAccount.created_at, AnchorAccount.address)
        )
    )


def store_key(session: Session, master_key: bytes | Keystore, private_key: bytes) -> AnchorAccount:
    """Take `private_key` into custody (sealed, or imported into the token) and make it the
    active account (idempotent). Does not commit."""
    address = address_of(private_key)
    account = session.get(AnchorAccount, address)
    held = None
    if account is None:
        held = as_keystore(master_key).import_secp256k1(private_key, key_label(address))
    return _activate(session, address, held)


def _activate(session: Session, address: str, held: HeldKey | None) -> AnchorAccount:
    for other in session.exec(select(AnchorAccount).where(AnchorAccount.active == True)):  # noqa: E712
        if other.address != address:
            other.active = False
            session.add(other)
    account = session.get(AnchorAccount, address)
    if account is None:
        assert held is not None
        account = AnchorAccount(
            address=address,
            sealed_key=held.sealed,
            key_ref=held.ref,
            active=True,
            created_at=utcnow(),
        )
    account.active = True
    session.add(account)
    session.flush()
    return account


def create_account(session: Session, master_key: bytes | Keystore) -> AnchorAccount:
    """A fresh random account, active from now on (in a token: generated there). Does not
    commit."""
    keystore = as_keystore(master_key)
    if isinstance(keystore, SealedKeystore):
        while True:  # as before: the key made here, sealed
            key = secrets.token_bytes(32)
            if 0 < int.from_bytes(key, "big") < _SECP256K1_N:
                return store_key(session, keystore, key)
    public, held = keystore.new_secp256k1(lambda public: key_label(_address_of_public(public)))
    return _activate(session, _address_of_public(public), held)


def held_key(account: AnchorAccount) -> HeldKey:
    return HeldKey(sealed=account.sealed_key, ref=account.key_ref)


@dataclass(frozen=True)
class SignedTransaction:
    raw: bytes
    tx_hash: str  # 0x hex


class Signer:
    """Signs transactions for one account: with the unsealed key, which lives only in this
    object, or through the token that holds the key."""

    def __init__(self, account: AnchorAccount, master_key: bytes | Keystore) -> None:
        ethlibs.load()
        from eth_account import Account

        keystore = as_keystore(master_key)
        self.address: str = account.address
        self.backend = keystore.backend
        self._account = None
        self._token_key = None
        held, label = held_key(account), key_label(account.address)
        try:
            if isinstance(keystore, SealedKeystore):
                self._account = Account.from_key(keystore.open_secp256k1(held, label))
                if self._account.address != account.address:
                    raise AnchorError("the sealed anchoring key does not belong to its address")
            else:
                self._token_key = _TokenAccountKey(keystore.secp256k1(held, label), self.address)
        except KeystoreError as exc:
            raise AnchorError(f"anchoring account {account.address}: {exc}") from None

    def sign(self, transaction: dict[str, Any]) -> SignedTransaction:
        if self._account is not None:
            signed = self._account.sign_transaction(transaction)
            return SignedTransaction(bytes(signed.raw_transaction), "0x" + bytes(signed.hash).hex())
        from eth_account._utils.signing import sign_transaction_dict
        from eth_utils import keccak

        # eth_account serialises the transaction and asks its key object for the signature
        # over the signing hash; the token key answers that (r, s) and the recovery id.
        _, _, _, raw = sign_transaction_dict(self._token_key, transaction)
        return SignedTransaction(bytes(raw), "0x" + keccak(raw).hex())

    def __repr__(self) -> str:  # never show the key
        return f"Signer({self.address})"


class _TokenAccountKey:
    """The part of eth_keys' PrivateKey that eth_account's signing uses (`sign_msg_hash`),
    answered by the token: ECDSA (r, s) with low s, and v found by recovering the address."""

    def __init__(self, signer, address: str) -> None:
        self._signer = signer
        self._address = address

    def sign_msg_hash(self, msg_hash: bytes):
        from eth_keys import keys

        r, s = self._signer.sign_digest(bytes(msg_hash))
        for v in (0, 1):
            signature = keys.Signature(vrs=(v, r, s))
            recovered = signature.recover_public_key_from_msg_hash(bytes(msg_hash))
            if recovered.to_checksum_address() == self._address:
                return signature
        raise AnchorError(f"the token's signature does not recover to {self._address}")
