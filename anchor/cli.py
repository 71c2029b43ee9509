"""`dbp anchor ...`: run the worker and the listener, deploy the contract, import the key, status.

web3 costs about 1.5 s to import; every command imports what it needs inside its body.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading

import typer
from rich.console import Console

from infra.cli import CliServices, cli_services

app = typer.Typer(
    help="Integrity anchors on Ethereum: worker, event listener, contract, account.",
    no_args_is_help=True,
)
err = Console(stderr=True)


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code)


def _runtime(ctx: typer.Context):
    """The anchor runtime on the settings and the migrated engine `dbp` hands in."""
    from anchor.runtime import AnchorRuntime

    services: CliServices = cli_services(ctx)
    settings = services.settings()
    return AnchorRuntime(settings, services.engine(), settings.load_keystore())


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handler(_signum, _frame):
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@app.command()
def worker(
    ctx: typer.Context,
    once: bool = typer.Option(False, "--once", help="One pass, then exit (prints what it did)."),
    force: bool = typer.Option(
        False, "--force", help="Close a batch now, whatever its size and age."
    ),
    quiet: bool = typer.Option(False, "--quiet", help="Log warnings only."),
) -> None:
    """Close batches, send their roots, wait for confirmations, record the results."""
    from anchor.errors import AnchorError
    from anchor.worker import AnchorWorker

    _logging(not quiet)
    rt = _runtime(ctx)
    w = AnchorWorker(rt)
    try:
        if once:
            report = w.run_once(force=force)
            w.close()
            typer.echo(json.dumps(report.__dict__))
            return
        if force:
            w.close_batches(force=True)
        w.run(_stop_on_signals())
    except AnchorError as exc:
        _fail(str(exc))
    finally:
        rt.close()


@app.command()
def listen(
    ctx: typer.Context,
    once: bool = typer.Option(False, "--once", help="One poll, then exit (prints what it did)."),
    from_block: int | None = typer.Option(
        None, help="Where a new cursor starts (default: the contract's deployment block, else 0)."
    ),
    quiet: bool = typer.Option(False, "--quiet", help="Log warnings only."),
) -> None:
    """Follow Anchored events from the last processed block; mark batches confirmed; webhook."""
    from anchor.errors import AnchorError
    from anchor.listener import Listener

    _logging(not quiet)
    rt = _runtime(ctx)
    listener = Listener(rt, from_block=from_block)
    try:
        if once:
            report = listener.poll_once()
            listener.close()
            typer.echo(json.dumps(report.__dict__))
            return
        listener.run(_stop_on_signals())
    except AnchorError as exc:
        _fail(str(exc))
    finally:
        rt.close()


@app.command()
def status(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Queue and batch counts, the account, and the chain settings (does not contact the chain)."""
    from sqlalchemy import func
    from sqlmodel import Session, col, select

    from anchor import accounts
    from anchor.tables import AnchorBatch, AnchorChainEvent, AnchorCursor, AnchorLeaf
    from vocab.datetimes import format_datetime

    rt = _runtime(ctx)
    s = rt.settings
    with Session(rt.engine) as session:
        queued = session.exec(
            select(func.count()).select_from(AnchorLeaf).where(col(AnchorLeaf.batch_id).is_(None))
        ).one()
        leaves_total = session.exec(select(func.count()).select_from(AnchorLeaf)).one()
        by_state = dict(
            session.exec(select(AnchorBatch.state, func.count()).group_by(AnchorBatch.state)).all()
        )
        last = session.exec(select(AnchorBatch).order_by(col(AnchorBatch.id).desc())).first()
        account = accounts.active_account(session)
        cursors = {c.name: c.next_block for c in session.exec(select(AnchorCursor))}
        undelivered = session.exec(
            select(func.count())
            .select_from(AnchorChainEvent)
            .where(col(AnchorChainEvent.notified_at).is_(None))
        ).one()
    rt.close()
    out = {
        "backend": s.chain_backend,
        "rpcUrl": s.chain_rpc_url,
        "chainId": s.chain_id,
        "contract": s.anchor_contract,
        "account": account.address if account else None,
        "leaves": leaves_total,
        "queued": queued,
        "batches": by_state,
        "lastBatch": None
        if last is None
        else {
            "id": last.id,
            "state": last.state,
            "root": last.root,
            "leafCount": last.leaf_count,
            "closedAt": format_datetime(last.closed_at),
            "transaction": last.tx_hash,
            "block": last.block_number,
            "lastError": last.last_error,
        },
        "listenerCursors": cursors,
        "undeliveredWebhooks": undelivered if s.anchor_webhook_url else None,
    }
    if as_json:
        typer.echo(json.dumps(out))
        return
    console = Console()
    console.print(
        f"backend   {out['backend']}"
        + (f"  {s.chain_rpc_url} (chain {s.chain_id})" if s.chain_rpc_url else "")
    )
    console.print(f"contract  {out['contract'] or '(embedded: deployed by the service)'}")
    console.print(f"account   {out['account'] or '(none yet)'}")
    console.print(f"leaves    {leaves_total} ({queued} queued)")
    console.print(
        "batches   " + (", ".join(f"{k}: {v}" for k, v in sorted(by_state.items())) or "none")
    )
    if last is not None and last.last_error:
        console.print(
            f"[yellow]last error[/yellow] batch {last.id}: {last.last_error}", highlight=False
        )


@app.command()
def deploy(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Deploy PassportAnchor with the anchoring account; prints its address."""
    from anchor.chain import RpcChain
    from anchor.errors import AnchorError

    rt = _runtime(ctx)
    s = rt.settings
    try:
        if s.chain_backend == "embedded":
            address, chain_id = rt.contract(), rt.chain().chain_id
        else:
            if not s.chain_rpc_url or s.chain_id is None:
                _fail("deploying needs DBP_CHAIN_RPC_URL and DBP_CHAIN_ID")
            chain = RpcChain(
                s.chain_rpc_url, expected_chain_id=s.chain_id, timeout_s=s.anchor_rpc_timeout_s
            )
            address, chain_id = deploy_contract(rt, chain), chain.chain_id
    except AnchorError as exc:
        _fail(str(exc))
    finally:
        rt.close()
    if as_json:
        typer.echo(json.dumps({"contract": address, "chainId": chain_id}))
    else:
        typer.echo(f"PassportAnchor on chain {chain_id}: {address}")
        typer.echo(f"set DBP_ANCHOR_CONTRACT={address}")


def deploy_contract(rt, chain) -> str:
    """Deploy with the active account, recording the transaction first like every other one."""
    from sqlmodel import Session

    from anchor.runtime import record_deployment

    with Session(rt.engine, expire_on_commit=False) as session:
        row = record_deployment(
            session, rt.signer(), chain, chain.fees(rt.config.max_fee_wei), timeout_s=600
        )
    return row.contract


@app.command("import-key")
def import_key(ctx: typer.Context) -> None:
    """Store the anchoring account's private key (hex, from stdin) sealed; it becomes active."""
    from anchor import accounts
    from anchor.errors import AnchorError
    from infra.db import session_scope

    if sys.stdin.isatty():
        text = typer.prompt("private key (hex)", hide_input=True)
    else:
        text = sys.stdin.readline()
    rt = _runtime(ctx)
    try:
        key = accounts.parse_private_key(text)
        with session_scope(rt.engine) as session:
            account = accounts.store_key(session, rt.master_key, key)
            address = account.address
    except AnchorError as exc:
        _fail(str(exc))
    finally:
        rt.close()
    typer.echo(f"anchoring account {address} stored (sealed) and active")


@app.command()
def receipt(
    ctx: typer.Context,
    credential_id: str = typer.Argument(..., help="Credential id or leaf digest."),
) -> None:
    """Print the anchor receipt of a credential (what GET /anchors/{id} returns)."""
    from sqlmodel import Session

    from anchor import receipts

    rt = _runtime(ctx)
    with Session(rt.engine) as session:
        if len(credential_id.removeprefix("0x")) == 64:
            found = receipts.find(session, leaf="0x" + credential_id.removeprefix("0x").lower())
        else:
            found = receipts.find(session, credential_id=credential_id)
    rt.close()
    if found is None:
        _fail(f"no anchor is recorded for {credential_id!r}")
    typer.echo(json.dumps(receipts.build(*found), indent=2))
