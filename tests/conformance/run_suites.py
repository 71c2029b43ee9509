"""Run the W3C / CCG conformance suites against a dbp started here, on loopback, over HTTPS.

The suites are not part of this repository (their licences and their own dependency trees stay
theirs): check each one out and install it as its README says, side by side in one directory,
then

    python -m tests.conformance.run_suites --suites DIR [--only NAME ...] [--json OUT]

DIR holds any of: vc-data-model-2.0-test-suite, vc-di-eddsa-test-suite,
vc-bitstring-status-list-test-suite, vc-api-issuer-test-suite, vc-api-verifier-test-suite.

What this does: a fresh data directory (SQLite, its own master key), a self-signed certificate for
127.0.0.1, `dbp operator create --did-method key` (an Ed25519 did:key issuer), the service under
uvicorn with TLS on a free loopback port, and for each suite a `localConfig.cjs` registering that
operator (bearer token in the endpoint's headers) with the tags the suite filters on. Each suite
runs under mocha's JSON reporter; the summary lists passes and every failure with its message.
Nothing leaves the machine except what a suite itself fetches. Exit status: 0 when every test
passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SUITES = (
    "vc-data-model-2.0-test-suite",
    "vc-di-eddsa-test-suite",
    "vc-bitstring-status-list-test-suite",
    "vc-api-issuer-test-suite",
    "vc-api-verifier-test-suite",
)


@dataclass
class SuiteResult:
    name: str
    passed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    error: str | None = None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost; node trusts it through NODE_EXTRA_CA_CERTS."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _manifest(base: str, did: str, token: str) -> str:
    """The suites' implementation manifest: one issuer per cryptosuite/format, one verifier."""
    headers = {"Authorization": f"Bearer {token}"}

    def issuer(tags: list[str], options: dict | None = None) -> dict:
        entry = {"id": did, "endpoint": f"{base}/credentials/issue", "tags": tags}
        entry["headers"] = headers
        if options:
            entry["options"] = options
        return entry

    def verifier(path: str, tags: list[str]) -> dict:
        return {"id": did, "endpoint": f"{base}{path}", "tags": tags, "headers": headers}

    implementation = {
        "name": "dbp",
        "implementation": "dbp",
        "issuers": [
            issuer(["vc2.0", "vc-api", "eddsa-rdfc-2022"]),
            issuer(
                ["BitstringStatusList"],
                {"credentialStatus": {"type": "BitstringStatusListEntry"}},
            ),
            issuer(["eddsa-jcs-2022"], {"cryptosuite": "eddsa-jcs-2022"}),
            issuer(["EnvelopingProof"], {"format": "vc+jwt"}),
        ],
        "verifiers": [
            verifier(
                "/credentials/verify",
                [
                    "vc2.0",
                    "vc-api",
                    "eddsa-rdfc-2022",
                    "eddsa-jcs-2022",
                    "BitstringStatusList",
                    "EnvelopingProof",
                ],
            )
        ],
        "vpVerifiers": [verifier("/presentations/verify", ["vc2.0", "vc-api", "EnvelopingProof"])],
    }
    config = {"settings": {}, "implementations": [implementation]}
    return (
        "// written by dbp's tests/conformance/run_suites.py\n"
        f"module.exports = {json.dumps(config, indent=2)};\n"
    )


class Service:
    """dbp under uvicorn with TLS, in its own data directory."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = _free_port()
        self.base = f"https://127.0.0.1:{self.port}"
        self.cert, self.key = _self_signed(workdir)
        self.env = {
            **os.environ,
            "DBP_DATA_DIR": str(workdir / "var"),
            "DBP_PUBLIC_URL": self.base,
            "DBP_LOG_FORMAT": "text",
            "DBP_LOG_LEVEL": os.environ.get("DBP_LOG_LEVEL", "debug"),
            "DBP_CHALLENGE_RATE_PER_MINUTE": "0",
            "DBP_BULK_WORKER": "false",
            "PYTHONPATH": str(ROOT),
        }
        self.env.pop("DBP_DATABASE_URL", None)
        self.env.pop("DATABASE_URL", None)
        self.process: subprocess.Popen | None = None

    def create_operator(self) -> tuple[str, str]:
        out = subprocess.run(
            [sys.executable, "-m", "service.cli", "operator", "create", "--name", "suite",
             "--did-method", "key", "--json"],
            env=self.env, cwd=ROOT, check=True, capture_output=True, text=True,
        )  # fmt: skip
        created = json.loads(out.stdout.strip().splitlines()[-1])
        return created["did"], created["token"]

    def start(self, log: Path) -> None:
        # `dbp serve` hands uvicorn the service's logging set-up; uvicorn run directly (for TLS)
        # reads the same from a file
        from service.http_protocol import UVICORN_HTTP
        from service.logs import logging_config

        level = self.env["DBP_LOG_LEVEL"]
        log_config = self.workdir / "logging.json"
        log_config.write_text(
            json.dumps(
                logging_config("text", level), default=lambda c: f"{c.__module__}.{c.__name__}"
            )
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "service.asgi:app", "--host", "127.0.0.1",
             "--port", str(self.port), "--ssl-keyfile", str(self.key),
             "--ssl-certfile", str(self.cert), "--no-access-log", "--http", UVICORN_HTTP,
             "--log-config", str(log_config), "--log-level", level],
            env=self.env, cwd=ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        context = ssl.create_default_context(cafile=str(self.cert))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dbp exited ({self.process.returncode}); see {log}")
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", context=context, timeout=2):
                    return
            except OSError:
                time.sleep(0.2)  # polling for readiness, not a timed assertion
        raise RuntimeError(f"dbp did not answer /healthz within 60 s; see {log}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _collect(name: str, report: dict) -> SuiteResult:
    result = SuiteResult(name)
    for test in report.get("passes", []):
        result.passed.append(test["fullTitle"])
    for test in report.get("failures", []):
        message = (test.get("err") or {}).get("message", "")
        result.failed.append((test["fullTitle"], message.splitlines()[0] if message else ""))
    for test in report.get("pending", []):
        result.pending.append(test["fullTitle"])
    return result


def run_suite(suite_dir: Path, service: Service, manifest: str, workdir: Path) -> SuiteResult:
    name = suite_dir.name
    mocha = suite_dir / "node_modules" / ".bin" / "mocha"
    if not mocha.exists():
        return SuiteResult(name, error=f"{mocha} missing: install the suite (npm install) first")
    (suite_dir / "localConfig.cjs").write_text(manifest)
    output = workdir / f"{name}.{time.monotonic_ns()}.json"
    env = {**os.environ, "NODE_EXTRA_CA_CERTS": str(service.cert)}
    with (workdir / f"{name}.log").open("wb") as log:
        subprocess.run(
            [str(mocha), "tests/", "--timeout", "30000", "--preserve-symlinks",
             "--reporter", "json", "--reporter-option", f"output={output}"],
            cwd=suite_dir, env=env, stdout=log, stderr=subprocess.STDOUT, check=False,
        )  # fmt: skip
    if not output.exists():
        return SuiteResult(name, error=f"mocha wrote no report; see {workdir / (name + '.log')}")
    return _collect(name, json.loads(output.read_text()))


def _commit(directory: Path) -> str:
    out = subprocess.run(
        ["git", "-C", str(directory), "log", "-1", "--format=%h %cs"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return out.stdout.strip() or "unknown commit"


def markdown(results: list[SuiteResult], suites: Path) -> str:
    """Every test of every suite with its outcome (docs/conformance-results.md)."""
    lines = [
        "# Conformance results, test by test",
        "",
        "Written by `python -m tests.conformance.run_suites --markdown` (see docs/conformance.md);",
        "do not edit by hand.",
    ]
    for r in results:
        name = r.name.split(" (round")[0]
        lines += ["", f"## {r.name} (commit {_commit(suites / name)})", ""]
        if r.error:
            lines.append(f"Not run: {r.error}")
            continue
        lines.append(
            f"{len(r.passed)} passed, {len(r.failed)} failed, {len(r.pending)} pending "
            "(skipped by the suite itself)."
        )
        lines += ["", "| result | test |", "| --- | --- |"]
        rows = [("fail", t, m) for t, m in r.failed]
        rows += [("pass", t, "") for t in r.passed] + [("pending", t, "") for t in r.pending]
        for outcome, title, message in rows:
            text = title.replace("|", "\\|").replace("\n", " ")
            if message:
                text += f" — {message.replace('|', '/')}"
            lines.append(f"| {outcome} | {text} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suites", type=Path, default=os.environ.get("DBP_CONFORMANCE_SUITES"))
    parser.add_argument("--only", action="append", choices=SUITES)
    parser.add_argument("--json", type=Path, help="write the per-test results here")
    parser.add_argument("--markdown", type=Path, help="write the per-test results as Markdown")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run the suites this many times against the same database (credential ids reused)",
    )
    args = parser.parse_args(argv)
    if args.suites is None:
        parser.error("--suites DIR (or DBP_CONFORMANCE_SUITES) is required")
    workdir = Path(tempfile.mkdtemp(prefix="dbp-conformance-"))
    service = Service(workdir)
    results: list[SuiteResult] = []
    try:
        did, token = service.create_operator()
        service.start(workdir / "dbp.log")
        manifest = _manifest(service.base, did, token)
        for round_ in range(1, args.rounds + 1):
            for name in args.only or SUITES:
                suite_dir = args.suites / name
                label = name if args.rounds == 1 else f"{name} (round {round_})"
                if not suite_dir.is_dir():
                    results.append(SuiteResult(label, error=f"{suite_dir} is not a directory"))
                    continue
                result = run_suite(suite_dir, service, manifest, workdir)
                result.name = label
                results.append(result)
    finally:
        service.stop()
    total_pass = total_fail = 0
    for r in results:
        if r.error:
            print(f"{r.name}: ERROR {r.error}")
            total_fail += 1
            continue
        print(f"{r.name}: {len(r.passed)} passed, {len(r.failed)} failed, {len(r.pending)} pending")
        for title, message in r.failed:
            print(f"  FAIL {title}\n       {message}")
        total_pass += len(r.passed)
        total_fail += len(r.failed)
    if args.json:
        args.json.write_text(
            json.dumps(
                [
                    {"suite": r.name, "error": r.error, "passed": r.passed,
                     "failed": [{"test": t, "message": m} for t, m in r.failed],
                     "pending": r.pending}
                    for r in results
                ],
                indent=2,
            )
        )  # fmt: skip
    if args.markdown:
        args.markdown.write_text(markdown(results, args.suites))
    print(f"{total_pass} passed, {total_fail} failed")
    if args.keep:
        print(f"work directory: {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if total_fail == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
