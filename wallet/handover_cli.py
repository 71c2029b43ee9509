"""`dbp wallet transfer` and `dbp wallet accept`: hand batteries over to another operator.

The current operator offers (its instance signs a BatteryTransferCredential); the new operator
accepts (its instance countersigns and completes the hand-over with the offering instance). Both
talk to their own dbp instance with their operator token. Messages go to standard error, data
(offers, `--json`) to standard output; any failure exits 1, a usage error 2."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from wallet import handover
from wallet.handover import HandoverError, Service

SERVICE_HELP = "Base URL of your dbp instance."
TOKEN_HELP = "Your operator bearer token on that instance."


def _service(url: str, token: str) -> Service:
    return Service(url, token)


def _stderr() -> Console:
    return Console(file=sys.stderr, highlight=False, soft_wrap=True)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


@contextmanager
def _progress(total: int, label: str, console: Console) -> Iterator[Callable[[str], None]]:
    """A progress bar for many items (nothing for one); the callable advances it."""
    if total < 2:
        yield lambda _item: None
        return
    columns = (
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[item]}"),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(label, total=total, item="")
        yield lambda item: progress.update(task, advance=1, item=item)


def _dump(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


def transfer(
    batteries: list[str] = typer.Argument(
        None,
        metavar="BATTERY",
        help="Battery ids to hand over (the last segment of the battery DID, as POST /batteries "
        "returned it).",
        show_default=False,
    ),
    to: str = typer.Option(
        ..., "--to", metavar="DID", help="DID of the operator taking the batteries over."
    ),
    endpoint: str | None = typer.Option(
        None,
        "--endpoint",
        metavar="URL",
        help="Base URL of the dbp instance of the new operator (default: your instance).",
    ),
    expires_in: str = typer.Option(
        "7d",
        "--expires-in",
        metavar="DURATION",
        help="How long the offer stays open: 30m, 12h, 7d, 2w.",
    ),
    out: str = typer.Option(
        "-",
        "--out",
        metavar="FILE|-",
        help="Where to write the signed offer(s): a file, or - for standard output. One battery "
        "gives one credential, several a JSON array.",
    ),
    from_file: str | None = typer.Option(
        None,
        "--from-file",
        metavar="FILE",
        help="Read battery ids from this file, one a line (- for stdin).",
    ),
    json_output: bool = typer.Option(
        False, "--json", help="Print {ok, results: [{battery, ok, transferId, ...}]} on stdout."
    ),
    service: str = typer.Option(
        ..., "--service", envvar="DBP_SERVICE_URL", metavar="URL", help=SERVICE_HELP
    ),
    token: str = typer.Option(
        ..., "--token", envvar="DBP_OPERATOR_TOKEN", metavar="TOKEN", help=TOKEN_HELP
    ),
) -> None:
    """Offer batteries to another operator: your instance signs one transfer offer per battery.

    Give each offer to the new operator, who runs `dbp wallet accept OFFER`. An offer expires unaccepted after --expires-in; only the operator responsible for a battery can offer it. Several batteries show a progress bar; the exit code is 1 if any offer failed.
    """  # noqa: E501 - help paragraphs are rewrapped by the terminal
    try:
        ttl = handover.parse_duration(expires_in)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--expires-in") from None
    ids = list(batteries or [])
    if from_file:
        try:
            ids += handover.read_batteries(from_file, sys.stdin)
        except HandoverError as exc:
            raise _fail(str(exc)) from None
    if not ids:
        raise typer.BadParameter(
            "name at least one BATTERY or use --from-file", param_hint="BATTERY"
        )
    console = _stderr()
    results: list[dict[str, Any]] = []
    with (
        _service(service, token).client() as client,
        _progress(len(ids), "Offering", console) as step,
    ):
        for battery in ids:
            try:
                answer = handover.offer(client, battery, to, endpoint=endpoint, ttl_seconds=ttl)
                results.append(
                    {
                        "battery": battery,
                        "ok": True,
                        "transferId": answer.get("transferId"),
                        "to": to,
                        "expires": answer.get("expires"),
                        "error": None,
                        "offer": answer.get("verifiableCredential"),
                    }
                )
            except HandoverError as exc:
                results.append(
                    {
                        "battery": battery,
                        "ok": False,
                        "transferId": None,
                        "to": to,
                        "expires": None,
                        "error": str(exc),
                        "offer": None,
                    }
                )
            step(battery)
    offers = [r["offer"] for r in results if r["ok"]]
    if out != "-" and offers:
        document = offers[0] if len(ids) == 1 else offers
        try:
            Path(out).write_text(_dump(document) + "\n", "utf-8")
        except OSError as exc:
            raise _fail(f"cannot write {out}: {exc.strerror}") from None
    if json_output:
        typer.echo(_dump({"ok": all(r["ok"] for r in results), "results": results}))
    elif out == "-" and offers:
        typer.echo(_dump(offers[0] if len(ids) == 1 else offers))
    _report_offers(results, out, len(ids))


def _report_offers(results: list[dict[str, Any]], out: str, total: int) -> None:
    failed = [r for r in results if not r["ok"]]
    for r in results:
        if r["ok"]:
            typer.echo(
                f"offered {r['battery']} to {r['to']} (transfer {r['transferId']}, "
                f"expires {r['expires']})",
                err=True,
            )
    if out != "-" and len(failed) < total:
        typer.echo(f"offer{'s' if total > 1 else ''} written to {out}", err=True)
    if failed:
        if total == 1:
            raise _fail(failed[0]["error"])
        for r in failed:
            typer.echo(f"error: battery {r['battery']}: {r['error']}", err=True)
        raise _fail(f"{len(failed)} of {total} offers failed")


def accept(
    offers: list[str] = typer.Argument(
        ...,
        metavar="OFFER",
        help="Files holding transfer offers (one credential or a JSON array); - reads stdin.",
        show_default=False,
    ),
    json_output: bool = typer.Option(
        False, "--json", help="Print {ok, results: [{battery, ok, itemUri, ...}]} on stdout."
    ),
    service: str = typer.Option(
        ..., "--service", envvar="DBP_SERVICE_URL", metavar="URL", help=SERVICE_HELP
    ),
    token: str = typer.Option(
        ..., "--token", envvar="DBP_OPERATOR_TOKEN", metavar="TOKEN", help=TOKEN_HELP
    ),
) -> None:
    """Accept transfer offers made to you: your instance countersigns each offer and completes the hand-over with the instance that made it.

    Afterwards you are responsible for the battery: its QR code resolves at your instance, and you issue its new passport (repurposed or remanufactured) with the old one as predecessor. Accepting the same offer again changes nothing.
    """  # noqa: E501 - help paragraphs are rewrapped by the terminal
    try:
        credentials = handover.read_offers(offers, sys.stdin)
    except HandoverError as exc:
        raise _fail(str(exc)) from None
    console = _stderr()
    results: list[dict[str, Any]] = []
    with (
        _service(service, token).client() as client,
        _progress(len(credentials), "Accepting", console) as step,
    ):
        for credential in credentials:
            subject = credential.get("credentialSubject", {})
            item = subject.get("battery") if isinstance(subject, dict) else None
            try:
                answer = handover.accept(client, credential)
                battery = answer.get("battery", {})
                results.append(
                    {
                        "offer": credential.get("id"),
                        "ok": True,
                        "transferId": answer.get("transferId"),
                        "battery": battery.get("id"),
                        "itemUri": battery.get("itemUri", item),
                        "passportId": battery.get("passportId"),
                        "predecessor": battery.get("predecessor", []),
                        "error": None,
                    }
                )
            except HandoverError as exc:
                results.append(
                    {
                        "offer": credential.get("id"),
                        "ok": False,
                        "transferId": None,
                        "battery": None,
                        "itemUri": item,
                        "passportId": None,
                        "predecessor": [],
                        "error": str(exc),
                    }
                )
            step(str(item or ""))
    if json_output:
        typer.echo(_dump({"ok": all(r["ok"] for r in results), "results": results}))
    failed = [r for r in results if not r["ok"]]
    for r in results:
        if r["ok"]:
            typer.echo(
                f"accepted {r['itemUri']}: you are responsible for battery {r['battery']} now; "
                f"its new passport follows {', '.join(r['predecessor']) or 'no passport'}",
                err=True,
            )
    if failed:
        if len(results) == 1:
            raise _fail(failed[0]["error"])
        for r in failed:
            typer.echo(f"error: offer {r['offer']}: {r['error']}", err=True)
        raise _fail(f"{len(failed)} of {len(results)} offers could not be accepted")


def register(app: typer.Typer) -> None:
    """Add the hand-over commands to the `dbp wallet` app."""
    app.command("transfer")(transfer)
    app.command("accept")(accept)
