"""Helpers for the verifier tests: holders with did:key keys, batteries registered and passports
issued through the issuer's API into the database (the runtime's real passport store, on SQLite
and PostgreSQL), role credentials, grants, and presentations over challenges."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from proofs import dataintegrity, jose
from proofs.didkey import did_key, did_key_verification_method_id
from proofs.keys import Ed25519Key
from resolver import registry
from service.db import session_scope
from verifier.accreditation import role_credential
from verifier.tables import AccessLogEntry
from vocab.catalogue import Tier
from vocab.context import (
    ACCESS_GRANT_CREDENTIAL,
    BATTERY_PASSPORT_CREDENTIAL,
    CREDENTIAL_CONTEXTS,
)
from vocab.datetimes import format_datetime, utcnow
from vocab.examples import load_example
from vocab.gs1 import ItemKey
from vocab.schemas import credential_schema
from vocab.tiers import credential_type

V2 = "https://www.w3.org/ns/credentials/v2"
GTIN = "09520123456788"


@dataclass
class Holder:
    """A requester with its own did:key."""

    key: Ed25519Key
    did: str

    @classmethod
    def new(cls) -> Holder:
        key = Ed25519Key.generate()
        return cls(key, did_key(key.public))

    @property
    def vm(self) -> str:
        return did_key_verification_method_id(self.did)

    def present(
        self,
        credentials: Iterable[dict],
        challenge: str | None,
        domain: str | None,
        *,
        holder: str | None = None,
        cryptosuite: str = "eddsa-rdfc-2022",
    ) -> dict:
        vp = {
            "@context": [V2],
            "type": ["VerifiablePresentation"],
            "holder": holder or self.did,
            "verifiableCredential": list(credentials),
        }
        return dataintegrity.create_proof(
            vp,
            self.key,
            self.vm,
            cryptosuite=cryptosuite,
            proof_purpose="authentication",
            challenge=challenge,
            domain=domain,
        )

    def present_jwt(self, credentials: Iterable[dict], challenge: str, domain: str) -> dict:
        vp = {
            "@context": [V2],
            "type": ["VerifiablePresentation"],
            "holder": self.did,
            "verifiableCredential": list(credentials),
        }
        token = jose.sign_jwt(
            vp, self.key, self.vm, typ="vp+jwt", claims={"nonce": challenge, "aud": domain}
        )
        return jose.envelope(token, "vp+jwt")

    def sign(self, credential: dict) -> dict:
        """Sign `credential` as its issuer (the credential's issuer must be this DID)."""
        return dataintegrity.create_proof(credential, self.key, self.vm)


@dataclass
class BatteryRef:
    """A battery registered through `POST /batteries` (what the tests need to address it)."""

    id: str
    gtin: str
    serial: str
    item_uri: str
    did: str
    operator_did: str


class World:
    """One running service with an operator (`acme`), two batteries registered through the API
    and the first one's passport issued through it: four tier credentials, signed by acme and
    kept in the database, which the verifier reads through the runtime's real passport store."""

    def __init__(self, client: TestClient, operator: dict) -> None:
        self.client = client
        self.rt = client.app.state.runtime
        self.acme = operator
        self.passports = self.rt.passports
        self.public_url = self.rt.settings.public_url
        self.domain = self.rt.settings.public_host
        self.b1 = self.register("SN1", operator)
        self.b2 = self.register("SN2", operator)
        self.tier_credentials = self.issue_passport(self.b1, operator)

    # --- batteries and passports -----------------------------------------------------------

    def register(self, serial: str, operator: dict) -> BatteryRef:
        r = self.client.post(
            "/batteries",
            json={"gtin": GTIN, "serial": serial},
            headers={"Authorization": f"Bearer {operator['token']}"},
        )
        assert r.status_code == 201, r.text
        b = r.json()
        return BatteryRef(b["id"], GTIN, serial, b["itemUri"], b["did"], operator["did"])

    def transfer(self, battery: BatteryRef, new_holder: str) -> None:
        """Re-point the battery in the routing registry (what a hand-over does to it)."""
        with session_scope(self.rt.engine) as session:
            route = registry.lookup(session, battery.gtin, battery.serial)
            registry.repoint(session, route, holder_did=new_holder, endpoint=None)
        battery.operator_did = new_holder

    def issue(self, operator: dict, credential: dict, **options) -> dict:
        body: dict = {"credential": credential}
        if options:
            body["options"] = options
        r = self.client.post(
            "/credentials/issue",
            json=body,
            headers={"Authorization": f"Bearer {operator['token']}"},
        )
        assert r.status_code == 201, r.text
        return r.json()["verifiableCredential"]

    def tier_credential(self, battery: BatteryRef, issuer: str, tier: Tier, doc: dict) -> dict:
        """An unsigned tier credential about `battery` (for credentials from other issuers)."""
        return {
            "@context": list(CREDENTIAL_CONTEXTS),
            "id": f"urn:uuid:{uuid.uuid4()}",
            "type": ["VerifiableCredential", BATTERY_PASSPORT_CREDENTIAL, credential_type(tier)],
            "issuer": issuer,
            "validFrom": "2025-01-01T00:00:00Z",
            "credentialSchema": credential_schema(tier),
            "credentialSubject": doc,
        }

    def issue_passport(self, battery: BatteryRef, operator: dict) -> dict[Tier, dict]:
        """The ev example issued as `battery`'s passport through `POST /batteries/{id}/passport`;
        its signed tier credentials by tier."""
        data = load_example("ev")
        for key in ("batteryIdentifier", "passportId", "passportVersion"):
            data.pop(key)
        r = self.client.post(
            f"/batteries/{battery.id}/passport",
            json=data,
            headers={"Authorization": f"Bearer {operator['token']}"},
        )
        assert r.status_code == 201, r.text
        out = {
            Tier(vc["credentialSubject"]["accessTier"]): vc
            for vc in r.json()["verifiableCredentials"]
        }
        assert set(out) == set(Tier), sorted(out)
        return out

    # --- role credentials and grants -------------------------------------------------------

    def accredit(self, subject: str, *roles: str, **kwargs) -> dict:
        """A role credential signed by this instance (the default trust anchor)."""
        credential = role_credential(
            issuer=self.rt.settings.did_web_base, subject=subject, roles=roles, **kwargs
        )
        with session_scope(self.rt.engine) as session:
            return self.rt.sign_as_instance(session, credential)

    def grant_credential(
        self,
        issuer: str,
        grantee: str,
        batteries: list[BatteryRef],
        tiers: list[str],
        expiry: datetime | None = None,
    ) -> dict:
        expiry = expiry or utcnow() + timedelta(days=30)
        return {
            "@context": list(CREDENTIAL_CONTEXTS),
            "id": f"urn:uuid:{uuid.uuid4()}",
            "type": ["VerifiableCredential", ACCESS_GRANT_CREDENTIAL],
            "issuer": issuer,
            "validFrom": format_datetime(utcnow() - timedelta(minutes=1)),
            "credentialSubject": {
                "grantee": grantee,
                "batteries": [b.item_uri for b in batteries],
                "tiers": tiers,
                "expiry": format_datetime(expiry),
            },
        }

    def grant(self, grantee: str, batteries: list[BatteryRef], tiers: list[str], **kw) -> dict:
        """A grant issued by acme through the VC-API."""
        return self.issue(
            self.acme, self.grant_credential(self.acme["did"], grantee, batteries, tiers, **kw)
        )

    # --- requests ---------------------------------------------------------------------------

    def challenge(self, **body) -> tuple[str, str]:
        r = self.client.post("/challenges", json=body) if body else self.client.post("/challenges")
        assert r.status_code == 200, r.text
        data = r.json()
        return data["challenge"], data["domain"]

    def access(self, battery: BatteryRef | str, body: dict | None, **kwargs):
        path = battery if isinstance(battery, str) else ItemKey(battery.gtin, battery.serial).path()
        if body is None:
            return self.client.post(path + "/access", **kwargs)
        return self.client.post(path + "/access", json=body, **kwargs)

    def present_and_access(
        self, holder: Holder, credentials: list[dict], battery: BatteryRef, **extra
    ):
        nonce, domain = self.challenge()
        vp = holder.present(credentials, nonce, domain)
        return self.access(battery, {"verifiablePresentation": vp, **extra})

    def log(self) -> list[AccessLogEntry]:
        with Session(self.rt.engine) as session:
            return list(session.exec(select(AccessLogEntry).order_by(AccessLogEntry.seq)).all())

    def last_log(self) -> AccessLogEntry:
        rows = self.log()
        assert rows, "the access log is empty"
        return rows[-1]
