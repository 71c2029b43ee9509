"""Issue 13 item 6: a role credential accredited at instance A works at instance B once B's
operator trusts A's registry (`peerRegistries` in B's DBP_TRUST_REGISTRY), added while B runs:
no restart. `dbp trust show` on B says the anchor came from A's registry."""

from __future__ import annotations

import json

import httpx
import pytest
from handover_testkit import GTIN, passport_data, two_instances
from typer.testing import CliRunner

from proofs import dataintegrity
from proofs.didkey import did_key, did_key_verification_method_id
from proofs.keys import Ed25519Key
from service.cli import app as cli

V2 = "https://www.w3.org/ns/credentials/v2"


def present(key: Ed25519Key, credentials: list[dict], challenge: str, domain: str) -> dict:
    did = did_key(key.public)
    vp = {
        "@context": [V2],
        "type": ["VerifiablePresentation"],
        "holder": did,
        "verifiableCredential": credentials,
    }
    return dataintegrity.create_proof(
        vp,
        key,
        did_key_verification_method_id(did),
        proof_purpose="authentication",
        challenge=challenge,
        domain=domain,
    )


def env_of(instance, **extra: str) -> dict[str, str]:
    return {
        "DBP_DATA_DIR": str(instance.settings.data_dir),
        "DBP_PUBLIC_URL": instance.url,
        "DBP_DATABASE_URL": instance.settings.resolved_database_url,
        "DBP_BULK_WORKER": "false",
        **extra,
    }


@pytest.fixture
def registry_b(tmp_path):
    path = tmp_path / "trust-b.json"
    path.write_text(json.dumps({"trustAnchors": [{"id": "self", "accredits": ["recycling"]}]}))
    return path


def test_a_role_accredited_at_a_opens_data_at_b_once_b_trusts_a(tmp_path, registry_b):
    with two_instances(
        tmp_path, f"sqlite:///{tmp_path / 'a.sqlite3'}", {"DBP_TRUST_REGISTRY": str(registry_b)}
    ) as (a, b):
        # a battery of B's operator, with its passport, on B
        with b.client("second-life") as client:
            r = client.post("/batteries", json={"gtin": GTIN, "serial": "SL-1"})
            assert r.status_code == 201, r.text
            battery = r.json()
            r = client.post(f"/batteries/{battery['id']}/passport", json=passport_data())
            assert r.status_code == 201, r.text

        # A accredits a recycler (A's instance key, `dbp trust accredit`)
        recycler = Ed25519Key.generate()
        runner = CliRunner()
        accredited = runner.invoke(
            cli,
            ["trust", "accredit", "--subject", did_key(recycler.public), "--role", "recycling"],
            env=env_of(a),
        )
        assert accredited.exit_code == 0, accredited.output
        role = json.loads(accredited.stdout)

        def access() -> httpx.Response:
            challenge = httpx.post(b.url + "/challenges", timeout=60).json()
            vp = present(recycler, [role], challenge["challenge"], challenge["domain"])
            return httpx.post(
                b.url + battery["itemUri"].removeprefix(b.url) + "/access",
                json={"verifiablePresentation": vp},
                timeout=60,
            )

        refused = access()
        assert refused.status_code == 403, refused.text
        assert refused.json()["type"].endswith("/untrusted-issuer"), refused.text

        # B's operator trusts A's registry: an edit of the file, no restart
        peer = a.url + "/trust-registry"
        registry_b.write_text(
            json.dumps(
                {
                    "trustAnchors": [{"id": "self", "accredits": ["recycling"]}],
                    "peerRegistries": [{"url": peer, "name": "A", "accredits": ["recycling"]}],
                }
            )
        )
        released = access()
        assert released.status_code == 200, released.text
        tiers = [
            vc["credentialSubject"]["accessTier"] for vc in released.json()["verifiableCredentials"]
        ]
        assert "legitimate-interest" in tiers

        served = httpx.get(b.url + "/trust-registry", timeout=60).json()
        a_did = role["issuer"]
        assert {
            "id": a_did,
            "accredits": ["recycling"],
            "name": "this dbp instance",
            "via": peer,
        } in (served["trustAnchors"])

        shown = runner.invoke(
            cli,
            ["trust", "show"],
            env=env_of(
                b,
                DBP_TRUST_REGISTRY=str(registry_b),
                DBP_DID_WEB_ALLOWED_HOSTS=f"{a.url},{b.url}",
            ),
        )
        assert shown.exit_code == 0, shown.output
        listed = json.loads(shown.stdout)
        sources = {x["id"]: x["source"] for x in listed["trustAnchors"]}
        assert sources[a_did] == f"peer registry {peer}"
        assert sources[b.settings.did_web_base].startswith("file ")
        [report] = listed["peerRegistries"]
        assert report["url"] == peer and report["anchors"] == 1 and "etag" in report
