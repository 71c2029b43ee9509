"""Helpers for the anchor tests: anvil from npm, both chain backends behind one harness.

anvil comes from the npm package pinned in anchor/contracts/package-lock.json; when
anchor/contracts/node_modules is missing, the first test that needs it runs `npm ci` there
(git-ignored). Each test gets its own anvil on a free port, killed afterwards.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest

import anchor
from anchor.errors import ChainUnavailable

CONTRACTS = Path(anchor.__file__).parent / "contracts"
ANVIL_CHAIN_ID = 31337
# anvil's well-known development keys (mnemonic "test test ... junk"): #0 anchors, #1 plays a
# stranger, #9 deploys the contract.
DEV_KEYS = {
    0: "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    1: "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    9: "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
}
EMBEDDED_STRANGER_KEY = "0x" + "00" * 31 + "01"  # eth-tester's default account, funded at genesis


def npm_ci() -> None:
    """Install the pinned npm packages (solc, anvil) into anchor/contracts/node_modules."""
    if (CONTRACTS / "node_modules" / ".package-lock.json").exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip(
            "npm is not installed: cannot install solc-js and anvil "
            "from anchor/contracts/package-lock.json"
        )
    done = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"], cwd=CONTRACTS, capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.fail(f"npm ci in {CONTRACTS} failed:\n{done.stderr[-2000:]}")


def anvil_binary() -> Path:
    """anvil from DBP_TEST_ANVIL, else the npm package's linux-x64 binary (npm ci on demand)."""
    explicit = os.environ.get("DBP_TEST_ANVIL")
    if explicit:
        return Path(explicit)
    npm_ci()
    found = sorted((CONTRACTS / "node_modules" / "@foundry-rs").glob("anvil-*/bin/anvil"))
    if not found:
        pytest.skip(
            "no anvil binary for this platform: npm installs @foundry-rs/anvil-linux-amd64 only "
            "(the registry dbp's CI uses has no other builds); set DBP_TEST_ANVIL=/path/to/anvil"
        )
    return found[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rpc(url: str, method: str, params: list | None = None) -> Any:
    body = json.dumps(
        {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}
    ).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        answer = json.loads(response.read())
    if "error" in answer:
        raise RuntimeError(f"{method}: {answer['error']}")
    return answer["result"]


class Anvil:
    """One anvil process; `stop()` + `start()` keep the chain (anvil --state)."""

    def __init__(self, workdir: Path) -> None:
        self.binary = anvil_binary()
        self.port = free_port()
        self.state = workdir / "anvil-state.json"
        self.log = workdir / "anvil.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        args = [
            str(self.binary),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--state",
            str(self.state),
        ]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while True:
            try:
                rpc(self.url, "eth_chainId")
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"anvil did not start; see {self.log}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM: anvil writes its state file and exits."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None


def deploy_with(url: str, key: str) -> str:
    """Deploy PassportAnchor from `key` (not the anchoring account), return its address."""
    from eth_account import Account

    from anchor.chain import artifact

    account = Account.from_key(key)
    nonce = int(rpc(url, "eth_getTransactionCount", [account.address, "pending"]), 16)
    tx = {
        "type": 2,
        "chainId": ANVIL_CHAIN_ID,
        "nonce": nonce,
        "gas": 400_000,
        "maxFeePerGas": 10**11,
        "maxPriorityFeePerGas": 10**9,
        "value": 0,
        "data": artifact()["bytecode"],
    }
    signed = account.sign_transaction(tx)
    tx_hash = rpc(url, "eth_sendRawTransaction", ["0x" + bytes(signed.raw_transaction).hex()])
    for _ in range(200):
        receipt = rpc(url, "eth_getTransactionReceipt", [tx_hash])
        if receipt:
            return receipt["contractAddress"]
        time.sleep(0.02)
    raise RuntimeError("the deployment was not mined")


class Switchable:
    """Wraps a chain; while `down`, every call raises ChainUnavailable (a simulated outage)."""

    def __init__(self, inner) -> None:
        self._inner = inner
        self.down = False

    def __getattr__(self, name: str):
        value = getattr(self._inner, name)
        if not callable(value):
            return value

        def call(*args, **kwargs):
            if self.down:
                raise ChainUnavailable(f"{name}: simulated outage")
            return value(*args, **kwargs)

        return call


@dataclass
class Harness:
    """One chain backend as the tests see it: settings for it, outages, block production."""

    kind: str  # "embedded" or "anvil"
    tmp: Path
    make_settings: Callable[..., Any]
    anvil: Anvil | None = None
    contract: str | None = None
    runtimes: list = field(default_factory=list)
    wrappers: list[Switchable] = field(default_factory=list)

    def settings(self, database_url: str, **overrides):
        values: dict[str, Any] = {
            "anchor_worker": "off",
            "anchor_batch_size": 5000,
            "anchor_batch_age_s": 3600,
            "anchor_confirmations": 1,
            "anchor_poll_s": 0.1,
            "master_key": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        }
        if self.kind == "anvil":
            assert self.anvil is not None
            values.update(
                chain_backend="rpc",
                chain_rpc_url=self.anvil.url,
                chain_id=ANVIL_CHAIN_ID,
                anchor_contract=self.contract,
                anchor_private_key=DEV_KEYS[0],
                anchor_rpc_timeout_s=2.0,
            )
        else:
            values.update(chain_backend="embedded")
        values.update(overrides)
        return self.make_settings(database_url, **values)

    def env(self, database_url: str, **overrides) -> dict[str, str]:
        """The same configuration as environment variables, for a subprocess."""
        s = self.settings(database_url, **overrides)
        env = {k: v for k, v in os.environ.items() if not k.startswith("DBP_")}
        env.update(
            DBP_DATA_DIR=str(s.data_dir),
            DBP_DATABASE_URL=database_url,
            DBP_MASTER_KEY=s.master_key,
            DBP_CHAIN_BACKEND=s.chain_backend,
            DBP_ANCHOR_WORKER="off",
            DBP_ANCHOR_BATCH_SIZE=str(s.anchor_batch_size),
            DBP_ANCHOR_BATCH_AGE_S=str(s.anchor_batch_age_s),
            # the subprocess signs with the keys the test's runtime made (under
            # DBP_TEST_KEY_BACKEND=pkcs11 in the token, which SOFTHSM2_CONF names)
            DBP_KEY_BACKEND=s.key_backend,
        )
        if s.key_backend == "pkcs11":
            assert s.pkcs11_module and s.pkcs11_token_label and s.pkcs11_pin
            env.update(
                DBP_PKCS11_MODULE=s.pkcs11_module,
                DBP_PKCS11_TOKEN_LABEL=s.pkcs11_token_label,
                DBP_PKCS11_PIN=s.pkcs11_pin.get_secret_value(),
            )
        if self.kind == "anvil":
            env.update(
                DBP_CHAIN_RPC_URL=s.chain_rpc_url,
                DBP_CHAIN_ID=str(s.chain_id),
                DBP_ANCHOR_CONTRACT=s.anchor_contract,
                DBP_ANCHOR_PRIVATE_KEY=DEV_KEYS[0],
            )
        return env

    def runtime(self, database_url: str, **overrides):
        """An AnchorRuntime on `database_url` (migrated), its chain wrapped in a Switchable."""
        from anchor.runtime import AnchorRuntime
        from service.db import make_engine, migrate

        settings = self.settings(database_url, **overrides)
        engine = make_engine(database_url)
        migrate(engine)

        def wrap(chain):
            wrapper = Switchable(chain)
            self.wrappers.append(wrapper)
            return wrapper

        rt = AnchorRuntime(settings, engine, settings.load_keystore(), chain_wrapper=wrap)
        self.runtimes.append(rt)
        return rt

    # --- outages and blocks ---------------------------------------------------------------------

    def stop(self) -> None:
        """The chain becomes unreachable: anvil is stopped; the embedded chain refuses calls."""
        if self.anvil is not None:
            self.anvil.stop()
        else:
            for wrapper in self.wrappers:
                wrapper.down = True

    def start(self) -> None:
        if self.anvil is not None:
            self.anvil.start()
        else:
            for wrapper in self.wrappers:
                wrapper.down = False

    def mine(self, rt, blocks: int = 1) -> None:
        rt.chain().mine(blocks)

    def anchored_events(self, rt) -> list:
        """Every Anchored event of the contract, whole chain."""
        chain = rt.chain()
        return chain.events(rt.contract(), 0, chain.head())

    def close(self) -> None:
        for rt in self.runtimes:
            rt.close()
            rt.engine.dispose()
        if self.anvil is not None:
            self.anvil.kill()


def signed_looking(i: int, issuer: str = "did:web:example.com:operators:acme") -> dict:
    """A credential-shaped document with a proof: all the anchor layer looks at (it verifies
    nothing)."""
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2", "https://w3id.org/dbp/contexts/v1"],
        "id": f"urn:uuid:00000000-0000-4000-8000-{i:012d}",
        "type": ["VerifiableCredential", "BatteryPassportPublicCredential"],
        "issuer": issuer,
        "validFrom": "2026-01-01T00:00:00Z",
        "credentialSubject": {
            "id": f"https://id.example.com/01/09506000134352/21/SN{i:08d}",
            "batteryCategory": "ev",
            "ratedCapacity": {"value": 75 + i % 10, "unit": "kWh"},
            "manufacturer": {"name": "Acme Batteries GmbH", "country": "DE"},
        },
        "proof": {
            "type": "DataIntegrityProof",
            "cryptosuite": "eddsa-rdfc-2022",
            "created": "2026-01-01T00:00:00Z",
            "verificationMethod": issuer + "#key-1",
            "proofPurpose": "assertionMethod",
            "proofValue": "z" + format(i * 7919, "x").rjust(86, "3"),
        },
    }


def flip_a_byte(doc: dict, rng: random.Random) -> dict:
    """The document with one byte of its JSON changed (a letter or digit: the JSON stays valid)."""
    raw = bytearray(orjson.dumps(doc))
    while True:
        i = rng.randrange(len(raw))
        if chr(raw[i]).isalnum():
            raw[i] ^= 0x01
            try:
                return orjson.loads(bytes(raw))
            except orjson.JSONDecodeError:
                raw[i] ^= 0x01
