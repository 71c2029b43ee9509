"""Helpers for the wallet tests: the `dbp wallet` command run in-process, credentials signed by a
did:key issuer, and a dbp instance started as a real uvicorn process on a given database."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server_testkit import free_port, uvicorn_instance
from typer.testing import CliRunner

from proofs import dataintegrity, jose
from proofs.didkey import did_key, did_key_verification_method_id
from proofs.keys import Ed25519Key
from service.cli import app as dbp

V2 = "https://www.w3.org/ns/credentials/v2"
EXAMPLES = "https://www.w3.org/ns/credentials/examples/v2"
PASSPHRASE = "correct horse battery staple"


@dataclass
class Wallet:
    """`dbp wallet ...` against one wallet directory."""

    directory: Path
    passphrase: str = PASSPHRASE

    def run(self, *args: str, input: str | None = None, env: dict | None = None):
        values = {"DBP_WALLET_DIR": str(self.directory), "DBP_WALLET_PASSPHRASE": self.passphrase}
        values.update(env or {})
        result = CliRunner().invoke(dbp, ["wallet", *args], input=input, env=values)
        return result

    def ok(self, *args: str, **kwargs) -> str:
        result = self.run(*args, **kwargs)
        assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
        return result.stdout

    def json(self, *args: str, **kwargs) -> Any:
        return json.loads(self.ok(*args, "--json", **kwargs))


def one_line_error(result) -> str:
    """The single `error: ...` line a failed command prints (and nothing else on stderr)."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    return lines[0]


@dataclass
class Issuer:
    key: Ed25519Key
    did: str

    @classmethod
    def new(cls) -> Issuer:
        key = Ed25519Key.generate()
        return cls(key, did_key(key.public))

    @property
    def vm(self) -> str:
        return did_key_verification_method_id(self.did)

    def credential(self, subject: str, **extra: Any) -> dict:
        unsigned = {
            "@context": [V2, EXAMPLES],
            "id": f"urn:uuid:{uuid.uuid4()}",
            "type": ["VerifiableCredential", "ExampleDegreeCredential"],
            "issuer": self.did,
            "validFrom": "2025-01-01T00:00:00Z",
            "credentialSubject": {"id": subject, "degree": {"name": "Battery recycling"}},
            **extra,
        }
        return dataintegrity.create_proof(unsigned, self.key, self.vm)

    def jwt(self, subject: str) -> str:
        unsigned = {
            "@context": [V2, EXAMPLES],
            "id": f"urn:uuid:{uuid.uuid4()}",
            "type": ["VerifiableCredential", "ExampleDegreeCredential"],
            "issuer": self.did,
            "validFrom": "2025-01-01T00:00:00Z",
            "credentialSubject": {"id": subject, "degree": {"name": "Battery repair"}},
        }
        return jose.sign_jwt(unsigned, self.key, self.vm)


# --- a dbp instance, really listening -------------------------------------------------------


@dataclass
class Instance:
    url: str
    settings: Any


@contextmanager
def running_instance(data_dir: Path, database_url: str) -> Iterator[Instance]:
    """`uvicorn service.asgi:app` in its own process, on `database_url`."""
    from service.settings import Settings

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DBP_DATA_DIR": str(data_dir),
        "DBP_PUBLIC_URL": url,
        "DBP_DATABASE_URL": database_url,
        # nothing in these tests needs the background workers; they would only take CPU
        "DBP_BULK_WORKER": "false",
        "DBP_ANCHOR_WORKER": "off",
    }
    settings = Settings(data_dir=data_dir, public_url=url, database_url=database_url)
    with uvicorn_instance(url, port, env, data_dir.parent / f"instance-{port}.log"):
        yield Instance(url, settings)
