"""`dbp migrate`: what has to exist before any copy of a role starts, done once by one process.

Several copies starting at once on an empty PostgreSQL database would race each other's
migrations and each try to create this instance's identity; the compose file's one-shot `migrate`
service does both first, and the copies start only when it has succeeded.
"""

from __future__ import annotations

from dataclasses import dataclass

from issuer import operators
from proofs.signer import Keystore
from service.db import make_engine, migrate, session_scope
from service.settings import Settings


class ProvisionError(Exception):
    """Something `dbp migrate` cannot set up; the message says what to do."""


@dataclass
class Provisioned:
    database: str
    instance_did: str
    contract: str | None = None
    contract_deployed: bool = False


def provision(settings: Settings, *, deploy_anchor_contract: bool = False) -> Provisioned:
    engine = make_engine(settings.resolved_database_url)
    try:
        migrate(engine)
        master_key = settings.load_keystore()
        with session_scope(engine) as session:
            instance = operators.ensure_instance(
                session, did_web_base=settings.did_web_base, master_key=master_key
            )
            done = Provisioned(engine.url.render_as_string(hide_password=True), instance.did)
        if deploy_anchor_contract:
            done.contract, done.contract_deployed = ensure_anchor_contract(
                settings, engine, master_key
            )
        return done
    finally:
        engine.dispose()


def create_address(sender: str, nonce: int) -> str:
    """The address a contract deployed by `sender` with `nonce` gets (Yellow Paper eq. 86)."""
    import rlp
    from eth_utils import keccak, to_checksum_address

    return to_checksum_address(keccak(rlp.encode([bytes.fromhex(sender[2:]), nonce]))[12:])


def ensure_anchor_contract(
    settings: Settings, engine, master_key: bytes | Keystore
) -> tuple[str, bool]:
    """Make sure PassportAnchor is at DBP_ANCHOR_CONTRACT: nothing to do when code is there;
    deployed when the anchoring account's next deployment lands exactly at that address (a
    fresh development chain, e.g. anvil in docker-compose.yml); an error otherwise, without
    spending anything, so a wrong address on a real chain never costs a deployment."""
    from anchor.chain import RpcChain
    from anchor.cli import deploy_contract
    from anchor.errors import AnchorError
    from anchor.runtime import AnchorRuntime

    if settings.chain_backend != "rpc":
        raise ProvisionError("--deploy-anchor-contract needs DBP_CHAIN_BACKEND=rpc")
    if not settings.chain_rpc_url or settings.chain_id is None or not settings.anchor_contract:
        raise ProvisionError(
            "--deploy-anchor-contract needs DBP_CHAIN_RPC_URL, DBP_CHAIN_ID and DBP_ANCHOR_CONTRACT"
        )
    wanted = settings.anchor_contract
    rt = AnchorRuntime(settings, engine, master_key)
    try:
        chain = RpcChain(
            settings.chain_rpc_url,
            expected_chain_id=settings.chain_id,
            timeout_s=settings.anchor_rpc_timeout_s,
        )
        if chain.code_exists(wanted):
            return wanted, False
        sender = rt.signer().address
        landing = create_address(sender, chain.nonce(sender))
        if landing.lower() != wanted.lower():
            raise ProvisionError(
                f"there is no contract at DBP_ANCHOR_CONTRACT={wanted} on chain "
                f"{settings.chain_id}, and a deployment by {sender} now would land at "
                f"{landing}; deploy with `dbp anchor deploy` and set DBP_ANCHOR_CONTRACT"
            )
        address = deploy_contract(rt, chain)
    except AnchorError as exc:
        raise ProvisionError(str(exc)) from None
    finally:
        rt.close()
    return address, True
