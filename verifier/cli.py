"""`dbp audit …` and `dbp trust …`: checking the access log's chain, the trust registry, and
role credentials signed by this instance as a trust anchor."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from infra.cli import CliServices, cli_services

audit_app = typer.Typer(help="The access log: check its hash chain.", no_args_is_help=True)
trust_app = typer.Typer(
    help="The trust registry and role credentials this instance accredits.", no_args_is_help=True
)

err = Console(stderr=True)


def _services(ctx: typer.Context) -> CliServices:
    """The settings, engine and runtime `dbp` hands in (infra.cli)."""
    return cli_services(ctx)


@audit_app.command("verify")
def audit_verify(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
    head: str | None = typer.Option(
        None,
        "--head",
        help="ROW:HASH printed by an earlier run and kept elsewhere: the log must still hold "
        "that row with that hash (finds rows cut off the end).",
    ),
) -> None:
    """Recompute the access log's hash chain; exit 1 and name the first broken row if any."""
    from sqlmodel import Session

    from verifier.audit import verify_chain

    known = None
    if head is not None:
        seq, _, digest = head.partition(":")
        if not (seq.isdigit() and int(seq) > 0 and len(digest) == 64):
            err.print("[red]error:[/red] --head must be ROW:HASH (a row number, a SHA-256 hex)")
            raise typer.Exit(2)
        known = (int(seq), digest.lower())
    engine = _services(ctx).engine()
    with Session(engine) as session:
        report = verify_chain(session, known)
    engine.dispose()
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "ok": report.ok,
                    "rows": report.rows,
                    "brokenAt": report.broken_at,
                    "problem": report.problem,
                    "head": f"{report.rows}:{report.head}" if report.ok else None,
                }
            )
        )
    elif report.ok:
        typer.echo(
            f"OK: {report.rows} rows, the hash chain is intact; head {report.rows}:{report.head} "
            "(keep it elsewhere, check later with --head)"
        )
    else:
        err.print(
            f"[red]BROKEN[/red] at row {report.broken_at}: {report.problem} "
            f"(rows 1 to {report.rows} verified)",
            highlight=False,
        )
    if not report.ok:
        raise typer.Exit(1)


@trust_app.command("show")
def trust_show(ctx: typer.Context) -> None:
    """Print the trust registry in force (the file, or the defaults), with the anchors of its
    peer registries fetched now; each anchor says where it came from (`source`)."""
    import httpx

    from infra.fetch import FetchPolicy
    from verifier.peer_registries import PeerAnchors, http_fetcher
    from verifier.trust import RegistrySource, TrustRegistryInvalid

    settings = _services(ctx).settings()
    policy = FetchPolicy(
        settings.allowed_did_web_hosts, settings.did_web_timeout_s, settings.did_web_max_bytes
    )
    with httpx.Client(trust_env=False) as client:
        peers = PeerAnchors(http_fetcher(client, policy), settings.trust_peer_refresh_s)
        try:
            source = RegistrySource(settings.trust_registry, settings.did_web_base, peers.anchors)
            registry = source.current()
        except TrustRegistryInvalid as exc:
            err.print(f"[red]error:[/red] {exc}", highlight=False)
            raise typer.Exit(1) from None
    shown = registry.as_json()
    for anchor, entry in zip(registry.anchors, shown["trustAnchors"], strict=True):
        entry["source"] = f"peer registry {anchor.via}" if anchor.via else source.origin
    if registry.peers:
        shown["peerRegistries"] = peers.report(registry.peers)
    typer.echo(json.dumps(shown, indent=2))


@trust_app.command("accredit")
def trust_accredit(
    ctx: typer.Context,
    subject: str = typer.Option(..., help="The DID the role is accredited to."),
    role: list[str] = typer.Option(
        ...,
        help=(
            "recycling, repair, repurposing, remanufacturing, second-life, aggregation (repeat "
            "for several purposes), or one of notified-body, market-surveillance, commission."
        ),
    ),
    valid_days: int = typer.Option(365, help="Days until the credential expires."),
    name: str | None = typer.Option(None, help="The subject's name, stated in the credential."),
    jurisdiction: str | None = typer.Option(
        None, help="Authorities: ISO 3166-1 alpha-2 country code, or EU."
    ),
    out: Path | None = typer.Option(None, help="Write the credential here instead of stdout."),
) -> None:
    """Sign a role credential with this instance's key (this instance as a trust anchor)."""
    from infra.db import session_scope
    from verifier.accreditation import InvalidAccreditation, role_credential

    services = _services(ctx)
    settings = services.settings()
    rt = services.runtime()
    try:
        registry = rt.trust.current()
        if not registry.accredits(settings.did_web_base, role):
            err.print(
                f"[yellow]warning:[/yellow] the trust registry does not list "
                f"{settings.did_web_base} as an anchor for {', '.join(role)}; verifiers using it "
                "will refuse this credential",
                highlight=False,
            )
        try:
            credential = role_credential(
                issuer=settings.did_web_base,
                subject=subject,
                roles=role,
                valid_days=valid_days,
                name=name,
                jurisdiction=jurisdiction,
            )
        except InvalidAccreditation as exc:
            err.print(f"[red]error:[/red] {exc}", highlight=False)
            raise typer.Exit(1) from None
        with session_scope(rt.engine) as session:
            signed = rt.sign_as_instance(session, credential)
    finally:
        rt.close()
    text = json.dumps(signed, indent=2)
    if out:
        out.write_text(text + "\n")
        err.print(f"role credential {signed['id']} written to {out}", highlight=False)
    else:
        typer.echo(text)


@trust_app.command("status")
def trust_status(
    ctx: typer.Context,
    credential: str = typer.Option(..., help="The id of a role credential this instance signed."),
    revoke: bool = typer.Option(False, "--revoke", help="Revoke it (final)."),
    suspend: bool = typer.Option(False, "--suspend", help="Suspend it."),
    reinstate: bool = typer.Option(False, "--reinstate", help="Lift a suspension."),
) -> None:
    """Revoke, suspend or reinstate a role credential this instance accredited."""
    from infra.db import session_scope
    from verifier.errors import VerifierError

    changes = {
        "revoked": (revoke, "revocation", True),
        "suspended": (suspend, "suspension", True),
        "reinstated": (reinstate, "suspension", False),
    }
    chosen = [outcome for outcome, (on, _, _) in changes.items() if on]
    if len(chosen) != 1:
        err.print("[red]error:[/red] give exactly one of --revoke, --suspend, --reinstate")
        raise typer.Exit(2)
    _, purpose, value = changes[chosen[0]]
    rt = _services(ctx).runtime()
    try:
        with session_scope(rt.engine) as session:
            rt.change_instance_credential_status(session, credential, purpose, value)
    except VerifierError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None
    finally:
        rt.close()
    typer.echo(f"{credential}: {chosen[0]}")
