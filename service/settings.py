"""Settings, read from `DBP_*` environment variables."""

from __future__ import annotations

import base64
import os
import re
from functools import cached_property
from pathlib import Path
from typing import Literal
from urllib.parse import quote, urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from sqlalchemy.engine import make_url

from infra.files import private_dir
from proofs.sealing import MASTER_KEY_BYTES, new_master_key
from proofs.signer import Keystore, SealedKeystore


class SettingsError(Exception):
    code = "settings"
    status = 500


ENV_PREFIX = "DBP_"
FILE_SUFFIX = "_FILE"
Role = Literal["issuer", "verifier", "resolver", "backup", "all"]


class FileSettingsSource(PydanticBaseSettingsSource):
    """`DBP_<NAME>_FILE=/path`: the setting's value is the file's content (trailing newline
    removed), the Docker secrets convention; a value given directly in `DBP_<NAME>` wins."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[object, str, bool]:
        env = f"{ENV_PREFIX}{field_name.upper()}{FILE_SUFFIX}"
        path = os.environ.get(env)
        if not path:
            return None, field_name, False
        try:
            return Path(path).read_text().rstrip("\r\n"), field_name, False
        except OSError as exc:
            raise SettingsError(f"{env}={path}: cannot read the file ({exc.strerror})") from None

    def __call__(self) -> dict[str, object]:
        values: dict[str, object] = {}
        for name, field in self.settings_cls.model_fields.items():
            value, _, _ = self.get_field_value(field, name)
            if value is not None:
                values[name] = value
        return values


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", populate_by_name=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        assert isinstance(env_settings, EnvSettingsSource)
        return (init_settings, env_settings, FileSettingsSource(settings_cls))

    data_dir: Path = Field(
        Path("./var"), description="Where the SQLite file and the master key live."
    )
    database_url: str | None = Field(
        None,
        # DATABASE_URL (ARCHITECTURE.md's name) is accepted when DBP_DATABASE_URL is not set.
        validation_alias=AliasChoices("DBP_DATABASE_URL", "DATABASE_URL"),
        description=(
            "SQLAlchemy URL (postgres:// and postgresql:// mean psycopg); default: a SQLite "
            "file under DBP_DATA_DIR. Also read from DATABASE_URL."
        ),
    )
    database_password: SecretStr | None = Field(
        None,
        description=(
            "Password added to DBP_DATABASE_URL when the URL has none (use "
            "DBP_DATABASE_PASSWORD_FILE with a Docker secret)."
        ),
    )
    role: Role = Field(
        "all",
        description=(
            "Which routes this process serves (`dbp serve --role`): issuer, verifier, resolver, "
            "all, or backup (the independent backup of another organisation's primary, not part "
            "of all); the bulk worker and the anchor worker thread run in issuer and all only."
        ),
    )
    migrate_on_start: bool = Field(
        True,
        description=(
            "Migrate the schema when the service starts. Set false where several processes "
            "share one database and a `dbp migrate` step runs first: they then refuse to start "
            "on a schema that is not current."
        ),
    )
    log_format: Literal["auto", "json", "text"] = Field(
        "auto",
        description=(
            "`json`: one JSON object per line (time, level, message, request id, method, path, "
            "status, duration); `text`: human lines; `auto`: text on a terminal, JSON otherwise."
        ),
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Lowest level logged."
    )
    readiness_timeout_s: float = Field(
        2.0,
        gt=0,
        le=30,
        description="Time limit of each check of GET /readyz (database, chain, key store).",
    )
    public_url: str = Field(
        "http://127.0.0.1:8000",
        description="Base URL the service is reached at; DIDs, QR codes and status lists use it.",
    )
    master_key: str | None = Field(
        None,
        description=(
            "Base64 32-byte key that encrypts private keys at rest; "
            "default: the file DBP_DATA_DIR/master.key."
        ),
    )
    key_backend: Literal["sealed", "pkcs11", "remote"] = Field(
        "sealed",
        description=(
            "Where signing keys live: `sealed` (in the database, sealed under the master key), "
            "`pkcs11` (generated inside a PKCS#11 token, an HSM; the database keeps references "
            "only) or `remote` (a remote signer over mutual TLS, DBP_SIGNER_*). "
            "`dbp keys migrate` moves sealed keys into the token or the signer."
        ),
    )
    pkcs11_module: str | None = Field(
        None,
        description=(
            "Path of the PKCS#11 module (the HSM vendor's library), e.g. "
            "/usr/lib/softhsm/libsofthsm2.so; needed with DBP_KEY_BACKEND=pkcs11."
        ),
    )
    pkcs11_token_label: str | None = Field(
        None, description="Label of the PKCS#11 token that holds the keys (CKA_LABEL of the token)."
    )
    pkcs11_pin: SecretStr | None = Field(
        None,
        description="User PIN of the PKCS#11 token (use DBP_PKCS11_PIN_FILE with a Docker secret).",
    )
    signer_url: str | None = Field(
        None,
        description=(
            "HTTPS URL of the remote signer (DBP_KEY_BACKEND=remote), e.g. one `dbp signer serve` "
            "or a KMS adapter speaking the same interface."
        ),
    )
    signer_client_cert: str | None = Field(
        None, description="Client certificate (PEM) this service presents to the remote signer."
    )
    signer_client_key: str | None = Field(
        None, description="Private key (PEM file path) of that client certificate."
    )
    signer_ca: str | None = Field(
        None, description="CA certificate (PEM) the remote signer's certificate must chain to."
    )
    did_web_allowed_hosts: str = Field(
        "",
        description=(
            "Comma-separated hosts (host or host:port) this service may call: did:web documents, "
            "status lists, other dbp instances (HTTPS, public addresses only). An entry written "
            "as http://host:port (plain HTTP) or https://host:port also allows a private address "
            "for that exact origin (for local test set-ups)."
        ),
    )
    resolver_view_max_age_s: float = Field(
        3600.0,
        ge=0,
        le=86_400,
        description=(
            "Longest a battery's materialized scan answers (linkset, JSON passport, consumer page "
            "with its verdicts) are served before they are rebuilt, for what changes without a "
            "write to this database (other instances' status lists and DID documents, the trust "
            "registry file). Every write here that changes a battery invalidates its answers at "
            "once, and validity periods are honoured to the second; 0 rebuilds them on every scan."
        ),
    )
    resolver_scan_threads: int = Field(
        8,
        ge=1,
        le=200,
        description=(
            "Worker threads that serve QR scans from their stored answers at once, per process; "
            "more scans wait their turn in the event loop. Fewer threads than the threadpool's "
            "40 contend less for the interpreter (one worker: 720-1,160 scans/s with 6-12 "
            "threads, 640-890/s with 40, service/scans.py)."
        ),
    )
    resolver_async_scans: bool = Field(
        True,
        description=(
            "On PostgreSQL, serve QR scans of unchanged batteries in the event loop from a pool "
            "of their own (DBP_RESOLVER_SCAN_CONNECTIONS async psycopg connections) instead of "
            "worker threads through SQLAlchemy; SQLite always uses the threads."
        ),
    )
    resolver_scan_connections: int = Field(
        8,
        ge=1,
        le=100,
        description=(
            "Connections of the event loop's scan pool (DBP_RESOLVER_ASYNC_SCANS), per process, "
            "besides the SQLAlchemy pool; scans that arrive together share one for one "
            "statement (at most 2 in flight per kind of answer, resolver/stored_reads.py)."
        ),
    )
    resolver_scan_wait_s: float = Field(
        5.0,
        gt=0,
        le=60,
        description=(
            "Longest a scan waits for a connection of the event loop's scan pool before it is "
            "answered 503 with Retry-After. Longer than the SQLAlchemy pool's 1 s: the worker "
            "threads' scans queued for a thread without a bound, and while page builds hold the "
            "interpreter the loop runs slowly, so 1 s turned a burst's scans into 503s "
            "(tests/resolver/test_page_burst.py: 2 of 443)."
        ),
    )
    did_web_timeout_s: float = Field(5.0, description="Time limit for fetching a did:web document.")
    did_web_max_bytes: int = Field(
        262_144, description="Size limit for a fetched did:web document."
    )
    max_body_bytes: int = Field(1_048_576, description="Largest request body accepted (bytes).")
    max_bulk_body_bytes: int = Field(
        268_435_456, description="Largest POST /batteries:bulk body accepted (bytes)."
    )
    bulk_worker: bool = Field(
        True, description="Run the bulk worker (background issuance) in this process."
    )
    bulk_processes: int | None = Field(
        None,
        description="Signing processes of the bulk worker; default: one per CPU core; 1 signs "
        "in the worker thread.",
    )

    # --- EU DPP registry (issuer/dppregistry) --------------------------------------------------
    registry_url: str | None = Field(
        None,
        description=(
            "Base URL of the EU DPP registry's API (the CIRPASS-2 mock registry's interface: "
            "POST /metadata/v1/registerDPP). Set, the issuer roles send every battery's entry "
            "there (Art 77(10)); unset, entries wait in the outbox (`dbp registry status`)."
        ),
    )
    registry_token: SecretStr | None = Field(
        None,
        description="Bearer token (OIDC access token with the `eo` role) for the registry.",
    )
    registry_commodity_code: str | None = Field(
        None,
        pattern=r"^[0-9]{4,10}$",
        description=(
            "HS/TARIC commodity code of the batteries (e.g. 850760 for lithium-ion), used when "
            "an operator's registry profile names none."
        ),
    )
    registry_poll_s: float = Field(
        10.0, gt=0, description="How often the registry sync looks for due entries (seconds)."
    )
    registry_timeout_s: float = Field(
        10.0, gt=0, le=120, description="Time limit of one request to the registry (seconds)."
    )
    backup_url: str | None = Field(
        None,
        description=(
            "Base URL of the independent backup service (`dbp serve --role backup`, run by "
            "another organisation): the registry entries' backupURL points there."
        ),
    )
    backup_push_url: str | None = Field(
        None,
        description=(
            "Primary: base URL the issuer pushes signed snapshots to after each change (the "
            "backup service's address as this network reaches it; often DBP_BACKUP_URL). "
            "Unset: no snapshots are pushed."
        ),
    )
    backup_push_token: SecretStr | None = Field(
        None,
        description=(
            "Shared bearer token of the pushes: the primary sends it, the backup requires it when "
            "set (the snapshot's signature is checked either way)."
        ),
    )
    backup_snapshot_key_file: Path | None = Field(
        None,
        description=(
            "File with the base64 AES-256 key that encrypts the restricted part of each "
            "snapshot (`dbp backup keygen`): required on the primary with DBP_BACKUP_PUSH_URL "
            "and for a restore; optional on the backup, where it lets /access release "
            "restricted tiers (decrypted in memory only)."
        ),
    )
    backup_trusted_keys: str = Field(
        "",
        description=(
            "Backup and restore: comma-separated Multikey public keys (z6Mk...) of the primary's "
            "instance key (`dbp backup status` on the primary prints it); snapshots signed by "
            "any other key are refused."
        ),
    )
    backup_max_snapshot_bytes: int = Field(
        512 * 1024 * 1024, gt=0, description="Backup: largest snapshot a push may send (bytes)."
    )
    backup_push_poll_s: float = Field(
        2.0, gt=0, description="Primary: how often the push worker looks for changes (seconds)."
    )

    # --- battery documents (issuer/documents) ---------------------------------------------------
    document_store: str | None = Field(
        None,
        description=(
            "Where document bytes are kept, content-addressed: a folder path (file:///path) or "
            "s3://bucket/prefix (credentials from the usual AWS_* variables); default: the "
            "folder DBP_DATA_DIR/documents."
        ),
    )
    document_s3_endpoint_url: str | None = Field(
        None,
        description="Endpoint of an S3-compatible store (MinIO, Ceph); unset: AWS S3.",
    )
    document_max_bytes: int = Field(
        20_971_520, ge=1, description="Largest document accepted (bytes)."
    )
    document_link_secret: SecretStr | None = Field(
        None,
        min_length=32,
        description=(
            "Secret (32 characters or more) the HMAC key of signed document links is derived "
            "from, the same for every process; default: derived from the master key (required "
            "with DBP_KEY_BACKEND=pkcs11 or remote, which keep no master key)."
        ),
    )
    document_link_ttl_s: int = Field(
        900,
        ge=10,
        le=86_400,
        description="Lifetime of a signed link to a restricted document (seconds).",
    )

    # --- verifier: trust, restricted data, challenges -------------------------------------------
    pipeline_config: Path | None = Field(
        None,
        description=(
            "The data pipeline's YAML (pipeline/config.py): its push sources take records at "
            "POST /ingest/{source} into its staging store; unset, that route answers 404."
        ),
    )
    trust_registry: Path | None = Field(
        None,
        description=(
            "JSON file of trust anchors, notified bodies and issuer rules (verifier/trust.py); "
            "default: this instance's DID is the one trust anchor, for every role."
        ),
    )
    trust_peer_refresh_s: float = Field(
        300.0,
        ge=1,
        le=86_400,
        description=(
            "How often the peer registries a trust registry names (`peerRegistries`) are "
            "re-validated (If-None-Match); a peer's change arrives without a restart."
        ),
    )
    authorities_see_individual_data: bool = Field(
        False,
        description=(
            "Let notified bodies, market surveillance authorities and the Commission read the "
            "legitimate-interest tier (Annex XIII point 4), which Art 77(2)(b) does not list "
            "for them."
        ),
    )
    vc_api_status: bool = Field(
        False,
        description=(
            "Give every credential issued through POST /credentials/issue a revocation and a "
            "suspension BitstringStatusListEntry from the operator's lists (a caller can also "
            "ask per request with options.credentialStatus)."
        ),
    )
    challenge_ttl_s: int = Field(300, ge=10, le=86_400, description="Lifetime of a challenge.")
    challenge_rate_per_minute: int = Field(
        30,
        ge=0,
        le=100_000,
        description=(
            "`POST /challenges` allowed per client address and minute, per process (429 with "
            "Retry-After beyond it); 0 turns the limit off."
        ),
    )
    challenge_domains: str = Field(
        "",
        description=(
            "Comma-separated extra domains challenges may be bound to, besides this service's "
            "host and public URL (e.g. a front-end's origin)."
        ),
    )
    # --- anchoring on Ethereum (package anchor/) ------------------------------------------------
    chain_backend: Literal["embedded", "rpc"] = Field(
        "embedded",
        description=(
            "Where Merkle roots are anchored: `embedded` (an in-process EVM rebuilt from the "
            "database at start; for development and demos, it adds no integrity beyond the "
            "database) or `rpc` (a real Ethereum node at DBP_CHAIN_RPC_URL)."
        ),
    )
    chain_rpc_url: str | None = Field(
        None,
        validation_alias=AliasChoices("DBP_CHAIN_RPC_URL", "CHAIN_RPC_URL"),
        description=(
            "JSON-RPC endpoint of the Ethereum node (DBP_CHAIN_BACKEND=rpc). Also read from "
            "CHAIN_RPC_URL."
        ),
    )
    chain_id: int | None = Field(
        None,
        description=(
            "Chain id the node must serve (rpc; required there). The worker refuses to sign for "
            "a node that answers with another id. The embedded chain always has id 131277322940537."
        ),
    )
    anchor_contract: str | None = Field(
        None,
        description=(
            "Address of the deployed PassportAnchor contract (rpc; `dbp anchor deploy` prints "
            "one). "
            "The embedded chain deploys its own and ignores this."
        ),
    )
    anchor_private_key: SecretStr | None = Field(
        None,
        description=(
            "Hex private key of the funded anchoring account, imported (sealed under the master "
            "key) at start and active from then on; remove it from the environment afterwards. "
            "`dbp anchor import-key` does the same from stdin. The embedded chain creates its own."
        ),
    )
    anchor_batch_size: int = Field(
        5000, ge=1, le=100_000, description="A batch is closed when this many leaves wait."
    )
    anchor_batch_age_s: float = Field(
        60.0, gt=0, description="...or when its oldest leaf has waited this long (seconds)."
    )
    anchor_confirmations: int = Field(
        1,
        ge=1,
        description=(
            "Blocks (including the one holding it) before an anchor counts as final; use 12 or "
            "more on a public chain. The listener only reads blocks at least this deep."
        ),
    )
    anchor_webhook_url: str | None = Field(
        None, description="The listener POSTs each Anchored event it sees at a safe depth here."
    )
    anchor_webhook_secret: SecretStr | None = Field(
        None,
        description=(
            "When set, webhook bodies are signed: header X-Dbp-Signature: sha256=<HMAC hex>."
        ),
    )
    anchor_worker: Literal["auto", "on", "off"] = Field(
        "auto",
        description=(
            "Run the anchoring worker as a thread of the web service: `auto` (with the embedded "
            "backend only; with rpc run `dbp anchor worker`), `on`, or `off`."
        ),
    )
    anchor_poll_s: float = Field(
        2.0, gt=0, description="How often the worker and the listener look for work (seconds)."
    )
    anchor_rpc_timeout_s: float = Field(10.0, gt=0, description="Time limit of one JSON-RPC call.")
    anchor_max_fee_gwei: float | None = Field(
        None, gt=0, description="Upper limit on maxFeePerGas for anchoring transactions (gwei)."
    )
    anchor_resend_after_s: float = Field(
        300.0,
        gt=0,
        description="A transaction still unmined after this long is replaced with higher fees.",
    )
    # --- portals and dashboards (package portal/) ------------------------------------------------
    portal_pipeline_operators: str = Field(
        "",
        description=(
            "Comma-separated names of the operators who see the data pipeline's runs, "
            "quarantine and value lineage in the company portal (the pipeline of "
            "DBP_PIPELINE_CONFIG serves the whole deployment, not one operator)."
        ),
    )
    authority_peers: str = Field(
        "",
        description=(
            "Comma-separated base URLs of the other dbp instances the authority portal's search "
            "(and GET /passports?peers=true) also queries, with the same API; each one's host "
            "must be allowed by DBP_DID_WEB_ALLOWED_HOSTS (the one outbound-fetch guard)."
        ),
    )
    authority_peer_tokens: SecretStr | None = Field(
        None,
        description=(
            "Comma-separated `URL=TOKEN` pairs: the bearer token (from the peer's POST "
            "/authority/tokens) this instance sends with its queries to that peer of "
            "DBP_AUTHORITY_PEERS, for an authority using a bearer token here, and as the "
            "fallback for a peer that does not (yet) list this instance in its "
            "DBP_AUTHORITY_PEER_INSTANCES; a peer without one is queried without a token."
        ),
    )
    authority_peer_instances: str = Field(
        "",
        description=(
            "Comma-separated DIDs of the peer instances trusted to forward their signed-in "
            "authorities' searches here: such an instance presents the authority's "
            "AuthorityCredential in a presentation it signs over a challenge of this instance "
            "(lasting: no token that expires); the credential must still verify under this "
            "instance's own trust rules. The DIDs must resolve (did:web hosts in "
            "DBP_DID_WEB_ALLOWED_HOSTS)."
        ),
    )
    authority_peer_timeout_s: float = Field(
        5.0,
        gt=0,
        le=60,
        description=(
            "Time limit of one federated query to a peer instance (seconds); a peer that takes "
            "longer is shown as failed, the other answers are shown."
        ),
    )
    portal_session_minutes: int = Field(
        60,
        ge=1,
        le=7 * 24 * 60,
        description=(
            "Lifetime of a company or authority portal session (minutes); the browser signs in "
            "again after it."
        ),
    )

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("DBP_PUBLIC_URL must be an absolute http(s) URL")
        if parts.query or parts.fragment:
            raise ValueError("DBP_PUBLIC_URL must not have a query or fragment")
        return value.rstrip("/")

    @field_validator("anchor_contract")
    @classmethod
    def _anchor_contract(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"0x[0-9a-fA-F]{40}", value.strip()):
            raise ValueError("DBP_ANCHOR_CONTRACT must be a 0x-prefixed 20-byte hex address")
        return value.strip() if value else None

    @field_validator(
        "chain_rpc_url",
        "anchor_webhook_url",
        "registry_url",
        "backup_url",
        "backup_push_url",
        "document_s3_endpoint_url",
    )
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value and urlsplit(value).scheme not in ("http", "https"):
            raise ValueError("must be an http(s) URL")
        return value or None

    @field_validator("authority_peers")
    @classmethod
    def _authority_peers(cls, value: str) -> str:
        for url in (u.strip() for u in value.split(",")):
            if not url:
                continue
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"{url!r} is not an absolute http(s) URL of a dbp instance")
            if parts.query or parts.fragment:
                raise ValueError(f"{url!r}: a peer's base URL has no query or fragment")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        # the scheme PaaS and libpq tools write; SQLAlchemy needs the driver named
        for plain in ("postgres://", "postgresql://"):
            if value.startswith(plain):
                return "postgresql+psycopg://" + value[len(plain) :]
        return value

    @cached_property
    def resolved_database_url(self) -> str:
        if not self.database_url:
            return f"sqlite:///{(self.data_dir / 'dbp.sqlite3').resolve()}"
        if self.database_password is None:
            return self.database_url
        url = make_url(self.database_url)
        if url.password is not None:
            return self.database_url
        url = url.set(password=self.database_password.get_secret_value())
        return url.render_as_string(hide_password=False)

    @cached_property
    def resolved_document_store(self) -> str:
        return self.document_store or str((self.data_dir / "documents").resolve())

    @cached_property
    def public_host(self) -> str:
        """The host (with port when not default) the way did:web writes it, before encoding."""
        return urlsplit(self.public_url).netloc

    @cached_property
    def public_path(self) -> str:
        return urlsplit(self.public_url).path.rstrip("/")

    @cached_property
    def did_web_base(self) -> str:
        """`did:web:` prefix naming this service (host, port %3A-encoded, and path segments)."""
        segments = [quote(self.public_host, safe="")]
        segments += [quote(s, safe="") for s in self.public_path.split("/") if s]
        return "did:web:" + ":".join(segments)

    @cached_property
    def allowed_did_web_hosts(self) -> frozenset[str]:
        return frozenset(
            h.strip().lower() for h in self.did_web_allowed_hosts.split(",") if h.strip()
        )

    @cached_property
    def authority_peer_urls(self) -> tuple[str, ...]:
        """DBP_AUTHORITY_PEERS as base URLs without a trailing slash, in the given order."""
        urls = (u.strip().rstrip("/") for u in self.authority_peers.split(","))
        return tuple(dict.fromkeys(u for u in urls if u))

    @cached_property
    def authority_peer_token_map(self) -> dict[str, str]:
        """DBP_AUTHORITY_PEER_TOKENS as base URL -> bearer token."""
        if self.authority_peer_tokens is None:
            return {}
        out = {}
        for pair in self.authority_peer_tokens.get_secret_value().split(","):
            url, sep, token = pair.strip().partition("=")
            if sep and url.strip() and token.strip():
                out[url.strip().rstrip("/")] = token.strip()
        return out

    @cached_property
    def authority_peer_instance_dids(self) -> frozenset[str]:
        """DBP_AUTHORITY_PEER_INSTANCES as a set of DIDs."""
        return frozenset(d.strip() for d in self.authority_peer_instances.split(",") if d.strip())

    @cached_property
    def allowed_challenge_domains(self) -> frozenset[str]:
        extra = {d.strip() for d in self.challenge_domains.split(",") if d.strip()}
        return frozenset({self.public_host, self.public_url, *extra})

    def load_keystore(self) -> Keystore:
        """The key store of DBP_KEY_BACKEND: the sealed keys (the master key is read or made) or
        the PKCS#11 token (no master key is made: nothing private is kept outside the token)."""
        if self.key_backend == "sealed":
            return SealedKeystore(self.load_master_key())
        if self.key_backend == "remote":
            return self._remote_keystore()
        missing = [
            f"DBP_{name.upper()}"
            for name in ("pkcs11_module", "pkcs11_token_label", "pkcs11_pin")
            if not getattr(self, name)
        ]
        if missing:
            raise SettingsError("DBP_KEY_BACKEND=pkcs11 needs " + ", ".join(missing))
        from proofs import pkcs11

        assert self.pkcs11_module and self.pkcs11_token_label and self.pkcs11_pin
        return pkcs11.keystore(
            self.pkcs11_module, self.pkcs11_token_label, self.pkcs11_pin.get_secret_value()
        )

    def _remote_keystore(self) -> Keystore:
        names = ("signer_url", "signer_client_cert", "signer_client_key", "signer_ca")
        missing = [f"DBP_{name.upper()}" for name in names if not getattr(self, name)]
        if missing:
            raise SettingsError("DBP_KEY_BACKEND=remote needs " + ", ".join(missing))
        if not str(self.signer_url).startswith("https://"):
            raise SettingsError("DBP_SIGNER_URL must be an https:// URL (mutual TLS)")
        from proofs import remote

        assert self.signer_url and self.signer_client_cert and self.signer_client_key
        assert self.signer_ca
        return remote.keystore(
            remote.RemoteConfig(
                self.signer_url, self.signer_client_cert, self.signer_client_key, self.signer_ca
            )
        )

    def load_master_key(self) -> bytes:
        """The key that seals private keys; made (mode 0600) on first use when none is set."""
        if self.master_key:
            key = base64.b64decode(self.master_key)
            if len(key) != MASTER_KEY_BYTES:
                raise SettingsError("DBP_MASTER_KEY must be base64 of exactly 32 bytes")
            return key
        path = self.data_dir / "master.key"
        if not path.exists():
            private_dir(self.data_dir)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # another process created it first: use theirs
            else:
                with os.fdopen(fd, "wb") as f:
                    f.write(base64.b64encode(new_master_key()))
        key = base64.b64decode(path.read_bytes())
        if len(key) != MASTER_KEY_BYTES:
            raise SettingsError(f"{path} does not hold a 32-byte base64 key")
        return key
