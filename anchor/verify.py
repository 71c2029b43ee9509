"""The verifier's anchor check: recompute a credential's anchor and hold it against the chain.

For a credential, `anchor_report` finds its receipt (by leaf digest, else by credential id) and
`check_receipt` redoes everything from the credential alone:

1. the leaf, from the credential's canonical bytes (`anchor.leaves`): a credential changed after
   issuance has another leaf and **fails**;
2. the inclusion proof, folded up to the batch root: a wrong proof **fails**;
3. the chain: `anchoredAt(root)` on the recorded contract, the transaction's receipt (successful,
   sent to that contract, in the recorded block, emitting `Anchored` for this root) and the
   block's timestamp, which must equal `anchoredAt`. A confirmed batch whose root the chain does
   not have **fails**.

Everything that does not show tampering is a **warning**, never a failure: a credential this
service never anchored, one still waiting for its batch or for confirmations, a chain that cannot
be reached right now, the embedded chain still being rebuilt after a restart, or a receipt for
another chain than the one this service reads.

`anchor_check(session, runtime)` wraps this as a `verifier.credentials.CredentialCheck` named
`anchor` (listed in `service.runtime.Runtime.credential_checks`); its detail names transaction,
block and time. `anchor_report` gives the consumer page the same as structured data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlmodel import Session

from anchor import leaves, merkle, receipts
from anchor.errors import AnchorConfigError, AnchorError, ChainUnavailable, UnanchorableDocument

if TYPE_CHECKING:
    from anchor.chain import Chain
    from anchor.runtime import AnchorRuntime

CHECK = "anchor"
CHAIN_WAIT_S = 5.0

ANCHORED = "anchored"  # passed
PENDING = "pending"  # warning: queued, batched, sent, or not yet confirmed
UNKNOWN = "unknown"  # warning: this service holds no anchor for the credential
UNAVAILABLE = "unavailable"  # warning: the chain could not be asked
MISMATCH = "mismatch"  # failed: the credential, the proof or the chain disagree


@dataclass
class AnchorReport:
    status: str
    detail: str
    code: str = ""
    receipt: dict[str, Any] | None = None
    chain: dict[str, Any] = field(default_factory=dict)  # what the chain said (tx, block, time)

    @property
    def ok(self) -> bool:
        return self.status == ANCHORED

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
            "receipt": self.receipt,
        }


def _fail(detail: str, receipt: dict | None, code: str = "anchor-mismatch") -> AnchorReport:
    return AnchorReport(MISMATCH, detail, code, receipt)


def check_receipt(
    document: object,
    receipt: dict[str, Any],
    chain: Chain | None,
    *,
    confirmations: int = 1,
    chain_error: Exception | None = None,
) -> AnchorReport:
    """Check `document` against an anchor receipt and the chain (None with `chain_error` when the
    chain cannot be asked). Needs no database: a receipt from anywhere will do."""
    from_chain = receipt.get("status") in ("included", "confirmed")
    try:
        leaf = leaves.leaf_of(document)
    except UnanchorableDocument as exc:
        return _fail(f"the credential has no canonical form to hash: {exc}", receipt)
    try:
        expected = merkle.from_hex(receipt["leaf"])
    except (KeyError, AnchorError):
        return _fail("the receipt has no valid leaf digest", receipt, "anchor-receipt-invalid")
    if leaf != expected:
        return _fail(
            f"the credential hashes to {merkle.to_hex(leaf)}, but the anchored credential "
            f"{receipt.get('credentialId') or ''} hashed to {receipt['leaf']}: "
            "it was changed after it was "
            "queued for anchoring",
            receipt,
        )
    if "root" not in receipt:
        return AnchorReport(
            PENDING, "queued for anchoring; not in a batch yet", "anchor-pending", receipt
        )
    try:
        root = merkle.from_hex(receipt["root"])
        proof = receipts.proof_bytes(receipt)
    except AnchorError:
        return _fail(
            "the receipt's root or proof is not hexadecimal", receipt, "anchor-receipt-invalid"
        )
    if not merkle.verify(leaf, proof, root):
        return _fail(
            f"the inclusion proof does not lead from the leaf to root {receipt['root']}", receipt
        )
    if not from_chain:
        return AnchorReport(
            PENDING,
            f"in batch {receipt['root']} ({receipt['status']}); not on chain yet",
            "anchor-pending",
            receipt,
        )
    if chain is None:
        reason = str(chain_error) if chain_error else "no chain configured"
        return AnchorReport(
            UNAVAILABLE, f"the chain could not be asked: {reason}", "anchor-unavailable", receipt
        )
    if receipt.get("chainId") != chain.chain_id:
        return AnchorReport(
            UNAVAILABLE,
            f"anchored on chain {receipt.get('chainId')}, "
            f"but this verifier reads chain {chain.chain_id}",
            "anchor-other-chain",
            receipt,
        )
    try:
        return _against_chain(chain, receipt, root, confirmations)
    except ChainUnavailable as exc:
        return AnchorReport(
            UNAVAILABLE, f"the chain could not be asked: {exc}", "anchor-unavailable", receipt
        )


def _against_chain(
    chain: Chain, receipt: dict[str, Any], root: bytes, confirmations: int
) -> AnchorReport:
    from anchor.chain import timestamp_to_datetime
    from vocab.datetimes import format_datetime

    confirmed = receipt.get("status") == "confirmed"
    contract, tx_hash, block = (
        receipt.get("contract"),
        receipt.get("transaction"),
        receipt.get("block"),
    )
    anchored_at = chain.anchored_at(contract, root) if contract else 0
    if not anchored_at:
        detail = f"root {receipt['root']} is not anchored in {contract} on chain {chain.chain_id}"
        if confirmed:
            return _fail(detail, receipt, "anchor-not-on-chain")
        return AnchorReport(PENDING, detail + " (yet)", "anchor-pending", receipt)
    rc = chain.receipt(tx_hash) if tx_hash else None
    events = [
        e
        for e in (rc.events if rc else ())
        if e.root == receipt["root"] and e.contract.lower() == contract.lower()
    ]
    if rc is None or rc.status != 1 or not events or rc.block_number != block:
        return _fail(
            f"transaction {tx_hash} in block {block} does not anchor root {receipt['root']} "
            f"on chain {chain.chain_id}",
            receipt,
            "anchor-transaction-mismatch",
        )
    _, block_ts = chain.block(rc.block_number)
    if block_ts != anchored_at:
        return _fail(
            f"the contract says root {receipt['root']} was anchored at {anchored_at}, "
            f"but block {block} is at {block_ts}",
            receipt,
            "anchor-time-mismatch",
        )
    when = format_datetime(timestamp_to_datetime(anchored_at))
    depth = chain.head() - rc.block_number + 1
    facts = {"transaction": tx_hash, "block": rc.block_number, "time": when, "confirmations": depth}
    where = (
        f"transaction {tx_hash}, block {rc.block_number}, at {when} "
        f"(chain {chain.chain_id}, contract {contract}, root {receipt['root']}, "
        f"{len(receipt.get('proof', []))}-step inclusion proof verified)"
    )
    if depth < confirmations:
        return AnchorReport(
            PENDING,
            f"included in {where}; {depth} of {confirmations} confirmations",
            "anchor-unconfirmed",
            receipt,
            facts,
        )
    return AnchorReport(ANCHORED, f"anchored in {where}", "", receipt, facts)


def anchor_report(
    session: Session, runtime: AnchorRuntime | None, document: object
) -> AnchorReport:
    """The anchor status of a credential as this service knows it, checked against the chain."""
    try:
        leaf = merkle.to_hex(leaves.leaf_of(document))
    except UnanchorableDocument as exc:
        return _fail(f"the credential has no canonical form to hash: {exc}", None)
    found = receipts.find(session, leaf=leaf, credential_id=leaves.document_id(document))
    if found is None:
        return AnchorReport(
            UNKNOWN, "this service holds no anchor for the credential", "anchor-unknown"
        )
    receipt = receipts.build(*found)
    chain, error = None, None
    if runtime is not None and receipt["status"] in ("included", "confirmed"):
        try:
            chain = runtime.chain(wait=CHAIN_WAIT_S, session=session)
        except (ChainUnavailable, AnchorConfigError) as exc:
            error = exc
    confirmations = runtime.config.confirmations if runtime is not None else 1
    return check_receipt(document, receipt, chain, confirmations=confirmations, chain_error=error)


def record(report: AnchorReport, result) -> None:
    """Write a report into a `verifier.result.Result` as the `anchor` check."""
    if report.status == ANCHORED:
        result.passed(CHECK, report.detail)
    elif report.status == MISMATCH:
        result.failed(CHECK, report.detail, report.code)
    else:
        result.warn(CHECK, report.detail, report.code)


def anchor_check(session: Session, runtime: AnchorRuntime | None) -> Callable[[dict, Any], None]:
    """A `CredentialCheck` for `verify_credential(..., extra_checks=[...])`.

    The verifier hands extra checks the *unwrapped* payload of a `vc+jwt` credential; the anchor
    of such a credential is over the compact JWS, so the check takes the document as presented
    from `result.presented` when the verifier provides it."""

    def check(credential: dict, result) -> None:
        presented = getattr(result, "presented", None)
        document = presented if leaves.is_enveloped(presented) else credential
        record(anchor_report(session, runtime, document), result)

    return check
