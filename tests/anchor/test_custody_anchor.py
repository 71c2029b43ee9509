"""The anchoring account in a SoftHSM2 token (issue 20, DBP_KEY_BACKEND=pkcs11): on the embedded
chain the account is generated in the token; on anvil the funded key is imported into it. Every
transaction is signed there (the token's ECDSA signature, low s, with the recovery id found by
recovering the address), and nothing private is left in the database."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from hsm_testkit import settings_overrides
from sqlalchemy import text
from sqlmodel import Session, select

from anchor.tables import AnchorAccount, AnchorTransaction
from anchor.worker import AnchorWorker

V2 = "https://www.w3.org/ns/credentials/v2"
EXAMPLES = "https://www.w3.org/ns/credentials/examples/v2"
ANVIL_ACCOUNT_0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"  # DEV_KEYS[0]


def test_anchoring_transactions_are_signed_in_the_token(harness, sqlite_url):
    from issuer import operators
    from service.app import create_app
    from service.db import session_scope

    overrides = {**settings_overrides(), "master_key": None, "anchor_batch_size": 100}
    settings = harness.settings(sqlite_url, **overrides)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        rt = client.app.state.runtime
        with session_scope(rt.engine) as session:
            op, token = operators.create_operator(
                session,
                name="acme",
                did_method="web",
                did_web_base=rt.settings.did_web_base,
                master_key=rt.master_key,
            )
            did = op.did
        issued = []
        for n in range(3):
            body = {
                "credential": {
                    "@context": [V2, EXAMPLES],
                    "id": f"urn:uuid:{uuid.uuid4()}",
                    "type": ["VerifiableCredential"],
                    "issuer": did,
                    "credentialSubject": {"id": f"did:example:battery-{n}"},
                }
            }
            r = client.post(
                "/credentials/issue", json=body, headers={"Authorization": f"Bearer {token}"}
            )
            assert r.status_code == 201, r.text
            issued.append(r.json()["verifiableCredential"])
        report = AnchorWorker(rt.anchor).run_once(force=True)
        assert report.confirmed == 1
        signer = rt.anchor.signer()
        assert signer.backend == "pkcs11"
        with Session(rt.engine) as session:
            (account,) = session.exec(select(AnchorAccount)).all()
            assert account.key_ref.startswith("pkcs11:") and account.sealed_key is None
            sent = session.exec(select(AnchorTransaction)).all()
        assert sent and all(tx.sender == account.address for tx in sent)
        w3 = rt.anchor.chain().w3
        for tx in sent:  # the node recovered the sender from the token's signature
            assert w3.eth.get_transaction(tx.tx_hash)["from"] == account.address
        if harness.kind == "anvil":
            assert account.address == ANVIL_ACCOUNT_0
        for vc in issued:
            r = client.post("/credentials/verify", json={"verifiableCredential": vc})
            assert r.status_code == 200 and "anchor" in r.json()["checks"], r.text
        with rt.engine.connect() as conn:
            assert not conn.execute(
                text("select count(*) from anchor_accounts where sealed_key is not null")
            ).scalar_one()
    assert not (settings.data_dir / "master.key").exists()
