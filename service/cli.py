"""The `dbp` command."""

from __future__ import annotations

import json

import typer
from rich.console import Console

from anchor.cli import app as anchor_app
from verifier.cli import audit_app, trust_app

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
app.add_typer(operator_app, name="operator")
app.add_typer(audit_app, name="audit")
app.add_typer(trust_app, name="trust")
app.add_typer(anchor_app, name="anchor")

err = Console(stderr=True)


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
) -> None:
    """Run the HTTP service (OpenAPI docs at /docs)."""
    import uvicorn

    from service.settings import Settings

    settings = Settings()
    if demo:
        from service.demo import seed_demo

        seed_demo(settings)
    uvicorn.run(
        "service.asgi:app",
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        proxy_headers=True,
    )


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
    master_key = settings.load_master_key()
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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
