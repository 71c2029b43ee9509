"""The anchoring account: a secp256k1 key that signs anchoring transactions locally.

The private key is stored only sealed (AES-256-GCM under the service's master key, like operator
keys), with the account address as associated data so a sealed key copied onto another row does
not open. Exactly one account is active; it signs everything new. Older accounts stay so that the
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
from proofs.sealing import seal, unseal
from vocab.datetimes import utcnow


class InvalidPrivateKey(AnchorError):
    code = "invalid-anchor-key"
    status = 400


def _associated_data(address: str) -> bytes:
    return b"dbp-anchor-account:" + address.lower().encode("ascii")


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


def store_key(session: Session, master_key: bytes, private_key: bytes) -> AnchorAccount:
    """Store `private_key` sealed and make it the active account (idempotent). Does not commit."""
    address = address_of(private_key)
    for other in session.exec(select(AnchorAccount).where(AnchorAccount.active == True)):  # noqa: E712
        if other.address != address:
            other.active = False
            session.add(other)
    account = session.get(AnchorAccount, address)
    if account is None:
        account = AnchorAccount(
            address=address,
            sealed_key=seal(master_key, private_key, _associated_data(address)),
            active=True,
            created_at=utcnow(),
        )
    account.active = True
    session.add(account)
    session.flush()
    return account


def create_account(session: Session, master_key: bytes) -> AnchorAccount:
    """A fresh random account, active from now on. Does not commit."""
    while True:
        key = secrets.token_bytes(32)
        if 0 < int.from_bytes(key, "big") < _SECP256K1_N:
            return store_key(session, master_key, key)


@dataclass(frozen=True)
class SignedTransaction:
    raw: bytes
    tx_hash: str  # 0x hex


class Signer:
    """Signs transactions for one account; the unsealed key lives only in this object."""

    def __init__(self, account: AnchorAccount, master_key: bytes) -> None:
        ethlibs.load()
        from eth_account import Account

        key = unseal(master_key, account.sealed_key, _associated_data(account.address))
        self._account = Account.from_key(key)
        if self._account.address != account.address:
            raise AnchorError("the sealed anchoring key does not belong to its address")
        self.address: str = account.address

    def sign(self, transaction: dict[str, Any]) -> SignedTransaction:
        signed = self._account.sign_transaction(transaction)
        return SignedTransaction(bytes(signed.raw_transaction), "0x" + bytes(signed.hash).hex())

    def __repr__(self) -> str:  # never show the key
        return f"Signer({self.address})"
