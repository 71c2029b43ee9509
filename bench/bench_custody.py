"""Issue 20: what signing through a PKCS#11 token costs, beside the sealed key in memory.

The token is SoftHSM2 (Debian's softhsm2, a software token: a real HSM adds its own latency,
often more), initialised in a temporary directory for the run. Rows:

- eddsa-rdfc-2022 sign of the example passport's public-tier credential (as bench_proofs builds
  it), the Ed25519 key in the token against the same key in memory (the sealed backend, once
  unsealed); the RDFC-1.0 memo is cleared before each call, as in bench_proofs;
- credentials signed per second, both ways (1 / the median above);
- raw Ed25519 sign of the credential's bytes: CKM_EDDSA in the token against `cryptography`;
- secp256k1 sign of a 32-byte digest (an Ethereum transaction's): CKM_ECDSA in the token against
  `cryptography`, both normalised to low s.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench.bench_proofs import CREATED, public_credential
from bench.harness import Row, Stat, compare, skipped
from proofs.canonical import clear_memo, jcs
from proofs.dataintegrity import create_proof, verify_proof
from proofs.didkey import did_key, did_key_verification_method_id
from proofs.didkey import resolve_did_key_verification_method as resolve
from proofs.keys import Ed25519Key
from proofs.signer import SealedKeystore

SECTION = "custody"
MODULES = ("/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so")
PIN = "4711"


def _softhsm() -> tuple[str, str] | str:
    """(module, token label) of a fresh token, or why there is none."""
    util = shutil.which("softhsm2-util")
    module = next((m for m in MODULES if Path(m).exists()), None)
    if util is None or module is None:
        return "SoftHSM2 is not installed (Debian package softhsm2; .ci/services installs it)"
    home = Path(tempfile.mkdtemp(prefix="dbp-bench-softhsm-"))
    (home / "tokens").mkdir()
    conf = home / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {home / 'tokens'}\nlog.level = ERROR\n")
    # read by SoftHSM when the module is initialised, once per process
    os.environ.setdefault("SOFTHSM2_CONF", str(conf))
    subprocess.run(
        [util, "--init-token", "--free", "--label", "bench", "--pin", PIN, "--so-pin", PIN],
        check=True,
        capture_output=True,
        env={**os.environ, "SOFTHSM2_CONF": os.environ["SOFTHSM2_CONF"]},
    )
    return module, "bench"


def run() -> list[Row]:
    found = _softhsm()
    if isinstance(found, str):
        return [skipped(SECTION, "signing through PKCS#11", found)]
    module, label = found
    from proofs import pkcs11

    token = pkcs11.keystore(module, label, PIN)
    sealed = SealedKeystore(os.urandom(32))

    key = Ed25519Key.generate()
    assert key.private is not None
    did = did_key(key.public)
    vm = did_key_verification_method_id(did)
    in_token = token.ed25519(token.import_ed25519(key.private, vm), vm, key.public)
    in_memory = sealed.ed25519(sealed.import_ed25519(key.private, vm), vm, key.public)
    document = public_credential(did)
    raw = jcs(document)

    signed = create_proof(document, in_token, vm, created=CREATED)
    # Ed25519 is deterministic: the token's proof is the in-memory key's, byte for byte
    assert signed == create_proof(document, in_memory, vm, created=CREATED)
    assert verify_proof(signed, resolve)

    def cold(k):
        return lambda: (clear_memo(), create_proof(document, k, vm, created=CREATED))

    size = f"public-tier VC, {len(raw) // 1024} KiB"
    rdfc = compare(
        f"eddsa-rdfc-2022 sign, {size}, key in PKCS#11 token",
        cold(in_token),
        "key sealed, in memory",
        cold(in_memory),
        section=SECTION,
    )
    assert rdfc.ours is not None and rdfc.baseline is not None
    rate = Row(
        SECTION,
        "credentials signed per second (eddsa-rdfc-2022), PKCS#11 token",
        Stat.single(1 / rdfc.ours.median, "1/s"),
        "sealed key",
        Stat.single(1 / rdfc.baseline.median, "1/s"),
    )
    raw_row = compare(
        "raw Ed25519 sign, same bytes, CKM_EDDSA in token",
        lambda: in_token.sign(raw),
        "cryptography, key in memory",
        lambda: in_memory.sign(raw),
        section=SECTION,
    )
    secret = (0x4711 * 10**60).to_bytes(32, "big")
    account = token.secp256k1(token.import_secp256k1(secret, "bench-account"), "bench-account")
    account_sealed = sealed.secp256k1(sealed.import_secp256k1(secret, "acct"), "acct")
    digest = bytes(range(32))
    ecdsa = compare(
        "secp256k1 sign of a transaction digest, CKM_ECDSA in token",
        lambda: account.sign_digest(digest),
        "cryptography, key in memory",
        lambda: account_sealed.sign_digest(digest),
        section=SECTION,
    )
    return [rdfc, rate, raw_row, ecdsa]
