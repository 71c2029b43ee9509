"""The `dbp` command."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from anchor.cli import app as anchor_app
from issuer.dppregistry.cli import app as registry_app
from issuer.grant_cli import app as grant_app
from pipeline.cli import app as pipeline_app
from pipeline.cli import passport_app
from verifier.cli import audit_app, trust_app
from wallet.cli import app as wallet_app

app = typer.Typer(
    name="dbp",
    help="Digital Battery Passport service: run it, manage operators, and act as a holder.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
operator_app = typer.Typer(
    help="Economic operators: create them and manage their keys.", no_args_is_help=True
)
keys_app = typer.Typer(
    help="Key custody: where signing keys live (DBP_KEY_BACKEND).", no_args_is_help=True
)
app.add_typer(operator_app, name="operator")
app.add_typer(grant_app, name="grant")
app.add_typer(keys_app, name="keys")
signer_app = typer.Typer(
    help="The reference remote signer: keys in a PKCS#11 token, served over mutual TLS.",
    no_args_is_help=True,
)
app.add_typer(signer_app, name="signer")
app.add_typer(audit_app, name="audit")
app.add_typer(trust_app, name="trust")
app.add_typer(anchor_app, name="anchor")
app.add_typer(registry_app, name="registry")
app.add_typer(wallet_app, name="wallet")
app.add_typer(pipeline_app, name="pipeline")
app.add_typer(passport_app, name="passport")
backup_app = typer.Typer(
    help="The independent backup (issue 19): snapshot keys, pushes, and restoring a primary.",
    no_args_is_help=True,
)
app.add_typer(backup_app, name="backup")

err = Console(stderr=True)


@app.callback()
def _main(ctx: typer.Context) -> None:
    """Commands that write a primary's tables log their changes for the backup pusher too."""
    import os

    from service.cli_services import Services

    # the packages' command lines take their settings, engine and runtime from here
    # (infra.cli.cli_services), so that they do not import `service`
    ctx.obj = Services()

    if os.environ.get("DBP_BACKUP_PUSH_URL"):
        from issuer.backup import outbox

        outbox.enable()


def fail(message: str, code: int = 1) -> None:
    """One line in plain words on stderr, and a non-zero exit."""
    err.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="TCP port."),
    demo: bool = typer.Option(False, help="Create a demo operator with a few batteries first."),
    workers: int = typer.Option(1, help="Worker processes."),
    role: str = typer.Option(
        None,
        help="Routes to serve: issuer, verifier, resolver, all, or backup (the independent "
        "backup of another service) (default: DBP_ROLE, else all).",
    ),
) -> None:
    """Run the HTTP service (OpenAPI docs at /docs); GET /healthz, /readyz and /metrics on
    every role."""
    import os

    import uvicorn
    from pydantic import ValidationError

    from service.http_protocol import UVICORN_HTTP
    from service.logs import logging_config
    from service.settings import Settings

    if role is not None:
        if role not in ("issuer", "verifier", "resolver", "all", "backup"):
            fail(f"--role must be issuer, verifier, resolver, all or backup, not {role!r}")
        # uvicorn imports the app by name (service.asgi, once per worker): the environment is
        # how the role reaches it
        os.environ["DBP_ROLE"] = role
    try:
        settings = Settings()
    except ValidationError as exc:
        fail(f"invalid settings: {exc}")
    if demo:
        from service.demo import DemoDataElsewhere, seed_demo

        try:
            seed_demo(settings)
        except DemoDataElsewhere as exc:
            fail(str(exc))
    uvicorn.run(
        "service.asgi:app",
        host=host,
        port=port,
        workers=workers,
        log_config=logging_config(settings.log_format, settings.log_level),
        log_level=settings.log_level,
        access_log=False,  # service.observe writes one line per request, with its id
        proxy_headers=True,
        http=UVICORN_HTTP,  # a response in one write (issue 16)
    )


@app.command()
def migrate(
    deploy_anchor_contract: bool = typer.Option(
        False,
        "--deploy-anchor-contract",
        help="Also deploy PassportAnchor when DBP_ANCHOR_CONTRACT has no code and the anchoring "
        "account's next deployment lands there (a fresh development chain such as anvil).",
    ),
) -> None:
    """Bring the database schema to the newest revision and create this instance's identity:
    run once before starting several copies (DBP_MIGRATE_ON_START=false)."""
    from service.provision import ProvisionError, provision
    from service.settings import Settings

    try:
        done = provision(Settings(), deploy_anchor_contract=deploy_anchor_contract)
    except ProvisionError as exc:
        fail(str(exc))
    typer.echo(f"schema current: {done.database}")
    typer.echo(f"instance DID: {done.instance_did}")
    if done.contract is not None:
        verb = "deployed at" if done.contract_deployed else "present at"
        typer.echo(f"PassportAnchor {verb} {done.contract}")


@operator_app.command("create")
def operator_create(
    name: str = typer.Option(..., help="Short lowercase name; part of the operator's did:web."),
    did_method: str = typer.Option("web", help="web (served by this service) or key."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Create an operator; prints its DID and a bearer token (shown once, stored hashed)."""
    from issuer import operators
    from issuer.errors import IssuerError
    from service.db import make_engine, migrate, session_scope
    from service.settings import Settings

    settings = Settings()
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    master_key = settings.load_keystore()
    try:
        with session_scope(engine) as session:
            operators.ensure_instance(
                session, did_web_base=settings.did_web_base, master_key=master_key
            )
            operator, token = operators.create_operator(
                session,
                name=name,
                did_method=did_method,
                did_web_base=settings.did_web_base,
                master_key=master_key,
            )
    except IssuerError as exc:
        fail(str(exc))
    out = {"name": operator.name, "did": operator.did, "token": token}
    if as_json:
        typer.echo(json.dumps(out))
        return
    console = Console()
    console.print(f"operator [bold]{operator.name}[/bold]")
    console.print(f"  DID    {operator.did}")
    console.print(f"  token  {token}")
    console.print("[dim]The token is shown once; store it now.[/dim]")


@operator_app.command("rotate-key")
def operator_rotate_key(
    name: str = typer.Option(..., help="The operator whose assertion key is replaced."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Add a new assertion key; new credentials use it, old ones still verify (the old key stays
    in the DID document, retired)."""
    from issuer import operators
    from issuer.errors import IssuerError
    from service.db import make_engine, migrate, session_scope
    from service.settings import Settings

    settings = Settings()
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    try:
        with session_scope(engine) as session:
            row = operators.rotate_key(
                session, operators.by_name(session, name), settings.load_keystore()
            )
            out = {"name": name, "verificationMethod": row.id}
    except IssuerError as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps(out))
        return
    Console().print(f"operator [bold]{name}[/bold] signs with {out['verificationMethod']} now")


@keys_app.command("migrate")
def keys_migrate(
    rotate: bool = typer.Option(
        False,
        "--rotate",
        help="Replace each did:web operator's active key with a new key made in the token "
        "(instead of importing it), for tokens that refuse imports or a policy of in-token keys.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Move every key sealed in the database into the PKCS#11 token of DBP_KEY_BACKEND=pkcs11
    and erase the sealed copies (reads the master key one last time)."""
    from proofs.sealing import SealError
    from proofs.signer import KeystoreError, SealedKeystore
    from service.custody import CustodyError, migrate_keys
    from service.db import make_engine, migrate, session_scope
    from service.settings import Settings, SettingsError

    settings = Settings()
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    try:
        target = settings.load_keystore()
        with session_scope(engine) as session:
            moved = migrate_keys(
                session, SealedKeystore(settings.load_master_key()), target, rotate=rotate
            )
    except (CustodyError, KeystoreError, SettingsError, SealError) as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps([m.as_dict() for m in moved]))
        return
    console = Console()
    for m in moved:
        console.print(f"{m.action:<9} {m.kind:<15} {m.name}", highlight=False)
    console.print(f"{len(moved)} key(s) moved into {target.describe()}; none left sealed")


@signer_app.command("serve")
def signer_serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8443, help="TCP port."),
    tls_cert: Path = typer.Option(..., help="The signer's certificate (PEM)."),
    tls_key: Path = typer.Option(..., help="The signer's private key (PEM)."),
    client_ca: Path = typer.Option(
        ..., help="CA certificate (PEM): only clients with a certificate it issued connect."
    ),
) -> None:
    """Serve the remote signer interface (proofs/remote.py) for the keys of the PKCS#11 token of
    DBP_KEY_BACKEND=pkcs11 and DBP_PKCS11_*; dbp instances use it with DBP_KEY_BACKEND=remote."""
    from proofs.pkcs11 import Pkcs11Keystore
    from proofs.signer import KeystoreError
    from service.settings import Settings, SettingsError
    from service.signer_server import serve as serve_signer

    try:
        settings = Settings()
        if settings.key_backend != "pkcs11":
            fail(
                "the signer keeps its keys in a token: set DBP_KEY_BACKEND=pkcs11 and DBP_PKCS11_*"
            )
        token = settings.load_keystore()
        assert isinstance(token, Pkcs11Keystore)
        serve_signer(
            token,
            host=host,
            port=port,
            certfile=str(tls_cert),
            keyfile=str(tls_key),
            client_ca=str(client_ca),
        )
    except (KeystoreError, SettingsError) as exc:
        fail(str(exc))


@operator_app.command("list")
def operator_list(
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """List operators and their DIDs."""
    from sqlmodel import Session, select

    from issuer.tables import Operator
    from service.db import make_engine, migrate
    from service.settings import Settings

    engine = make_engine(Settings().resolved_database_url)
    migrate(engine)
    with Session(engine) as session:
        rows = session.exec(select(Operator).order_by(Operator.name)).all()
    items = [
        {"name": r.name, "did": r.did, "kind": r.kind, "removed": r.removed_at is not None}
        for r in rows
    ]
    if as_json:
        typer.echo(json.dumps(items))
        return
    for item in items:
        typer.echo(f"{item['name']:<24} {item['did']}")


@operator_app.command("remove")
def operator_remove(
    name: str = typer.Option(..., help="The operator that leaves the market."),
    successor: str = typer.Option(
        None, help="Base URL of the dbp instance that takes its batteries over; readers go there."
    ),
    backup: bool = typer.Option(
        False, help="Keep serving its passports from the copy this instance holds."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Remove an operator (it leaves the market): its token stops working, its DID document stays
    so its credentials still verify, and its batteries keep resolving (Art 78(e))."""
    from issuer.errors import IssuerError
    from issuer.operator_exit import remove_operator
    from resolver.errors import ResolverError
    from service.db import make_engine, migrate, session_scope
    from service.settings import Settings

    settings = Settings()
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    try:
        with session_scope(engine) as session:
            done = remove_operator(
                session, name, own_url=settings.public_url, successor=successor, backup=backup
            )
    except (IssuerError, ResolverError) as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps(done.as_json(backup)))
        return
    successor_url, routes = done.successor, done.batteries
    where = f"redirected to {successor_url}" if successor_url else "served from the copy kept here"
    typer.echo(f"operator {name} removed; {routes} batteries now {where}")


@app.command("qr")
def qr(
    uri: str = typer.Argument(
        ..., help="A GS1 Digital Link item URI (https://HOST/01/GTIN/21/SERIAL)."
    ),
    out: Path = typer.Option(..., "--out", help="Output file; .svg or .png decides the format."),
    scale: int = typer.Option(8, help="Pixels (PNG) or units (SVG) per module, 1-40."),
) -> None:
    """Write the QR code (ISO/IEC 18004, error correction M or better, 4-module quiet zone) that
    carries a battery's identifier."""
    from resolver.qr import MAX_SCALE, MEDIA_TYPES, qr_image
    from vocab.errors import VocabError
    from vocab.gs1 import parse_item_uri

    kind = out.suffix.lower().lstrip(".")
    if kind not in MEDIA_TYPES:
        fail(f"--out must end in .svg or .png, not {out.name!r}")
    if not 1 <= scale <= MAX_SCALE:
        fail(f"--scale must be 1 to {MAX_SCALE}")
    try:
        parse_item_uri(uri)
    except VocabError as exc:
        fail(str(exc))
    out.write_bytes(qr_image(uri, kind, scale))
    typer.echo(f"wrote {out} ({kind.upper()}, {out.stat().st_size} bytes) for {uri}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()


# --- the independent backup (issuer/backup) -------------------------------------------------------


@backup_app.command("keygen")
def backup_keygen(
    out: Path = typer.Option(..., "--out", help="File to write (mode 0600; must not exist)."),
) -> None:
    """Write a new AES-256 snapshot key (DBP_BACKUP_SNAPSHOT_KEY_FILE). Keep a copy apart from
    the primary: a restore needs it."""
    import os

    from issuer.backup.snapshot import new_key

    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        fail(f"{out} exists; not overwritten")
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror}")
    with os.fdopen(fd, "w") as f:
        f.write(new_key() + "\n")
    typer.echo(f"snapshot key written to {out}")


@backup_app.command("status")
def backup_status(
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Primary: the instance key the backup must trust, and how far the pushes got."""
    from sqlmodel import Session

    from issuer import operators
    from issuer.backup import outbox
    from service.db import make_engine, migrate
    from service.settings import Settings

    settings = Settings()
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    with Session(engine) as session:
        instance = operators.by_did(session, settings.did_web_base)
        rows = operators.keys_of(session, instance) if instance else []
        keys = [k.public_multibase for k in rows]
        described = {
            "pushUrl": settings.backup_push_url,
            "trustedKeys": keys,
            **outbox.describe(session),
        }
        session.commit()
    engine.dispose()
    if as_json:
        typer.echo(json.dumps(described, indent=2))
        return
    push_url = settings.backup_push_url or "(not configured: DBP_BACKUP_PUSH_URL)"
    typer.echo(f"push URL      {push_url}")
    typer.echo(f"trust keys    {','.join(keys) or '(no instance yet: run dbp migrate)'}")
    typer.echo(f"last pushed   {described['sequence']} at {described['pushedAt']}")
    typer.echo(f"due           {described['due']}  last error: {described['lastError']}")


@backup_app.command("push")
def backup_push() -> None:
    """Primary: push a snapshot now if one is due (the issuer's worker does it by itself)."""
    from issuer.documents.objectstore import open_store
    from service.db import make_engine, migrate
    from service.runtime import pusher_for
    from service.settings import Settings

    settings = Settings()
    if not settings.backup_push_url:
        fail("no backup configured: set DBP_BACKUP_PUSH_URL")
    engine = make_engine(settings.resolved_database_url)
    try:
        migrate(engine)
        pusher = pusher_for(
            settings,
            engine,
            settings.load_keystore(),
            lambda: open_store(
                settings.resolved_document_store,
                s3_endpoint_url=settings.document_s3_endpoint_url,
            ),
        )
        assert pusher is not None
        n = pusher.run_until_idle()
    finally:
        engine.dispose()
    typer.echo(f"{n} snapshot(s) pushed")


@backup_app.command("restore")
def backup_restore(
    source: str = typer.Option(..., "--from", help="Base URL of the backup service."),
    sequence: int = typer.Option(None, help="Snapshot to restore (default: the newest)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Rebuild a new primary's database (DBP_DATABASE_URL, empty) from the backup: the snapshot's
    signature is checked against DBP_BACKUP_TRUSTED_KEYS, its restricted part decrypted with
    DBP_BACKUP_SNAPSHOT_KEY_FILE. Run with the old primary's DBP_PUBLIC_URL and master key."""
    from issuer.backup import restore as restoring
    from issuer.backup.errors import BackupError
    from issuer.backup.snapshot import load_key, parse_trusted_keys
    from issuer.documents.objectstore import open_store
    from service.db import make_engine, migrate
    from service.settings import Settings

    settings = Settings()
    if settings.backup_snapshot_key_file is None:
        fail("a restore needs DBP_BACKUP_SNAPSHOT_KEY_FILE (the key of the snapshots)")
    trusted = parse_trusted_keys(settings.backup_trusted_keys)
    if not trusted:
        fail("a restore needs DBP_BACKUP_TRUSTED_KEYS (the old primary's instance key)")
    engine = make_engine(settings.resolved_database_url)
    try:
        key = load_key(settings.backup_snapshot_key_file)
        raw = restoring.fetch_envelope(source, sequence)
        migrate(engine)
        done = restoring.restore(
            engine,
            raw,
            trusted=trusted,
            key=key,
            public_url=settings.public_url,
            documents=lambda: open_store(
                settings.resolved_document_store,
                s3_endpoint_url=settings.document_s3_endpoint_url,
            ),
        )
    except BackupError as exc:
        fail(str(exc))
    finally:
        engine.dispose()
    described = {
        "sequence": done.sequence,
        "digest": done.digest,
        "source": done.source,
        "rows": done.rows,
        "documents": done.documents,
    }
    if as_json:
        typer.echo(json.dumps(described, indent=2))
        return
    typer.echo(f"restored snapshot {done.sequence} of {done.source} ({done.digest[:16]}...)")
    typer.echo(f"{sum(done.rows.values())} rows, {done.documents} documents")
