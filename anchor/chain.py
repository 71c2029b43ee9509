"""Chain backends: one web3.py code path over two providers.

* `RpcChain`: any Ethereum JSON-RPC endpoint (`DBP_CHAIN_RPC_URL`): anvil in the tests, a real
  node in production.
* `EmbeddedChain`: an in-process EVM (eth-tester on py-evm), the default. It lives in memory and is
  gone when the process exits; `anchor.runtime` rebuilds it from the transactions recorded in the
  database (see `EmbeddedChain.replay`). It therefore proves nothing beyond what the database
  already says: it exists so that a development or demo install needs no node, and so that both
  backends run exactly the same anchoring code. Use `rpc` for integrity that survives an operator
  who rewrites its own database.

Transactions are built here and signed by `anchor.accounts.Signer` (locally; the node never holds
the key). Every network failure surfaces as `ChainUnavailable`, which callers treat as "retry
later", never as a verdict.

Importing this module imports web3 (about 1.5 s); the rest of dbp imports it lazily.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

import requests

from anchor import ethlibs

ethlibs.load()  # before web3: keeps the interpreter's recursion limit as it was

from eth_utils import to_checksum_address  # noqa: E402
from web3 import Web3  # noqa: E402
from web3.exceptions import (  # noqa: E402
    BlockNotFound,
    ContractLogicError,
    ProviderConnectionError,
    TimeExhausted,
    TransactionNotFound,
    Web3RPCError,
)

from anchor.errors import AnchorConfigError, AnchorError, ChainUnavailable  # noqa: E402

log = logging.getLogger("dbp.anchor")

EMBEDDED_CHAIN_ID = 131277322940537  # eth-tester's chain id; the embedded chain always uses it
ANCHOR_GAS_FLOOR = 60_000  # anchor() costs about 47,000 gas on mainnet rules
DEPLOY_GAS = 400_000  # the deployment costs about 159,000
GWEI = 10**9


@cache
def artifact() -> dict[str, Any]:
    """The committed compiled contract (`anchor/contracts/PassportAnchor.json`)."""
    text = resources.files("anchor").joinpath("contracts", "PassportAnchor.json").read_text("utf-8")
    return json.loads(text)


class NonceTooLow(AnchorError):
    """The node already has a transaction with this nonce from this sender (mined or pending)."""

    code = "nonce-too-low"


class BroadcastRejected(AnchorError):
    """The node refused the transaction for a reason other than connectivity."""

    code = "broadcast-rejected"
    status = 502


@dataclass(frozen=True)
class AnchoredEvent:
    root: str
    chain_batch_id: str
    leaf_count: int
    by: str
    contract: str
    tx_hash: str
    log_index: int
    block_number: int
    block_hash: str


@dataclass(frozen=True)
class Receipt:
    tx_hash: str
    status: int  # 1 success, 0 reverted
    block_number: int
    block_hash: str
    to: str | None
    contract_address: str | None  # for a deployment
    events: tuple[AnchoredEvent, ...]  # the Anchored events it emitted


@dataclass(frozen=True)
class Fees:
    max_fee_per_gas: int
    max_priority_fee_per_gas: int

    def bumped(self, other: Fees | None = None) -> Fees:
        """At least 12.5 % above this (what nodes require to replace a pending transaction),
        and no lower than `other` (fresh market fees)."""
        prio = max(
            self.max_priority_fee_per_gas * 9 // 8 + 1,
            other.max_priority_fee_per_gas if other else 0,
        )
        fee = max(self.max_fee_per_gas * 9 // 8 + 1, other.max_fee_per_gas if other else 0, prio)
        return Fees(fee, prio)


def hex32(value: bytes | str) -> str:
    if isinstance(value, str):
        return value.lower() if value.startswith("0x") else "0x" + value.lower()
    return "0x" + bytes(value).hex()


def timestamp_to_datetime(ts: int) -> datetime:
    return datetime.fromtimestamp(int(ts), UTC)


_UNAVAILABLE = (
    requests.exceptions.RequestException,
    ProviderConnectionError,
    TimeExhausted,
    ConnectionError,
    TimeoutError,
    OSError,
)


class Chain:
    """Reads and writes the anchoring contract through a `Web3` instance."""

    kind = "chain"

    def __init__(self, w3: Web3, chain_id: int) -> None:
        self.w3 = w3
        self.chain_id = chain_id
        self._abi = artifact()["abi"]
        self._event = w3.eth.contract(abi=self._abi).events.Anchored()
        self._event_topic = (
            "0x" + bytes(Web3.keccak(text="Anchored(bytes32,bytes32,uint32,address)")).hex()
        )

    # --- plumbing -------------------------------------------------------------------------------

    @contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        try:
            yield
        except _UNAVAILABLE as exc:
            raise ChainUnavailable(
                f"{what}: the chain node cannot be reached ({exc.__class__.__name__})"
            ) from exc

    def _contract(self, address: str):
        return self.w3.eth.contract(address=to_checksum_address(address), abi=self._abi)

    def close(self) -> None:
        pass

    # --- reads ----------------------------------------------------------------------------------

    def head(self) -> int:
        with self._guard("reading the block number"):
            return int(self.w3.eth.block_number)

    def block(self, number: int) -> tuple[str, int]:
        """(block hash, timestamp) of block `number`."""
        with self._guard(f"reading block {number}"):
            block = self.w3.eth.get_block(number)
        return hex32(bytes(block["hash"])), int(block["timestamp"])

    def nonce(self, address: str, block: str = "pending") -> int:
        with self._guard("reading the account nonce"):
            return int(self.w3.eth.get_transaction_count(to_checksum_address(address), block))

    def balance(self, address: str) -> int:
        with self._guard("reading the account balance"):
            return int(self.w3.eth.get_balance(to_checksum_address(address)))

    def code_exists(self, address: str) -> bool:
        with self._guard("reading contract code"):
            return len(self.w3.eth.get_code(to_checksum_address(address))) > 0

    def anchored_at(self, contract: str, root: bytes) -> int:
        """Block timestamp at which `root` was anchored in `contract`, 0 when it never was."""
        with self._guard("reading anchoredAt"):
            return int(self._contract(contract).functions.anchoredAt(root).call())

    def fees(self, cap_wei: int | None = None) -> Fees:
        """EIP-1559 fees: tip from the node (1 gwei if it has no opinion), max = 2 x base + tip."""
        with self._guard("reading fees"):
            base = int(self.w3.eth.get_block("latest").get("baseFeePerGas", 0) or 0)
            try:
                tip = int(self.w3.eth.max_priority_fee)
            except (Web3RPCError, ValueError, NotImplementedError):
                tip = GWEI
        max_fee = 2 * base + tip
        if cap_wei is not None and max_fee > cap_wei:
            max_fee = cap_wei
            tip = min(tip, cap_wei)
        return Fees(max_fee, tip)

    def _decode_events(self, logs, contract: str | None = None) -> list[AnchoredEvent]:
        out = []
        for entry in logs:
            topics = entry.get("topics") or []
            if not topics or hex32(bytes(topics[0])) != self._event_topic:
                continue
            if contract is not None and entry["address"].lower() != contract.lower():
                continue
            ev = self._event.process_log(entry)
            out.append(
                AnchoredEvent(
                    root=hex32(ev["args"]["root"]),
                    chain_batch_id=hex32(ev["args"]["batchId"]),
                    leaf_count=int(ev["args"]["leafCount"]),
                    by=to_checksum_address(ev["args"]["by"]),
                    contract=to_checksum_address(entry["address"]),
                    tx_hash=hex32(bytes(entry["transactionHash"])),
                    log_index=int(entry["logIndex"]),
                    block_number=int(entry["blockNumber"]),
                    block_hash=hex32(bytes(entry["blockHash"])),
                )
            )
        return out

    def receipt(self, tx_hash: str) -> Receipt | None:
        """The receipt of a mined transaction, or None when the node does not know it as mined."""
        with self._guard("reading a receipt"):
            try:
                rc = self.w3.eth.get_transaction_receipt(tx_hash)
            except TransactionNotFound:
                return None
        if rc is None or rc.get("blockNumber") is None:
            return None
        to = rc.get("to")
        created = rc.get("contractAddress")
        return Receipt(
            tx_hash=hex32(bytes(rc["transactionHash"])),
            status=int(rc["status"]),
            block_number=int(rc["blockNumber"]),
            block_hash=hex32(bytes(rc["blockHash"])),
            to=to_checksum_address(to) if to else None,
            contract_address=to_checksum_address(created) if created else None,
            events=tuple(self._decode_events(rc["logs"])),
        )

    def _get_logs(self, contract: str, first: int, last: int, root: bytes | None) -> list:
        topics: list[Any] = [self._event_topic]
        if root is not None:
            topics.append(hex32(root))
        with self._guard("reading logs"):
            return self.w3.eth.get_logs(
                {
                    "address": to_checksum_address(contract),
                    "fromBlock": first,
                    "toBlock": last,
                    "topics": topics,
                }
            )

    def events(
        self, contract: str, first: int, last: int, root: bytes | None = None
    ) -> list[AnchoredEvent]:
        """`Anchored` events of `contract` in blocks `first..last` (inclusive), in chain order."""
        if last < first:
            return []
        return self._decode_events(self._get_logs(contract, first, last, root), contract)

    def blocks_at_timestamp(self, ts: int) -> tuple[int, int] | None:
        """First and last block stamped `ts`. Block timestamps never decrease; on public chains
        they strictly increase, dev chains (anvil) may give several blocks the same second."""
        head = self.head()
        lo, hi = 0, head
        while lo < hi:  # first block with timestamp >= ts
            mid = (lo + hi) // 2
            if self.block(mid)[1] < ts:
                lo = mid + 1
            else:
                hi = mid
        if self.block(lo)[1] != ts:
            return None
        last = lo
        while last < head and last - lo < 10_000 and self.block(last + 1)[1] == ts:
            last += 1
        return lo, last

    def find_anchor(self, contract: str, root: bytes) -> AnchoredEvent | None:
        """The event that anchored `root`, found through its timestamp without a long log scan."""
        ts = self.anchored_at(contract, root)
        if not ts:
            return None
        span = self.blocks_at_timestamp(ts)
        if span is None:
            return None
        found = self.events(contract, span[0], span[1], root)
        return found[0] if found else None

    # --- transactions ---------------------------------------------------------------------------

    def anchor_gas(
        self, contract: str, sender: str, root: bytes, leaf_count: int, batch_id: bytes
    ) -> int:
        """Gas limit for anchor(): the node's estimate plus 30 %, at least `ANCHOR_GAS_FLOOR`.

        Raises `ContractLogicError` when the call would revert (e.g. the root is already there)."""
        fn = self._contract(contract).functions.anchor(root, leaf_count, batch_id)
        with self._guard("estimating gas"):
            estimate = int(fn.estimate_gas({"from": to_checksum_address(sender)}))
        return max(ANCHOR_GAS_FLOOR, estimate * 13 // 10)

    def anchor_transaction(
        self,
        contract: str,
        root: bytes,
        leaf_count: int,
        batch_id: bytes,
        *,
        nonce: int,
        fees: Fees,
        gas: int,
    ) -> dict[str, Any]:
        data = self._contract(contract).encode_abi("anchor", args=[root, leaf_count, batch_id])
        return self._transaction(
            to_checksum_address(contract), data, nonce=nonce, fees=fees, gas=gas
        )

    def deploy_transaction(
        self, *, nonce: int, fees: Fees, gas: int = DEPLOY_GAS
    ) -> dict[str, Any]:
        return self._transaction(None, artifact()["bytecode"], nonce=nonce, fees=fees, gas=gas)

    def _transaction(
        self, to: str | None, data: str, *, nonce: int, fees: Fees, gas: int
    ) -> dict[str, Any]:
        tx: dict[str, Any] = {
            "type": 2,
            "chainId": self.chain_id,
            "nonce": nonce,
            "gas": gas,
            "maxFeePerGas": fees.max_fee_per_gas,
            "maxPriorityFeePerGas": fees.max_priority_fee_per_gas,
            "value": 0,
            "data": data,
        }
        if to is not None:
            tx["to"] = to
        return tx

    def broadcast(self, raw: bytes, tx_hash: str) -> None:
        """Hand a signed transaction to the node. Idempotent: a transaction the node already has
        (pending or mined) is fine. Raises NonceTooLow when the nonce went to another
        transaction."""
        with self._guard("broadcasting"):
            try:
                self.w3.eth.send_raw_transaction(raw)
            except Web3RPCError as exc:
                message = str(exc).lower()
                if (
                    "already known" in message
                    or "already imported" in message
                    or "known transaction" in message
                ):
                    return
                if "nonce too low" in message or "nonce is too low" in message:
                    if self.receipt(tx_hash) is not None:
                        return  # it is our own transaction, already mined
                    raise NonceTooLow(str(exc)) from None
                raise BroadcastRejected(f"the node refused the transaction: {exc}") from None

    def wait_for_receipt(
        self, tx_hash: str, timeout_s: float = 30.0, poll_s: float = 0.05
    ) -> Receipt:
        deadline = time.monotonic() + timeout_s
        while True:
            rc = self.receipt(tx_hash)
            if rc is not None:
                return rc
            if time.monotonic() > deadline:
                raise ChainUnavailable(
                    f"transaction {tx_hash} was not mined within {timeout_s:.0f} s"
                )
            time.sleep(poll_s)

    def mine(self, blocks: int = 1) -> None:
        """Produce empty blocks (dev chains only: anvil, hardhat, the embedded chain)."""
        with self._guard("mining"):
            self.w3.provider.make_request("anvil_mine", [hex(blocks)])


class RpcChain(Chain):
    """A node reached over HTTP JSON-RPC."""

    kind = "rpc"

    def __init__(self, url: str, *, expected_chain_id: int | None, timeout_s: float = 10.0) -> None:
        provider = Web3.HTTPProvider(
            url, request_kwargs={"timeout": timeout_s}, exception_retry_configuration=None
        )
        w3 = Web3(provider)
        try:
            actual = int(w3.eth.chain_id)
        except _UNAVAILABLE as exc:
            raise ChainUnavailable(
                f"the chain node at {url} cannot be reached ({exc.__class__.__name__})"
            ) from exc
        if expected_chain_id is not None and actual != expected_chain_id:
            raise AnchorConfigError(
                f"the node at {url} serves chain id {actual}, "
                f"but DBP_CHAIN_ID is {expected_chain_id}; "
                "refusing to anchor on the wrong chain"
            )
        super().__init__(w3, actual)
        self.url = url

    def _get_logs(self, contract: str, first: int, last: int, root: bytes | None) -> list:
        # Public nodes limit the range of one eth_getLogs call; 2,000 blocks is accepted widely.
        out: list = []
        for start in range(first, last + 1, 2000):
            out.extend(super()._get_logs(contract, start, min(last, start + 1999), root))
        return out


class EmbeddedChain(Chain):
    """An in-process EVM with the anchoring accounts funded at genesis.

    Thread-safe: py-evm is not, so every call holds one lock. Block timestamps are real time, except
    while replaying, where each transaction gets back the timestamp it had originally, so a root's
    `anchoredAt` does not change across restarts. Only `anchor.runtime` should create it."""

    kind = "embedded"

    def __init__(self, funded: list[str], genesis_timestamp: int) -> None:
        from eth_tester import EthereumTester, PyEVMBackend
        from web3 import EthereumTesterProvider

        # eth-tester's default test account (key 0x...01) is funded too: eth_call uses it as sender.
        state = dict(PyEVMBackend.generate_genesis_state(num_accounts=1))
        for address in funded:
            state[bytes.fromhex(address[2:])] = {
                "balance": 10**24,
                "storage": {},
                "code": b"",
                "nonce": 0,
            }
        params = PyEVMBackend.generate_genesis_params(overrides={"timestamp": genesis_timestamp})
        self._backend = PyEVMBackend(genesis_parameters=params, genesis_state=state)
        self._tester = EthereumTester(self._backend)
        self._lock = threading.RLock()
        self.applied: set[str] = set()
        super().__init__(Web3(EthereumTesterProvider(self._tester)), EMBEDDED_CHAIN_ID)

    @contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        with self._lock:
            yield

    def _set_next_timestamp(self, ts: int | None) -> None:
        """Give the next block timestamp `ts` (now when None), never less than parent + 1.

        eth-tester otherwise stamps a block with the time its *parent* was mined."""
        parent = self._backend.chain.get_canonical_head().timestamp
        wanted = int(time.time()) if ts is None else int(ts)
        header = self._backend.chain.header
        self._backend.chain.header = header.copy(timestamp=max(wanted, parent + 1))

    def apply(self, raw: bytes, tx_hash: str, timestamp: int | None = None) -> None:
        """Execute a signed transaction in a new block stamped `timestamp` (now by default)."""
        from eth_utils.exceptions import ValidationError

        with self._lock:
            if tx_hash in self.applied:
                return
            self._set_next_timestamp(timestamp)
            try:
                self.w3.eth.send_raw_transaction(raw)
            except (ValidationError, Web3RPCError, ValueError) as exc:
                message = str(exc)
                nonces = re.search(r"expected (\d+), but got (\d+)", message, re.IGNORECASE)
                if nonces and int(nonces[1]) > int(nonces[2]):
                    if self.receipt(tx_hash) is not None:
                        self.applied.add(tx_hash)
                        return
                    raise NonceTooLow(message) from None
                raise BroadcastRejected(
                    f"the embedded chain refused the transaction: {message}"
                ) from None
            self.applied.add(tx_hash)

    def broadcast(self, raw: bytes, tx_hash: str) -> None:
        self.apply(raw, tx_hash)

    def mine(self, blocks: int = 1) -> None:
        with self._lock:
            for _ in range(blocks):
                self._set_next_timestamp(None)
                self._tester.mine_blocks(1)

    def anchor_gas(
        self, contract: str, sender: str, root: bytes, leaf_count: int, batch_id: bytes
    ) -> int:
        try:
            return super().anchor_gas(contract, sender, root, leaf_count, batch_id)
        except ContractLogicError:
            raise
        except Exception as exc:  # eth-tester raises its own TransactionFailed on revert
            if exc.__class__.__name__ == "TransactionFailed":
                raise ContractLogicError(str(exc)) from None
            raise

    def events(
        self, contract: str, first: int, last: int, root: bytes | None = None
    ) -> list[AnchoredEvent]:
        # eth-tester get_logs is quadratic in the block range (DEPENDENCIES.md 3.5): block by block
        out: list[AnchoredEvent] = []
        for number in range(first, last + 1):
            out.extend(
                self._decode_events(self._get_logs(contract, number, number, root), contract)
            )
        return out

    def block(self, number: int) -> tuple[str, int]:
        try:
            return super().block(number)
        except BlockNotFound:
            raise AnchorError(f"block {number} does not exist on the embedded chain") from None
