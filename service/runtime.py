"""What a running service holds: settings, the engine, the master key, the DID resolver, and the
passport source the resolver reads batteries through."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import ModuleType

import httpx
from sqlalchemy import Engine
from sqlmodel import Session

from anchor.runtime import AnchorRuntime
from anchor.verify import anchor_check
from issuer import operators, statuslists
from issuer.config import IssuerConfig
from issuer.worker import BulkWorker
from resolver import battery_dids, registry
from resolver.dids import DidResolver
from resolver.didweb import DidWebPolicy
from resolver.sources import BatteryInfo, PassportSource
from service.db import make_engine, migrate, session_scope
from service.settings import Settings
from verifier.credentials import CredentialCheck, verify_credential, verify_presentation
from verifier.related import check_related_resources
from verifier.result import Result
from verifier.status import StatusListFetcher, status_check


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    master_key: bytes
    http: httpx.Client
    anchor: AnchorRuntime | None = field(default=None)
    bulk_worker: BulkWorker | None = None
    # Where the resolver reads batteries and their public credentials; tests may swap it.
    passports: PassportSource = field(init=False)

    def __post_init__(self) -> None:
        self.passports = IssuerPassports(self)

    @classmethod
    def start(cls, settings: Settings) -> Runtime:
        engine = make_engine(settings.resolved_database_url)
        migrate(engine)
        runtime = cls(settings, engine, settings.load_master_key(), httpx.Client())
        with session_scope(engine) as session:
            operators.ensure_instance(
                session, did_web_base=settings.did_web_base, master_key=runtime.master_key
            )
        runtime.anchor = AnchorRuntime(settings, engine, runtime.master_key)
        runtime.anchor.start()  # the worker thread, when DBP_ANCHOR_WORKER asks for it
        if settings.bulk_worker:
            # Resumes whatever jobs were left unfinished by a previous run.
            runtime.bulk_worker = BulkWorker(
                engine, runtime.issuer_config, processes=settings.bulk_processes
            )
            runtime.bulk_worker.start()
        return runtime

    def close(self) -> None:
        if self.bulk_worker is not None:
            self.bulk_worker.stop()
        if self.anchor is not None:
            self.anchor.close()
        self.http.close()
        self.engine.dispose()

    @property
    def issuer_config(self) -> IssuerConfig:
        return IssuerConfig(
            public_url=self.settings.public_url,
            did_web_base=self.settings.did_web_base,
            master_key=self.master_key,
        )

    @property
    def did_web_policy(self) -> DidWebPolicy:
        s = self.settings
        return DidWebPolicy(s.allowed_did_web_hosts, s.did_web_timeout_s, s.did_web_max_bytes)

    def credential_checks(self, session: Session) -> list[CredentialCheck]:
        """Checks run after the proof on every credential: status list, schema, trust, anchor.

        Each package that adds a check appends its factory call here."""
        return [
            check_related_resources,
            status_check(self.status_lists(session), self.resolver(session).verification_method),
            anchor_check(session, self.anchor),
        ]

    def status_lists(self, session: Session) -> StatusListFetcher:
        """Status lists for the verifier: ours from the database, others over HTTP from allowed
        hosts only."""
        config = self.issuer_config
        return StatusListFetcher(
            own_prefix=config.status_list_prefix,
            local=lambda url: statuslists.list_credential_by_url(session, config, url),
            policy=self.did_web_policy,
            client=self.http,
        )

    def verify_credential(self, session: Session, credential: object, **options) -> Result:
        """The full verification every endpoint and the consumer page use; `options` are
        verify_credential's (expected_purpose, challenge, domain)."""
        return verify_credential(
            credential,
            self.resolver(session).verification_method,
            extra_checks=self.credential_checks(session),
            **options,
        )

    def verify_presentation(
        self,
        session: Session,
        presentation: object,
        *,
        challenge: str | None,
        domain: str | None,
        **options,
    ) -> Result:
        return verify_presentation(
            presentation,
            self.resolver(session).verification_method,
            challenge=challenge,
            domain=domain,
            credential_checks=self.credential_checks(session),
            **options,
        )

    def resolver(self, session: Session) -> DidResolver:
        return DidResolver(
            own_did_web_base=self.settings.did_web_base,
            local=lambda did: local_did_document(session, did, own_url=self.settings.public_url),
            policy=self.did_web_policy,
            client=self.http,
        )


def local_did_document(session: Session, did: str, *, own_url: str) -> dict | None:
    """DID documents this service itself publishes: operators' and batteries'."""
    operator = operators.by_did(session, did)
    if operator is not None:
        return operators.did_document(session, operator)
    route = registry.by_did(session, did)
    if route is not None:
        return battery_dids.did_document(route, own_url=own_url)
    return None


def _issuer_views() -> ModuleType | None:
    # issuer/views.py comes with issue 3 (branch issuer). Until it is on main the resolver works
    # from the registry alone; drop this fallback when it lands.
    try:
        return importlib.import_module("issuer.views")
    except ModuleNotFoundError as exc:
        if exc.name != "issuer.views":
            raise
        return None


class IssuerPassports:
    """The resolver's `PassportSource`: battery data from issuer.views, verification from the
    runtime (every check other packages register)."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def battery_by_id(self, session: Session, battery_id: str) -> BatteryInfo | None:
        views = _issuer_views()
        return views.battery_by_id(session, battery_id) if views else None

    def public_credentials(self, session: Session, battery_id: str) -> list[dict]:
        views = _issuer_views()
        return views.public_credentials(session, battery_id) if views else []

    def passport_history(self, session: Session, battery_id: str) -> list[dict]:
        views = _issuer_views()
        return views.passport_history(session, battery_id) if views else []

    def verify_credential(self, session: Session, credential: object) -> Result:
        return self._runtime.verify_credential(session, credential)
