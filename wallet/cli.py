"""`dbp wallet`: the holder's command line (keys, credentials, presentations, restricted data).

It talks to dbp services over HTTP only. Every expected failure is one line `error: ...` on stderr
with exit code 1 (usage errors: 2, typer's default); `--json` output keeps its shape for scripts.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Column, Table

from wallet import handover_cli
from wallet.errors import BadInput, IdentityExists, StoreError, WalletError
from wallet.store import Store, WalletData, default_dir

app = typer.Typer(
    name="wallet",
    help=(
        "The holder's wallet: an Ed25519 identity (did:key or a did:web hosted by a dbp "
        "instance) and credentials in an encrypted local store; presentations and restricted "
        "passport data requests. Passphrase: DBP_WALLET_PASSPHRASE or a prompt."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

# No emoji codes (":key:" is part of every did:key) and no wrapping of one-line messages.
out = Console(highlight=False, emoji=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, emoji=False, soft_wrap=True)

PASSPHRASE_ENV = "DBP_WALLET_PASSPHRASE"


class DidMethod(StrEnum):
    key = "key"
    web = "web"


class PresentationFormat(StrEnum):
    di = "di"
    vp_jwt = "vp+jwt"


def fail(message: str, code: int = 1) -> NoReturn:
    """One line in plain words on stderr, and a non-zero exit."""
    err.print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(code)


@contextmanager
def plain_errors() -> Iterator[None]:
    """Expected failures become one line, never a traceback."""
    from proofs.errors import ProofError
    from vocab.errors import VocabError

    try:
        yield
    except (WalletError, ProofError, VocabError) as exc:
        fail(str(exc))


@dataclass
class WalletContext:
    """What every command shares: where the wallet is, and its passphrase once asked for."""

    directory: Path
    passphrase: str | None = None

    def ask(self, *, confirm: bool = False) -> str:
        if self.passphrase is None:
            value = os.environ.get(PASSPHRASE_ENV)
            if value is None:
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", getpass.GetPassWarning)
                        value = typer.prompt(
                            "Wallet passphrase", hide_input=True, confirmation_prompt=confirm
                        )
                except (typer.Abort, EOFError):
                    raise StoreError(
                        f"no passphrase given; set {PASSPHRASE_ENV} or answer the prompt"
                    ) from None
            if not value:
                raise StoreError(f"an empty passphrase is not allowed ({PASSPHRASE_ENV} or prompt)")
            self.passphrase = value
        return self.passphrase

    def store(self, *, confirm: bool = False) -> Store:
        return Store(self.directory, self.ask(confirm=confirm))

    def load(self) -> tuple[Store, WalletData]:
        store = Store(self.directory, "")
        if not store.exists():
            raise StoreError(f"no wallet at {self.directory}; create one with `dbp wallet init`")
        store = self.store()
        return store, store.load()


def wallet_context(ctx: typer.Context) -> WalletContext:
    """The shared WalletContext (commands registered by other modules use this too)."""
    obj = ctx.find_object(WalletContext)
    if obj is None:  # a command invoked without the group callback (tests of a single command)
        obj = WalletContext(default_dir())
        ctx.obj = obj
    return obj


def emit_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False))


@app.callback()
def main(
    ctx: typer.Context,
    wallet_dir: Path = typer.Option(
        None,
        "--wallet-dir",
        envvar="DBP_WALLET_DIR",
        help="Wallet directory (default ~/.dbp-wallet).",
        show_default=False,
    ),
) -> None:
    ctx.obj = WalletContext(wallet_dir.expanduser() if wallet_dir else default_dir())


@app.command()
def init(
    ctx: typer.Context,
    did_method: DidMethod = typer.Option(
        DidMethod.key,
        "--did-method",
        help="key: a did:key computed here. web: a did:web hosted by a dbp instance "
        "(needs --service, --name and an operator's token).",
    ),
    service: str = typer.Option(
        None, "--service", help="Base URL of the dbp instance that hosts the did:web."
    ),
    name: str = typer.Option(
        None, "--name", help="The did:web's last segment: did:web:HOST:holders:NAME."
    ),
    token: str = typer.Option(
        None,
        "--token",
        envvar="DBP_OPERATOR_TOKEN",
        help="Bearer token of an operator of that instance, which registers the DID.",
        show_default=False,
    ),
    force: bool = typer.Option(
        False,
        "--force",
        help="Replace an existing identity (its key is lost for good; credentials stay).",
    ),
    insecure_http: bool = typer.Option(
        False, "--insecure-http", help="Allow plain HTTP to hosts other than this machine."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Create the wallet's identity: a new Ed25519 key and its DID."""
    from wallet import identity
    from wallet.net import Http

    if did_method is DidMethod.web:
        for value, option in ((service, "--service"), (name, "--name"), (token, "--token")):
            if not value:
                raise typer.BadParameter(
                    "is required with --did-method web (the token may come from "
                    "DBP_OPERATOR_TOKEN)",
                    param_hint=option,
                )
    wctx = wallet_context(ctx)
    with plain_errors():
        existing = Store(wctx.directory, "")
        if existing.exists():
            store, data = wctx.load()
            if data.identity and not force:
                raise IdentityExists(
                    f"the wallet already has the identity {data.identity['did']}; --force "
                    "replaces it and its key for good"
                )
        else:
            store, data = wctx.store(confirm=True), WalletData()
        key = identity.new_key()
        if did_method is DidMethod.key:
            new = identity.did_key_identity(key)
        else:
            with Http(insecure_http=insecure_http) as http:
                new = identity.did_web_identity(key, http, service=service, name=name, token=token)
        data.identity = new
        store.save(data)
    if as_json:
        emit_json({**identity.public_view(new), "walletDir": str(store.directory)})
        return
    out.print(f"wallet [bold]{escape(str(store.directory))}[/bold]")
    out.print(f"  DID                  {escape(new['did'])}")
    out.print(f"  verification method  {escape(new['verificationMethod'])}")


def _read(source: str) -> str:
    if source == "-":
        return sys.stdin.read()
    try:
        return Path(source).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput(f"{source}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{source}: cannot be read ({exc})") from None


@app.command("import")
def import_(
    ctx: typer.Context,
    sources: list[str] = typer.Argument(
        ...,
        metavar="FILE...|-",
        help="Files holding a credential, a JSON array of them, a VC-API answer, a presentation "
        "or a compact vc+jwt; - reads stdin (then the passphrase must come from "
        "DBP_WALLET_PASSPHRASE).",
    ),
    verify: bool = typer.Option(
        False,
        "--verify",
        help="Verify each credential first (proof, issuer DID, validity, status list); "
        "any failure imports nothing.",
    ),
    insecure_http: bool = typer.Option(
        False, "--insecure-http", help="With --verify: allow plain HTTP to other hosts."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Store credentials in the wallet.

    Duplicates are reported, not stored twice. A file that cannot be read (or, with --verify, a
    credential that does not verify) imports nothing at all."""
    from rich.progress import Progress

    from vocab.datetimes import format_datetime, utcnow
    from wallet import credentials as creds

    wctx = wallet_context(ctx)
    if "-" in sources and os.environ.get(PASSPHRASE_ENV) is None:
        fail(f"reading credentials from stdin needs the passphrase in {PASSPHRASE_ENV}")
    with plain_errors():
        store, data = wctx.load()
        found: list[tuple[str, dict]] = []
        with Progress(console=err, transient=True, disable=len(sources) < 2) as progress:
            task = progress.add_task("reading", total=len(sources))
            for source in sources:
                where = "stdin" if source == "-" else source
                found.extend((where, doc) for doc in creds.parse_input(_read(source), where))
                progress.advance(task)
        if verify:
            _verify_all(found, insecure_http)
        known = {entry["id"] for entry in data.credentials}
        imported, duplicates = [], []
        now = format_datetime(utcnow())
        for _where, document in found:
            ref = creds.reference(document)
            if ref in known:
                duplicates.append(ref)
                continue
            known.add(ref)
            data.credentials.append(
                {
                    "id": ref,
                    "format": creds.credential_format(document),
                    "credential": document,
                    "addedAt": now,
                }
            )
            imported.append(ref)
        if imported:
            store.save(data)
    if as_json:
        emit_json({"imported": imported, "duplicates": duplicates})
        return
    out.print(f"imported {len(imported)} credential(s)")
    for ref in duplicates:
        out.print(f"  already in the wallet, not stored again: {escape(ref)}")


def _verify_all(found: list[tuple[str, dict]], insecure_http: bool) -> None:
    from rich.progress import Progress

    from wallet.dids import Resolver
    from wallet.net import Http
    from wallet.verify import fetch_status_list, verify_credential

    with Http(insecure_http=insecure_http) as http:
        resolver, fetch = Resolver(http), fetch_status_list(http)
        with Progress(console=err, transient=True, disable=len(found) < 2) as progress:
            task = progress.add_task("verifying", total=len(found))
            for where, document in found:
                verdict = verify_credential(document, resolver, fetch)
                failure = verdict.first_failure
                if failure is not None:
                    raise BadInput(
                        f"{where}: the credential does not verify ({failure.name}: "
                        f"{failure.detail}); nothing was imported"
                    )
                progress.advance(task)


@app.command("list")
def list_(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """List the stored credentials."""
    from wallet import credentials as creds

    with plain_errors():
        _, data = wallet_context(ctx).load()
        summaries = [creds.summary(e) for e in data.credentials]
    if as_json:
        emit_json([s.as_json() for s in summaries])
        return
    if not summaries:
        out.print("the wallet holds no credentials (`dbp wallet import FILE`)")
        return
    # fold, never truncate: an id cut short with "…" could not be passed to `show`
    table = Table(
        *(Column(h, overflow="fold") for h in ("id", "types", "issuer", "subject")),
        "valid from",
        "valid until",
    )
    for s in summaries:
        # dates only here (the full times are in `show` and --json): they must not be cut off
        dates = ((s.valid_from or "")[:10], (s.valid_until or "")[:10])
        cells = (s.id, ", ".join(s.types), s.issuer, s.subject, *dates)
        table.add_row(*(escape(str(c or "")) for c in cells))
    out.print(table)


@app.command()
def show(
    ctx: typer.Context,
    credential_id: str = typer.Argument(
        ..., metavar="ID", help="A credential's id, or enough of its start to be unique."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Show one stored credential."""
    from wallet import credentials as creds

    with plain_errors():
        _, data = wallet_context(ctx).load()
        entry = creds.find(data.credentials, credential_id)
        summary = creds.summary(entry)
        inner = creds.content(entry["credential"])
    if as_json:
        added = entry.get("addedAt")
        emit_json({**summary.as_json(), "addedAt": added, "credential": entry["credential"]})
        return
    for label, value in (
        ("id", summary.id),
        ("format", summary.format),
        ("types", ", ".join(summary.types)),
        ("issuer", summary.issuer),
        ("subject", summary.subject),
        ("valid from", summary.valid_from),
        ("valid until", summary.valid_until),
    ):
        out.print(f"[bold]{label:<12}[/bold] {escape(value or '-')}")
    out.print_json(json.dumps(inner, ensure_ascii=False))


@app.command()
def export(
    ctx: typer.Context,
    credential_ids: list[str] = typer.Argument(
        None, metavar="[ID...]", help="Credentials to export (default: all)."
    ),
    out_file: Path = typer.Option(None, "--out", help="Write to this file instead of stdout."),
    did_document: bool = typer.Option(
        False, "--did-document", help="Export the wallet's DID document instead."
    ),
    insecure_http: bool = typer.Option(
        False, "--insecure-http", help="With --did-document: allow plain HTTP to its host."
    ),
) -> None:
    """Export credentials (a JSON array) or the wallet's DID document.

    The private key is never exported: it stays in the encrypted store."""
    from wallet import credentials as creds
    from wallet import identity
    from wallet.net import Http

    with plain_errors():
        _, data = wallet_context(ctx).load()
        if did_document:
            if credential_ids:
                raise BadInput("--did-document exports the DID document only; drop the ids")
            with Http(insecure_http=insecure_http) as http:
                value: Any = identity.did_document(identity.require(data.identity), http)
        else:
            chosen = (
                [creds.find(data.credentials, c) for c in credential_ids]
                if credential_ids
                else data.credentials
            )
            value = [e["credential"] for e in chosen]
        _write(value, out_file)


def _write(value: Any, out_file: Path | None) -> None:
    text = json.dumps(value, indent=2, ensure_ascii=False) + "\n"
    if out_file is None:
        typer.echo(text, nl=False)
        return
    try:
        out_file.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"cannot write {out_file}: {exc.strerror}") from None
    err.print(f"wrote {escape(str(out_file))}")


@app.command()
def present(
    ctx: typer.Context,
    credential_ids: list[str] = typer.Argument(
        None,
        metavar="[ID...]",
        help="Credentials to include (none: a presentation that only proves the DID).",
    ),
    challenge: str = typer.Option(..., "--challenge", help="The verifier's challenge (nonce)."),
    domain: str = typer.Option(..., "--domain", help="The verifier's domain (audience)."),
    fmt: PresentationFormat = typer.Option(
        PresentationFormat.di,
        "--format",
        help="di: Data Integrity eddsa-rdfc-2022; vp+jwt: an enveloped VC-JOSE presentation.",
    ),
    out_file: Path = typer.Option(None, "--out", help="Write to this file instead of stdout."),
) -> None:
    """Sign a verifiable presentation over a verifier's challenge and domain.

    VC 2.0, holder = the wallet's DID, proof purpose authentication; Data Integrity
    eddsa-rdfc-2022 or an enveloped vp+jwt (nonce, aud)."""
    from wallet import credentials as creds
    from wallet import identity
    from wallet.presenting import presentation

    with plain_errors():
        _, data = wallet_context(ctx).load()
        holder = identity.require(data.identity)
        chosen = [creds.find(data.credentials, c) for c in credential_ids or []]
        vp = presentation(
            holder,
            [e["credential"] for e in chosen],
            challenge=challenge,
            domain=domain,
            fmt=fmt.value,
        )
        _write(vp, out_file)


@app.command()
def request(
    ctx: typer.Context,
    uri: str = typer.Argument(
        ..., metavar="QR-URI", help="The battery's QR link (GS1 Digital Link item URI)."
    ),
    tiers: list[str] = typer.Option(
        None,
        "--tiers",
        "--tier",
        help="Ask only for these tiers: public, legitimate-interest, "
        "legitimate-interest+commission, authorities (repeat the option).",
    ),
    credential_ids: list[str] = typer.Option(
        None,
        "--credential",
        help="Present these credentials (default: every role credential about this wallet's "
        "DID and every grant to it naming this battery).",
    ),
    insecure_http: bool = typer.Option(
        False, "--insecure-http", help="Allow plain HTTP to hosts other than this machine."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Read a battery's restricted passport data with the wallet's role credential or grant.

    Follows the QR link to the instance holding the battery, presents over a fresh challenge,
    verifies every released credential here (proof, issuer DID, validity, status list) and
    prints them per tier. Exit 1 when the service refuses or a credential fails verification."""
    from wallet import identity, requesting
    from wallet.net import Http

    with plain_errors():
        _, data = wallet_context(ctx).load()
        holder = identity.require(data.identity)
        with Http(insecure_http=insecure_http) as http:
            outcome = requesting.request(
                uri,
                holder,
                data.credentials,
                http,
                tiers=tiers or (),
                chosen=credential_ids or (),
            )
    if as_json:
        emit_json(requesting.as_json(outcome))
    else:
        _print_outcome(outcome)
    failed = [r for r in outcome.released if not r.verdict.verified]
    if failed:
        fail(f"{len(failed)} of {len(outcome.released)} released credential(s) failed verification")


@app.command()
def login(
    ctx: typer.Context,
    url: str = typer.Argument(
        ..., metavar="URL", help="The login URL the authority portal's sign-in page shows."
    ),
    credential_ids: list[str] = typer.Option(
        None,
        "--credential",
        help="Present these credentials (default: every unexpired AuthorityCredential about "
        "this wallet's DID).",
    ),
    insecure_http: bool = typer.Option(
        False, "--insecure-http", help="Allow plain HTTP to hosts other than this machine."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Sign a browser in to a dbp authority portal with the wallet's AuthorityCredential.

    Reads the challenge behind the page's login URL, presents over it (Data Integrity
    eddsa-rdfc-2022, proof purpose authentication) and posts the presentation to the portal;
    the waiting browser is signed in once the service has verified it."""
    from wallet import identity
    from wallet import login as logins
    from wallet.net import Http

    with plain_errors():
        _, data = wallet_context(ctx).load()
        holder = identity.require(data.identity)
        with Http(insecure_http=insecure_http) as http:
            outcome = logins.login(url, holder, data.credentials, http, chosen=credential_ids or ())
    if as_json:
        emit_json(outcome)
    else:
        out.print(
            f"signed in as [bold]{escape(str(outcome['authority']))}[/bold] "
            f"({escape(', '.join(outcome['readers']))}); the browser continues by itself"
        )


def _print_outcome(outcome: Any) -> None:
    from wallet import requesting

    out.print(f"battery  [bold]{escape(outcome.battery)}[/bold]")
    out.print(f"tiers    {escape(', '.join(outcome.tiers))}  (as {escape(outcome.requester)})")
    for released in outcome.released:
        credential_id = released.credential.get("id") or "(no id)"
        title = f"{released.tier or 'unknown tier'}: {credential_id}"
        verdict = released.verdict
        if not verdict.verified:
            failure = verdict.first_failure
            out.print(f"\n[bold]{escape(title)}[/bold]")
            detail = f"{failure.name}: {failure.detail}" if failure else "no checks ran"
            out.print(f"[red]NOT VERIFIED[/red] ({escape(detail)}); its data is not shown")
            continue
        table = Table(
            Column("attribute", overflow="fold"),
            Column("value", overflow="fold"),
            "unit",
            title=escape(title),
            title_justify="left",
        )
        for row in requesting.attributes(released.credential.get("credentialSubject")):
            value = row["value"]
            shown = json.dumps(value) if isinstance(value, bool) or value is None else str(value)
            table.add_row(escape(row["attribute"]), escape(shown), escape(str(row["unit"] or "")))
        out.print()
        out.print(table)
        passed = [c.name for c in verdict.checks if c.status == "passed"]
        out.print(f"[green]verified[/green]: {', '.join(passed)}")
    _print_latest(outcome)


def _print_latest(outcome: Any) -> None:
    """The newest reading of each dynamic attribute, with its time and source credential."""
    from wallet import dynamic

    rows = outcome.latest()
    if not rows:
        return
    table = Table(
        Column("attribute", overflow="fold"),
        Column("value", overflow="fold"),
        "unit",
        Column("as of", overflow="fold"),
        Column("credential", overflow="fold"),
        title="latest dynamic data (Annex XIII point 4; older readings above are history)",
        title_justify="left",
    )
    for row in rows:
        table.add_row(
            escape(row.name),
            escape(dynamic.text(row.value)),
            escape(row.unit or ""),
            escape(row.at or ""),
            escape(row.credential or ""),
        )
    out.print()
    out.print(table)


# The battery hand-over commands (`transfer`, `accept`) live in their own module: operator actions
# authenticated by an instance's bearer token, not by the wallet's key.
handover_cli.register(app)
