"""The JS reference implementation as a baseline in the same run (issue 15), and the documents
both sides verify.

`@digitalbazaar/vc` with the data-integrity and eddsa-rdfc-2022 packages the interop tests pin
(tests/interop/js, installed with `npm ci` on first use) runs in one long-lived node process
(tests/interop/js/bench-verify.mjs) that times each verification itself, in-process. Both sides
get the very same signed bytes, every document distinct and verified once by each side, so no
memo (ours or a JS cache other than its context loader) answers a headline figure.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import uuid
from functools import cache
from pathlib import Path
from typing import Any

from proofs.didkey import did_key_document
from vocab.loader import bundled_urls, context_document

ROOT = Path(__file__).resolve().parent.parent
JS_DIR = ROOT / "tests" / "interop" / "js"
CATENAX = Path(__file__).parent / "data" / "catenax-battery-pass-6.1.0.json"
V2 = "https://www.w3.org/ns/credentials/v2"
EXAMPLES_V2 = "https://www.w3.org/ns/credentials/examples/v2"
CATENAX_VOCAB = "urn:samm:io.catenax.battery.battery_pass:6.1.0#"


@cache
def _catenax_subject() -> dict[str, Any]:
    def rename(value: Any) -> Any:
        # `type` and `id` are protected by the VC context; the payload uses them as data.
        if isinstance(value, dict):
            renamed = {"type": "typeOf", "id": "identifier"}
            return {renamed.get(k, k): rename(v) for k, v in value.items()}
        if isinstance(value, list):
            return [rename(v) for v in value]
        return value

    return rename(json.loads(CATENAX.read_text("utf-8")))


def catenax_credential(issuer: str, n: int) -> dict[str, Any]:
    """The Catena-X example payload as a passport credential (~10 KB signed); `n` makes it
    distinct (credential id and battery id)."""
    return {
        "@context": [V2, {"@vocab": CATENAX_VOCAB}],
        "id": f"urn:uuid:{uuid.UUID(int=n)}",
        "type": ["VerifiableCredential"],
        "issuer": issuer,
        "validFrom": "2026-01-01T00:00:00Z",
        "credentialSubject": {
            "id": f"https://id.example/01/09506000134352/21/{n}",
            **copy.deepcopy(_catenax_subject()),
        },
    }


def small_credential(issuer: str, n: int) -> dict[str, Any]:
    """A small battery credential (~0.9 KB signed); `n` makes it distinct."""
    return {
        "@context": [V2, EXAMPLES_V2],
        "id": f"urn:uuid:{uuid.UUID(int=n)}",
        "type": ["VerifiableCredential", "BatteryPassportCredential"],
        "issuer": issuer,
        "validFrom": "2026-01-01T00:00:00Z",
        "credentialSubject": {
            "id": f"https://id.example/01/09506000134352/21/{n}",
            "stateOfHealth": 90 + n % 10,
            "chemistry": {"name": "NMC811", "cathode": {"nickelShare": 0.8}},
        },
    }


def unavailable() -> str | None:
    """Why the JS reference cannot run here, or None (installs the pinned packages if needed)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        return "node/npm are not installed"
    if not (JS_DIR / "node_modules" / ".package-lock.json").exists():
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
            cwd=JS_DIR,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode != 0:
            return f"npm ci failed (rc {done.returncode}): {done.stderr.strip()[-300:]}"
    return None


class JsReference:
    """One node process verifying batches of credentials, timing each call itself."""

    def __init__(self, dids: list[str]) -> None:
        self._process = subprocess.Popen(
            ["node", str(JS_DIR / "bench-verify.mjs")],
            cwd=JS_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        contexts = {url: context_document(url) for url in bundled_urls()}
        documents = {did: did_key_document(did) for did in dids}
        assert self._ask({"contexts": contexts, "didDocuments": documents})["ready"]

    def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self._process.stdin and self._process.stdout
        self._process.stdin.write(json.dumps(request) + "\n")
        self._process.stdin.flush()
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError(f"the JS reference exited (rc {self._process.wait()})")
        return json.loads(line)

    def verify(self, credentials: list[dict[str, Any]]) -> list[float]:
        """Seconds per verification, each credential once; raises if one did not verify."""
        answer = self._ask({"credentials": credentials})
        if answer["failed"]:
            raise AssertionError(f"the JS reference did not verify items {answer['failed']}")
        return answer["seconds"]

    def close(self) -> None:
        if self._process.stdin:
            self._process.stdin.close()
        self._process.wait(timeout=30)
