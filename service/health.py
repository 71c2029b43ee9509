"""`GET /healthz` (the process answers; no I/O) and `GET /readyz` (the database, the chain and
the key store answer within DBP_READINESS_TIMEOUT_S), on every role. A load balancer sends
traffic to a copy only while it is ready; an orchestrator restarts a copy only when it is not
alive."""

from __future__ import annotations

import asyncio
from typing import Final

import httpx
import orjson
from fastapi import APIRouter, Depends
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from proofs.signer import KeystoreError, as_keystore
from service import problems
from service.deps import runtime
from service.runtime import Runtime

router = APIRouter(tags=["service"])

OK: Final = "ok"


@router.get("/healthz", summary="Liveness: the process answers (no I/O)")
def healthz() -> dict:
    return {"status": OK}


def _select_one(rt: Runtime) -> None:
    with rt.engine.connect() as conn:
        conn.execute(text("SELECT 1")).one()


async def database_state(rt: Runtime) -> str:
    timeout = rt.settings.readiness_timeout_s
    try:
        # The thread may outlive the time limit (a connect that hangs); the answer does not wait.
        await asyncio.wait_for(run_in_threadpool(_select_one, rt), timeout)
    except TimeoutError:
        return f"no answer within {timeout:g} s"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready; the reason is shown
        return f"unreachable ({exc.__class__.__name__}: {str(exc).splitlines()[0][:200]})"
    return OK


async def chain_state(rt: Runtime) -> str:
    """`eth_chainId` of the node, which must be DBP_CHAIN_ID; the embedded chain lives in this
    process and is always there."""
    s = rt.settings
    if s.chain_backend == "embedded":
        return OK
    if not s.chain_rpc_url:
        return "DBP_CHAIN_RPC_URL is not set"
    body = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
    try:
        async with httpx.AsyncClient(timeout=s.readiness_timeout_s) as client:
            answer = (await client.post(s.chain_rpc_url, json=body)).json()
        chain_id = int(answer["result"], 16)
    except httpx.TimeoutException:
        return f"no answer within {s.readiness_timeout_s:g} s"
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        return f"unreachable ({exc.__class__.__name__})"
    if s.chain_id is not None and chain_id != s.chain_id:
        return f"serves chain {chain_id}, not DBP_CHAIN_ID {s.chain_id}"
    return OK


def _check_signer(rt: Runtime) -> None:
    as_keystore(rt.master_key).check()


async def signer_state(rt: Runtime) -> str:
    """The key store answers: a PKCS#11 token is reachable and logged in (sealed keys are in the
    database, which the database check covers)."""
    timeout = rt.settings.readiness_timeout_s
    try:
        await asyncio.wait_for(run_in_threadpool(_check_signer, rt), timeout)
    except TimeoutError:
        return f"no answer within {timeout:g} s"
    except KeystoreError as exc:
        return str(exc)
    return OK


@router.get(
    "/readyz",
    summary="Readiness: the database, the chain and the key store answer",
    responses={503: {"description": "A problem naming what is down"}},
)
async def readyz(rt: Runtime = Depends(runtime)) -> Response:
    database, chain, signer = await asyncio.gather(
        database_state(rt), chain_state(rt), signer_state(rt)
    )
    checks = {"database": database, "chain": chain, "signer": signer}
    down = [f"{name}: {state}" for name, state in checks.items() if state != OK]
    if down:
        return problems.problem_response(
            503, "not-ready", "not ready: " + "; ".join(down), role=rt.settings.role, checks=checks
        )
    body = {"status": "ready", "role": rt.settings.role, "checks": checks}
    return Response(orjson.dumps(body), media_type="application/json")
