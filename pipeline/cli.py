"""`dbp pipeline ...` and `dbp passport check`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

app = typer.Typer(
    help="The data pipeline: from the enterprise's systems to issued passports.",
    no_args_is_help=True,
)
quarantine_app = typer.Typer(help="Records that broke a rule.", no_args_is_help=True)
app.add_typer(quarantine_app, name="quarantine")
passport_app = typer.Typer(help="Passport documents.", no_args_is_help=True)

out = Console()
err = Console(stderr=True)

CONFIG_ARG = typer.Argument(..., help="The pipeline's YAML configuration.")
CONFIG_OPT = typer.Option(..., "--config", "-c", help="The pipeline's YAML configuration.")


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code)


def _config(path: Path):
    from pipeline.config import load
    from pipeline.errors import PipelineError

    try:
        return load(path)
    except PipelineError as exc:
        _fail(str(exc))


def _print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


@app.command("run")
def run_command(
    config_path: Path = CONFIG_ARG,
    service: str = typer.Option(
        None,
        "--service",
        envvar="DBP_SERVICE_URL",
        help="Base URL of the passport service to issue at; without it nothing is issued.",
    ),
    token: str = typer.Option(
        None, "--token", envvar="DBP_OPERATOR_TOKEN", help="The operator's bearer token."
    ),
    engine: str = typer.Option(None, "--engine", help="duckdb (default) or spark."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Stage the sources, validate, correlate, calculate, check and issue what changed (a rich
    progress bar per stage), then print a summary."""
    from pipeline.errors import PipelineError
    from pipeline.run import STAGES, RunOptions, run

    config = _config(config_path)
    if service and not token:
        _fail("--token (or DBP_OPERATOR_TOKEN) is needed with --service")
    if engine not in (None, "duckdb", "spark"):
        _fail(f"--engine must be duckdb or spark, not {engine!r}")
    columns = (TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=err, disable=as_json) as progress:
        tasks = {name: progress.add_task(name, total=None, start=False) for name in STAGES}

        def report(stage: str, advance: int, total: int | None) -> None:
            task = tasks[stage]
            if total is not None:
                progress.start_task(task)
                progress.update(task, total=total)
            if advance:
                progress.advance(task, advance)

        try:
            outcome = run(config, RunOptions(engine=engine, service=service, token=token), report)
        except PipelineError as exc:
            _fail(str(exc))
        for task in tasks.values():  # stages with nothing to do show as done
            current = progress.tasks[task]
            progress.update(task, total=current.total or 1, completed=current.total or 1)
    summary = outcome.summary()
    if as_json:
        _print_json(summary)
        return
    table = Table(title=f"pipeline {config.name}: run {outcome.run_id} ({outcome.engine})")
    table.add_column("")
    table.add_column("", justify="right")
    rows = [
        ("records read", outcome.records),
        ("records quarantined", f"{outcome.quarantined} (open entries: {outcome.quarantine_open})"),
        ("conflicts", len(outcome.conflicts)),
        ("calculated values", outcome.calculations),
        ("batteries", len(outcome.batteries)),
        ("complete / incomplete", f"{len(outcome.complete)} / {len(outcome.incomplete)}"),
        ("passports issued", outcome.issued if service else "- (no --service)"),
        ("passport versions (static changes)", outcome.versions),
        ("event credentials (dynamic changes)",
         f"{outcome.status_events + outcome.condition_events} (status {outcome.status_events}, "
         f"condition {outcome.condition_events})"),
        ("unchanged", outcome.unchanged),
        ("failed", len(outcome.failed)),
        ("lineage", outcome.lineage_file),
        ("processed data (Parquet)", outcome.output),
    ]  # fmt: skip
    for name, value in rows:
        table.add_row(name, str(value))
    out.print(table)
    for conflict in outcome.conflicts[:20]:
        out.print(
            f"conflict {conflict['level']} {conflict['gtin']} {conflict['batch']}"
            f"{conflict['serial']} {conflict['path']}: "
            + ", ".join(f"{c['source']}={json.dumps(c['value'])}" for c in conflict["candidates"])
            + f" -> {conflict['winner']['source']} (rule {conflict['rule']})",
            highlight=False,
        )
    for change in outcome.changes[:20]:
        out.print(f"changed {change['gtin']} {change['serial']}: {change['change']} data -> "
                  f"{change['issues']}", highlight=False)  # fmt: skip
    if outcome.failed:
        for failure in outcome.failed[:20]:
            err.print(f"failed: {json.dumps(failure)}", highlight=False)
        raise typer.Exit(1)


@app.command("report")
def report_command(
    config_path: Path = CONFIG_ARG,
    incomplete: bool = typer.Option(False, "--incomplete", help="Only batteries not complete."),
    as_json: bool = typer.Option(False, "--json", help="The report as JSON."),
) -> None:
    """The last run's conformance report per battery: what is missing before a passport can be
    issued (Annex XIII per category)."""
    config = _config(config_path)
    path = config.state_dir / "conformance.json"
    if not path.exists():
        _fail(f"no run yet: {path} does not exist")
    rows = orjson.loads(path.read_bytes())
    if incomplete:
        rows = [r for r in rows if not r["complete"]]
    if as_json:
        _print_json(rows)
        return
    table = Table(title=f"conformance ({len(rows)} batteries)")
    for name in ("gtin", "serial", "batch", "complete", "missing / errors"):
        table.add_column(name)
    for r in rows[:500]:
        problems = [f"{m['attribute']} {m['path']}" for m in r["missing"]]
        problems += [f"{e['path']}: {e['rule']}" for e in r["errors"] if e["check"] != "mandatory"]
        table.add_row(r["gtin"], r["serial"], r["batch"], "yes" if r["complete"] else "no",
                      "; ".join(problems))  # fmt: skip
    out.print(table)


@app.command("lineage")
def lineage_command(
    item_uri: str = typer.Argument(..., help="The battery's GS1 Digital Link item URI."),
    attribute: str = typer.Argument(
        ..., help="A catalogue attribute number (19) or a passport path (carbonFootprint...)."
    ),
    config_path: Path = CONFIG_OPT,
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Where a value came from: source, file or request, row, run, transformation."""
    from pipeline.lineage import explain
    from pipeline.state import State
    from vocab.errors import VocabError

    config = _config(config_path)
    state = State(config.state_dir)
    try:
        answer = explain(state, item_uri, attribute)
    except VocabError as exc:
        _fail(str(exc))
    finally:
        state.close()
    if as_json:
        _print_json(answer)
        return
    if not answer["found"]:
        _fail(f"no lineage for {attribute} of {item_uri}: {answer.get('reason', 'no such value')}")
    for value in answer["values"]:
        out.print(f"[bold]{value['path']}[/bold] = {json.dumps(value.get('value'))}")
        out.print(f"  inherited from the {value['inheritedFrom']} level; run {value['run']}")
        if value.get("calculation"):
            out.print(f"  calculation {value['calculation']} ({value['methodology']}) from:")
            for i in value["inputs"]:
                label = f"{i.get('input', i['field'])}" + (
                    f"[{i['qualifier']}]" if i.get("qualifier") else ""
                )
                # markup=False: qualifiers such as [mainProductProduction] are data, not styles
                out.print(
                    f"    {label}: source {i['source']}, {i['origin']} row {i['row']} "
                    f"field {i['field']} (staged {i['staged']})",
                    highlight=False, markup=False, soft_wrap=True,
                )  # fmt: skip
        else:
            out.print(
                f"  source {value['source']}: {value['origin']} row {value['row']} field "
                f"{value['field']} (staged {value['staged']})",
                highlight=False, markup=False, soft_wrap=True,
            )  # fmt: skip
            out.print(f"  {value['transformation']}", highlight=False, markup=False, soft_wrap=True)


@quarantine_app.command("list")
def quarantine_list(
    config_path: Path = CONFIG_ARG,
    all_states: bool = typer.Option(False, "--all", help="Resolved and overridden too."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The quarantined records (open ones by default)."""
    from pipeline import quarantine
    from pipeline.state import State

    state = State(_config(config_path).state_dir)
    entries = quarantine.entries(state, all_states=all_states)
    state.close()
    if as_json:
        _print_json(entries)
        return
    table = Table(title=f"quarantine ({len(entries)})")
    for name in ("id", "state", "source", "row", "field", "path", "rule", "message"):
        table.add_column(name)
    for e in entries:
        table.add_row(e["id"], e["state"], e["source"], str(e["row"]), e["field"], e["path"] or "",
                      e["rule"], e["message"])  # fmt: skip
    out.print(table)


@quarantine_app.command("show")
def quarantine_show(
    entry_id: str = typer.Argument(...),
    config_path: Path = CONFIG_OPT,
    as_json: bool = typer.Option(True, "--json", help="JSON (the only form; for symmetry)."),
) -> None:
    """One entry with its whole record (JSON)."""
    from pipeline import quarantine
    from pipeline.errors import PipelineError
    from pipeline.state import State

    state = State(_config(config_path).state_dir)
    try:
        _print_json(quarantine.entry(state, entry_id))
    except PipelineError as exc:
        _fail(str(exc))
    finally:
        state.close()


def _operator_did(service: str | None, token: str | None) -> str:
    """The DID of the operator `token` belongs to, as the service knows it: who a retry is
    audited as (the token proves it; a name typed on the command line would not)."""
    from pipeline.errors import PipelineError
    from pipeline.issuance import ServiceClient

    if not service or not token:
        _fail(
            "--service and --token (or DBP_SERVICE_URL and DBP_OPERATOR_TOKEN) are needed: a retry "
            "is recorded with the DID of the operator it is made as"
        )
    client = ServiceClient(service, token, timeout_s=30.0)
    try:
        did = client.operator().get("did")
    except PipelineError as exc:
        _fail(f"cannot tell which operator the token belongs to: {exc}")
    finally:
        client.close()
    if not isinstance(did, str) or not did:
        _fail(f"{service}/operators/me did not name the operator's DID")
    return did


@quarantine_app.command("retry")
def quarantine_retry(
    entry_id: str = typer.Argument(...),
    config_path: Path = CONFIG_OPT,
    value: str = typer.Option(None, "--value", help="The corrected value of the field (JSON)."),
    override: bool = typer.Option(False, "--override", help="Accept the record as it is."),
    reason: str = typer.Option(None, "--reason", help="Why (kept with the entry)."),
    service: str = typer.Option(
        None,
        "--service",
        envvar="DBP_SERVICE_URL",
        help="Base URL of the passport service: the operator the retry is made as is asked there.",
    ),
    token: str = typer.Option(
        None, "--token", envvar="DBP_OPERATOR_TOKEN", help="The operator's bearer token."
    ),
) -> None:
    """Reprocess a record at the next run: fixed (--value), overridden (--override), or as it is
    (after a configuration change). The retry is audited (`quarantine_fixes`, channel `cli`)
    with the DID of the operator whose token is given (GET /operators/me at --service)."""
    from pipeline import quarantine
    from pipeline.errors import PipelineError
    from pipeline.state import State
    from vocab.datetimes import format_datetime, utcnow

    if value is not None and override:
        _fail("give --value or --override, not both")
    if override and not reason:
        _fail("--override needs a --reason")
    parsed = None
    if value is not None:
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value  # a plain string
    config = _config(config_path)
    actor = _operator_did(service, token)
    state = State(config.state_dir)
    try:
        entry = quarantine.retry(state, entry_id, format_datetime(utcnow()), actor=actor,
                                 value=parsed, override=override, reason=reason)  # fmt: skip
    except PipelineError as exc:
        _fail(str(exc))
    finally:
        state.close()
    out.print(f"{entry['id']}: {entry['state']}; the next run reprocesses {entry['source']} row "
              f"{entry['row']}", highlight=False)  # fmt: skip


@passport_app.command("check")
def passport_check(
    file: Path = typer.Argument(
        ..., help="A passport, tier credential(s) or a presentation (JSON; - for stdin)."
    ),  # fmt: skip
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Check any passport (including one issued elsewhere): schema, mandatory attributes per
    category, units, consistency, regulation rules. Exit 1 when it does not conform."""
    from pipeline.conformance import check
    from pipeline.errors import PipelineError

    try:
        raw = sys.stdin.buffer.read() if str(file) == "-" else file.read_bytes()
        document = orjson.loads(raw)
    except OSError as exc:
        _fail(f"cannot read {file}: {exc}")
    except orjson.JSONDecodeError as exc:
        _fail(f"{file} is not JSON: {exc}")
    try:
        report = check(document)
    except PipelineError as exc:
        _fail(str(exc))
    if as_json:
        _print_json(report)
    else:
        verdict = "[green]conforms[/green]" if report["conforms"] else "[red]does not conform[/red]"
        out.print(f"{file}: {verdict} ({report['batteryCategory']}; tiers {report['tiers']})")
        for name, result in report["checks"].items():
            out.print(f"  {name}: {result}")
        for e in report["errors"]:
            out.print(f"  [red]{e['check']}[/red] {e['path']}: {e['message']} ({e['rule']})",
                      highlight=False)  # fmt: skip
        for w in report["warnings"]:
            out.print(f"  [yellow]warning[/yellow] {w['path']}: {w['message']}", highlight=False)
        if report["notShown"]:
            out.print(f"  not shown (tiers not given): {len(report['notShown'])} attributes")
    if not report["conforms"]:
        raise typer.Exit(1)
