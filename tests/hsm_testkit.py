"""A SoftHSM2 token for the tests: one per test process, in a temporary directory.

SoftHSM reads SOFTHSM2_CONF when the module is initialised, once per process, so every test in a
process shares one token (keys are found by their random CKA_ID, so tests do not collide); worker
processes started by the bulk issuer inherit the variable and see the same token.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

MODULE_CANDIDATES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
)
TOKEN_LABEL = "dbp-test"
PIN = "4711-test"
SO_PIN = "0815-test-so"

_token: dict[str, str] | None = None


def module_path() -> str:
    configured = os.environ.get("DBP_TEST_PKCS11_MODULE")
    if configured:
        return configured
    for candidate in MODULE_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    raise RuntimeError(
        "SoftHSM2 is not installed (libsofthsm2.so not found): .ci/services installs the "
        "Debian package softhsm2"
    )


def softhsm_token() -> dict[str, str]:
    """{module, token_label, pin} of this process's initialised token."""
    global _token
    if _token is not None:
        return _token
    util = shutil.which("softhsm2-util")
    if util is None:
        raise RuntimeError("softhsm2-util is missing: .ci/services installs softhsm2")
    home = Path(tempfile.mkdtemp(prefix="dbp-softhsm-"))
    (home / "tokens").mkdir()
    conf = home / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {home / 'tokens'}\nobjectstore.backend = file\n"
        "log.level = ERROR\nslots.removable = false\n"
    )
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(
        [util, "--init-token", "--free", "--label", TOKEN_LABEL, "--pin", PIN, "--so-pin", SO_PIN],
        check=True,
        capture_output=True,
        env={**os.environ, "SOFTHSM2_CONF": str(conf)},
    )
    _token = {"module": module_path(), "token_label": TOKEN_LABEL, "pin": PIN, "dir": str(home)}
    return _token


def settings_overrides() -> dict[str, str]:
    """Settings keyword arguments that put a service's keys into the test token."""
    token = softhsm_token()
    return {
        "key_backend": "pkcs11",
        "pkcs11_module": token["module"],
        "pkcs11_token_label": token["token_label"],
        "pkcs11_pin": token["pin"],
        # with no master key, signed document links need their own secret (README: required
        # with DBP_KEY_BACKEND=pkcs11), as a deployment in the token sets it
        "document_link_secret": "dbp-test-document-links-0123456789abcdef",
    }
