"""`dbp keys migrate`: move the keys sealed in the database into the configured token.

Every key sealed under the master key is imported into the token (as sensitive, non-extractable)
and its sealed copy erased: the operators' keys, retired ones included, and the anchoring
accounts. With `rotate`, a did:web operator's active key is not imported but replaced by a new key
generated in the token (the old one retires and stays in the DID document, so what it signed still
verifies); its sealed copy is erased like every retired key's. A did:key operator's key is its DID
and an anchoring account's key is where its funds are, so those are imported either way.

The keys move in one database transaction after the token holds them all: a failure leaves the
database as it was (and at worst unused copies in the token).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, select

from anchor import accounts
from anchor.tables import AnchorAccount
from issuer import operators
from issuer.tables import Operator, OperatorKey
from proofs.keys import Ed25519Key
from proofs.signer import HeldKey, Keystore, SealedKeystore


class CustodyError(Exception):
    code = "key-custody"
    status = 400


@dataclass(frozen=True)
class Moved:
    kind: str  # operator-key | anchor-account
    name: str  # verification method id or account address
    action: str  # imported | rotated | erased (a retired key's sealed copy)

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "name": self.name, "action": self.action}


def migrate_keys(
    session: Session, sealed: SealedKeystore, target: Keystore, *, rotate: bool = False
) -> list[Moved]:
    """Import (or with `rotate` replace) every sealed key; does not commit."""
    if isinstance(target, SealedKeystore):
        raise CustodyError(
            "DBP_KEY_BACKEND is sealed: set DBP_KEY_BACKEND=pkcs11 and DBP_PKCS11_* to the token "
            "the keys move into"
        )
    target.check()
    moved: list[Moved] = []
    if rotate:
        for operator in session.exec(select(Operator).where(Operator.did_method == "web")):
            active = [k for k in operators.keys_of(session, operator) if k.retired_at is None]
            if active and active[-1].key_ref is None and operator.removed_at is None:
                row = operators.rotate_key(session, operator, target)
                moved.append(Moved("operator-key", row.id, "rotated"))
    for row in session.exec(select(OperatorKey).where(OperatorKey.sealed_private.is_not(None))):
        if rotate and row.retired_at is not None:
            moved.append(Moved("operator-key", row.id, "erased"))
        else:
            seed = sealed.open_ed25519(operators.held_key(row), row.id)
            if Ed25519Key.from_private(seed).public_multibase != row.public_multibase:
                raise CustodyError(f"the sealed key of {row.id} does not match its public key")
            row.key_ref = target.import_ed25519(seed, row.id).ref
            moved.append(Moved("operator-key", row.id, "imported"))
        row.sealed_private = None
        session.add(row)
    for account in session.exec(select(AnchorAccount).where(AnchorAccount.sealed_key.is_not(None))):
        label = accounts.key_label(account.address)
        private_key = sealed.open_secp256k1(accounts.held_key(account), label)
        held: HeldKey = target.import_secp256k1(private_key, label)
        account.key_ref, account.sealed_key = held.ref, None
        session.add(account)
        moved.append(Moved("anchor-account", account.address, "imported"))
    session.flush()
    return moved
