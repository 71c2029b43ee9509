"""`dbp grant issue|list|revoke`: an operator grants a named party access to tiers of its
batteries until a date, lists its grants, and withdraws one (issuer.grants)."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from infra.cli import CliServices, cli_services

app = typer.Typer(
    help="Access grants: let a named party read tiers of your batteries until a date.",
    no_args_is_help=True,
)
err = Console(stderr=True)


def _fail(message: str) -> None:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(1)


@contextmanager
def _operator_session(ctx: typer.Context, name: str):
    """A committed-on-success session, the operator named `name`, and the issuer's config."""
    from infra.db import session_scope
    from issuer import operators
    from issuer.config import IssuerConfig
    from issuer.errors import IssuerError

    services: CliServices = cli_services(ctx)
    settings = services.settings()
    engine = services.engine()
    config = IssuerConfig(
        public_url=settings.public_url,
        did_web_base=settings.did_web_base,
        master_key=settings.load_keystore(),
    )
    try:
        with session_scope(engine) as session:
            yield session, operators.by_name(session, name), config
    except IssuerError as exc:
        _fail(str(exc))
    finally:
        engine.dispose()


@app.command("issue")
def grant_issue(
    ctx: typer.Context,
    operator: str = typer.Option(..., help="The operator granting access (its name)."),
    grantee: str = typer.Option(..., help="The DID of the party granted access."),
    battery: list[str] = typer.Option(
        ..., help="A battery id or GS1 Digital Link URI of yours (repeat for several)."
    ),
    tier: list[str] = typer.Option(
        ...,
        help="legitimate-interest, legitimate-interest+commission or authorities (repeat).",
    ),
    until: str = typer.Option(..., help="Expiry, e.g. 2027-12-31T23:59:59Z."),
    out: Path | None = typer.Option(None, help="Write the credential here instead of stdout."),
) -> None:
    """Sign an AccessGrantCredential; give it to the grantee, who presents it at /access."""
    from issuer import credentials, grants

    body = {"grantee": grantee, "batteries": battery, "tiers": tier, "expiry": until}
    with _operator_session(ctx, operator) as (session, op, config):
        subject = grants.grant_subject(session, op, body)
        signed = grants.sign_grant(
            session,
            config,
            op,
            config.master_key,
            grants.grant_credential(op.did, subject),
            credentials.IssueOptions(),
        )
    text = json.dumps(signed, indent=2)
    if out:
        out.write_text(text + "\n")
        err.print(f"grant {signed['id']} written to {out}", highlight=False)
    else:
        typer.echo(text)


@app.command("list")
def grant_list(
    ctx: typer.Context,
    operator: str = typer.Option(..., help="The operator whose grants are listed."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """The operator's grants with their state: active, expired, suspended or revoked."""
    from issuer import grants

    with _operator_session(ctx, operator) as (session, op, _):
        rows = [g.as_json() for g in grants.list_grants(session, op)]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    if not rows:
        typer.echo(f"operator {operator} has issued no grants")
        return
    table = Table("id", "grantee", "tiers", "batteries", "expiry", "state")
    for row in rows:
        table.add_row(
            row["id"],
            row["grantee"],
            ", ".join(row["tiers"]),
            "\n".join(row["batteries"]),
            row["expiry"],
            row["state"],
        )
    Console(width=200).print(table)


@app.command("revoke")
def grant_revoke(
    ctx: typer.Context,
    grant_id: str = typer.Argument(..., help="The grant's id (urn:uuid:...)."),
    operator: str = typer.Option(..., help="The operator that issued the grant."),
    suspend: bool = typer.Option(False, "--suspend", help="Suspend it instead (reversible)."),
    reinstate: bool = typer.Option(False, "--reinstate", help="Lift a suspension."),
) -> None:
    """Revoke a grant (final): the verifier refuses it from the next /access request on."""
    from issuer import grants, statuslists
    from vocab import bitstring

    if suspend and reinstate:
        _fail("give at most one of --suspend, --reinstate")
    change, outcome = statuslists.StatusChange(bitstring.REVOCATION, True), "revoked"
    if suspend:
        change, outcome = statuslists.StatusChange(bitstring.SUSPENSION, True), "suspended"
    if reinstate:
        change, outcome = statuslists.StatusChange(bitstring.SUSPENSION, False), "reinstated"
    with _operator_session(ctx, operator) as (session, op, config):
        grants.change_grant_status(session, config, op, grant_id, change)
    typer.echo(f"{grant_id}: {outcome}")
