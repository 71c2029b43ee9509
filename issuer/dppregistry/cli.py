"""`dbp registry ...`: the EU DPP registry sync's state, a sync run, one battery's entries, and
operators' registry profiles."""

from __future__ import annotations

import json
import re
import signal
import threading
from typing import TYPE_CHECKING, Protocol

import typer
from rich.console import Console

from infra.cli import CliServices, cli_services

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from issuer.dppregistry.sync import RegistrySync

app = typer.Typer(
    help="EU DPP registry (Art 77(10)): status, sync, entries of a battery, operator profiles.",
    no_args_is_help=True,
)
err = Console(stderr=True)
out = Console(highlight=False)


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code)


class _Services(CliServices, Protocol):
    """What `dbp registry` takes from `dbp`: the settings, an engine, and the sync on it."""

    def registry_sync(self, engine: Engine) -> RegistrySync | None: ...


def _services(ctx: typer.Context) -> _Services:
    return cli_services(ctx)


def _context(ctx: typer.Context):
    services = _services(ctx)
    return services.settings(), services.engine()


@app.command()
def status(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Entries per state, and where they go."""
    from sqlmodel import Session, func, select

    from issuer.dppregistry import outbox
    from issuer.dppregistry.tables import RegistryEntry
    from vocab.datetimes import utcnow

    settings, engine = _context(ctx)
    with Session(engine) as session:
        counts = outbox.counts(session)
        due = session.exec(
            select(func.count()).where(
                RegistryEntry.state == outbox.PENDING, RegistryEntry.next_attempt_at <= utcnow()
            )
        ).one()
    result = {
        "registry": settings.registry_url,
        "backupURL": settings.backup_url,
        "entries": counts,
        "dueNow": due,
    }
    if as_json:
        typer.echo(json.dumps(result))
        return
    out.print(f"registry   {settings.registry_url or '(not configured: DBP_REGISTRY_URL)'}")
    out.print(f"backup URL {settings.backup_url or '(not configured: DBP_BACKUP_URL)'}")
    for state, n in counts.items():
        out.print(f"  {state:<11} {n}")
    out.print(f"  due now     {due}")
    if counts[outbox.REFUSED] or counts[outbox.INCOMPLETE]:
        out.print(
            "[yellow]Refused or incomplete entries: `dbp registry show ...` says why.[/yellow]"
        )


@app.command()
def sync(
    ctx: typer.Context,
    retry_refused: bool = typer.Option(
        False, "--retry-refused", help="Send refused and incomplete entries again first."
    ),
    follow: bool = typer.Option(
        False, "--follow", help="Keep running (until SIGINT/SIGTERM), as the service's thread does."
    ),
) -> None:
    """Send the due entries to the registry now."""
    from sqlmodel import Session

    from issuer.dppregistry import outbox

    settings, engine = _context(ctx)
    runner = _services(ctx).registry_sync(engine)
    if runner is None:
        _fail("no registry configured: set DBP_REGISTRY_URL")
    assert runner is not None
    if retry_refused:
        with Session(engine) as session:
            n = outbox.retry_refused(session)
            session.commit()
        out.print(f"{n} refused or incomplete entries queued again")
    stop = threading.Event()

    def handler(_signum, _frame):
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    total = 0
    try:
        while not stop.is_set():
            total += runner.run_until_idle(stop)
            if not follow:
                break
            stop.wait(settings.registry_poll_s)
    finally:
        runner.stop()
    with Session(engine) as session:
        counts = outbox.counts(session)
    out.print(
        f"{total} entries settled; registered {counts['registered']}, pending "
        f"{counts['pending']}, refused {counts['refused']}, incomplete {counts['incomplete']}"
    )


@app.command()
def show(
    ctx: typer.Context,
    battery: str = typer.Argument(..., help="Battery id, item URI (the QR's URL) or a UPI."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """A battery's registry entries (item, and its model and batch), with the registry's answer."""
    from sqlmodel import Session, select

    from issuer.dppregistry import outbox
    from issuer.dppregistry.tables import RegistryEntry
    from issuer.tables import Battery

    _settings, engine = _context(ctx)
    with Session(engine) as session:
        found = (
            session.get(Battery, battery)
            or session.exec(select(Battery).where(Battery.item_uri == battery)).first()
        )
        if found is not None:
            entries = outbox.entries_of_battery(session, found)
        else:
            entries = list(session.exec(select(RegistryEntry).where(RegistryEntry.upi == battery)))
        if not entries:
            _fail(f"no registry entry for {battery!r} (no battery or UPI by that name)")
        rows = [outbox.describe(e) for e in entries]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    for row in rows:
        out.print(f"[bold]{row['level']}[/bold] {row['upi']}")
        out.print(
            f"  state        {row['state']}" + ("  (deactivated)" if row["deactivated"] else "")
        )
        if row["registryId"]:
            out.print(f"  registry id  {row['registryId']}")
            out.print(f"  proof until  {row['proofValidUntil']}")
        if row["state"] == "pending":
            out.print(f"  next attempt {row['nextAttemptAt']} (failed attempts: {row['attempts']})")
        if row["lastError"]:
            out.print(f"  [yellow]{row['lastError']}[/yellow]")


_REO_ID = re.compile(r"^[A-Za-z0-9]{1,50}$")


@app.command()
def profile(
    ctx: typer.Context,
    operator: str = typer.Argument(..., help="The operator's name."),
    reo_id: str = typer.Option(
        None, "--reo-id", help="Its LEI (20 characters) or EORI number in the registry."
    ),
    commodity_code: str = typer.Option(
        None, "--commodity-code", help="HS/TARIC code (4-10 digits) of its batteries."
    ),
    facility: list[str] = typer.Option(
        None, "--facility", help="A facility id (GLN); repeat for several."
    ),
    model_and_batch: bool = typer.Option(
        None,
        "--model-and-batch/--items-only",
        help="Also register the battery models and batches the items link up to.",
    ),
) -> None:
    """Show or set an operator's registry profile; a change sends its entries again."""
    from sqlmodel import Session, select

    from issuer.dppregistry import outbox
    from issuer.dppregistry.tables import RegistryProfile
    from issuer.tables import Operator
    from vocab.datetimes import utcnow

    _settings, engine = _context(ctx)
    with Session(engine) as session:
        op = session.exec(select(Operator).where(Operator.name == operator)).first()
        if op is None:
            _fail(f"no operator named {operator!r} (see `dbp operator list`)")
        assert op is not None
        current = session.get(RegistryProfile, op.id)
        changing = any(v is not None for v in (reo_id, commodity_code, facility, model_and_batch))
        if changing:
            if reo_id is not None and not _REO_ID.fullmatch(reo_id):
                _fail("--reo-id must be 1-50 letters and digits (an LEI or an EORI number)")
            if commodity_code is not None and not re.fullmatch(r"[0-9]{4,10}", commodity_code):
                _fail("--commodity-code must be 4 to 10 digits (HS/TARIC)")
            if current is None:
                if reo_id is None:
                    _fail("a new profile needs --reo-id")
                current = RegistryProfile(operator_id=op.id, reo_id=reo_id)
            if reo_id is not None:
                current.reo_id = reo_id
            if commodity_code is not None:
                current.commodity_code = commodity_code
            if facility:
                current.facilities = list(facility)
            if model_and_batch is not None:
                current.model_and_batch = model_and_batch
            current.updated_at = utcnow()
            session.add(current)
            requeued = outbox.requeue_operator(session, op.id)
            session.commit()
            out.print(f"profile saved; {requeued} entries queued again")
        if current is None:
            _fail(f"operator {operator!r} has no registry profile yet (give --reo-id)")
        assert current is not None
        out.print(f"operator        {op.name}")
        out.print(f"reoId           {current.reo_id}")
        out.print(f"commodity code  {current.commodity_code or '(DBP_REGISTRY_COMMODITY_CODE)'}")
        out.print(f"facilities      {', '.join(current.facilities or []) or '(none)'}")
        out.print(f"model and batch {'yes' if current.model_and_batch else 'no (items only)'}")
