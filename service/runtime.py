"""What a running service holds: settings, the engine, the master key, the DID resolver, and the
passport source the resolver reads batteries through."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import httpx
from sqlalchemy import Engine
from sqlmodel import Session

from anchor.runtime import AnchorRuntime
from anchor.verify import anchor_check
from issuer import credentials as issuing
from issuer import holders, operators, statuslists, store, views
from issuer.config import IssuerConfig
from issuer.errors import IssuerError
from issuer.worker import BulkWorker
from resolver import battery_dids, registry
from resolver.dids import DidResolver
from resolver.didweb import DidWebPolicy
from resolver.sources import BatteryInfo, PassportSource
from service import roles
from service.db import make_engine, migrate, require_current_schema, session_scope
from service.settings import Settings
from verifier.authority import authority_check, routing_registry_tenures
from verifier.credentials import CredentialCheck, verify_credential, verify_presentation
from verifier.errors import StatusChangeFailed
from verifier.memo import Lru, ProofMemo, memoized_check
from verifier.passports import BatteryRecord
from verifier.policy import AccessPolicy
from verifier.presentations import VerifyPresentation
from verifier.related import check_related_resources
from verifier.result import Result
from verifier.schemas import check_schema
from verifier.status import StatusListFetcher, status_check
from verifier.trust import RegistrySource
from vocab.catalogue import Tier


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    master_key: bytes
    http: httpx.Client
    trust: RegistrySource = field(default=None)  # type: ignore[assignment]
    policy: AccessPolicy = field(default_factory=AccessPolicy)
    anchor: AnchorRuntime | None = field(default=None)
    bulk_worker: BulkWorker | None = None
    # Where the resolver and the verifier read batteries and their passport credentials
    # (resolver.sources.PassportSource and verifier.passports.PassportStore); tests may swap it.
    passports: PassportSource = field(init=False)
    # Content-keyed verification memos for the consumer page (verifier.memo): per process, and
    # correct with any number of copies, because an entry is a fact about exact bytes.
    proof_memo: ProofMemo = field(default_factory=ProofMemo)
    check_memo: Lru = field(default_factory=Lru)

    def __post_init__(self) -> None:
        self.passports = IssuerPassports(self)

    @classmethod
    def start(cls, settings: Settings) -> Runtime:
        engine = make_engine(settings.resolved_database_url)
        if settings.migrate_on_start:
            migrate(engine)
        else:
            require_current_schema(engine)  # `dbp migrate` ran first (docker-compose: migrate)
        runtime = cls(settings, engine, settings.load_master_key(), httpx.Client())
        runtime.trust = RegistrySource(settings.trust_registry, settings.did_web_base)
        runtime.policy = AccessPolicy(
            authorities_see_individual_data=settings.authorities_see_individual_data
        )
        with session_scope(engine) as session:
            operators.ensure_instance(
                session, did_web_base=settings.did_web_base, master_key=runtime.master_key
            )
        runtime.anchor = AnchorRuntime(settings, engine, runtime.master_key)
        if not roles.runs_workers(settings.role):
            return runtime  # verifier and resolver copies hold no work of their own
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

    def credential_checks(
        self, session: Session, *, memoized: bool = False, resolver: DidResolver | None = None
    ) -> list[CredentialCheck]:
        """Checks run after the proof on every credential: status list, schema, trust, anchor.

        Each package that adds a check appends its factory call here. `memoized` answers the
        checks that depend on the credential's bytes alone (schema) from `check_memo`."""
        resolver = resolver or self.resolver(session)
        return [
            check_related_resources,
            memoized_check(check_schema, self.check_memo) if memoized else check_schema,
            authority_check(self.trust.current(), routing_registry_tenures(session)),
            status_check(
                self.status_lists(session),
                resolver.verification_method,
                proof_memo=self.proof_memo if memoized else None,
            ),
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

    def verify_credential(
        self, session: Session, credential: object, *, memoized: bool = False, **options
    ) -> Result:
        """The full verification every endpoint and the consumer page use; `options` are
        verify_credential's (expected_purpose, challenge, domain). `memoized` (the page) takes
        the content-determined parts (signatures over these bytes, schema) from this process's
        memos; keys, status, validity, trust and anchor are evaluated as always."""
        # One resolver for the whole verification, reading each of our own DID documents once:
        # the credential's proof and its status lists' proofs name the same issuer key.
        resolver = self.resolver(session, read_once=True)
        return verify_credential(
            credential,
            resolver.verification_method,
            extra_checks=self.credential_checks(session, memoized=memoized, resolver=resolver),
            proof_memo=self.proof_memo if memoized else None,
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

    def presentation_verifier(self) -> VerifyPresentation:
        """`verify_presentation` in the shape the verifier's access flow takes."""
        return lambda session, vp, challenge, domain: self.verify_presentation(
            session, vp, challenge=challenge, domain=domain
        )

    def resolver(self, session: Session, *, read_once: bool = False) -> DidResolver:
        """`read_once`: for one verification (one request), each local DID document is read
        from the database once and reused, like a snapshot of that moment."""
        own_url = self.settings.public_url

        def local(did: str) -> dict | None:
            return local_did_document(session, did, own_url=own_url)

        if read_once:
            read: dict[str, dict | None] = {}

            def local(did: str) -> dict | None:  # noqa: F811 - the memoizing variant
                if did not in read:
                    read[did] = local_did_document(session, did, own_url=own_url)
                return read[did]

        return DidResolver(
            own_did_web_base=self.settings.did_web_base,
            local=local,
            policy=self.did_web_policy,
            client=self.http,
        )

    def sign_as_instance(self, session: Session, credential: dict) -> dict:
        """Sign `credential` with this instance's own key (`did:web:{host}`), e.g. a role
        credential this instance accredits as a trust anchor. It gets a revocation and a
        suspension entry on the instance's status lists and is stored like every credential
        this service signs, so `change_instance_credential_status` can revoke or suspend it."""
        instance = operators.by_name(session, operators.INSTANCE_NAME)
        options = issuing.IssueOptions()
        ((revocation, suspension),) = statuslists.allocate(session, self.issuer_config, instance, 1)
        credential = {**credential, "credentialStatus": [revocation.entry, suspension.entry]}
        prepared = issuing.prepare(credential, instance.did, options)
        credential_id = prepared.get("id") if isinstance(prepared.get("id"), str) else None
        store.check_new_id(session, credential_id)
        signing = operators.signing_key(session, instance, self.master_key)
        signed = issuing.sign(prepared, signing.key, signing.verification_method, options)
        store.store(
            session,
            operator_id=instance.id,
            document=signed,
            kind=store.VC_API,
            credential_id=credential_id,
            status_entries=[revocation, suspension],
        )
        return signed

    def change_instance_credential_status(
        self, session: Session, credential_id: str, purpose: str, value: bool
    ) -> None:
        """Revoke (final), suspend or reinstate a credential this instance signed."""
        instance = operators.by_name(session, operators.INSTANCE_NAME)
        try:
            statuslists.change_status(
                session,
                self.issuer_config,
                instance,
                credential_id,
                statuslists.StatusChange(purpose, value),
            )
        except IssuerError as exc:
            raise StatusChangeFailed(str(exc)) from None


def local_did_document(session: Session, did: str, *, own_url: str) -> dict | None:
    """DID documents this service itself publishes: operators', holders' and batteries'."""
    operator = operators.by_did(session, did)
    if operator is not None:
        return operators.did_document(session, operator)
    holder = holders.by_did(session, did)
    if holder is not None:
        return holders.did_document(holder)
    route = registry.by_did(session, did)
    if route is not None:
        return battery_dids.did_document(route, own_url=own_url)
    return None


class IssuerPassports:
    """Passports as the resolver (`resolver.sources.PassportSource`) and the verifier
    (`verifier.passports.PassportStore`) read them: battery data and credentials from
    issuer.views, verification from the runtime (every check other packages register)."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def battery_by_id(self, session: Session, battery_id: str) -> BatteryInfo | None:
        return views.battery_by_id(session, battery_id)

    def public_credentials(self, session: Session, battery_id: str) -> list[dict]:
        return views.public_credentials(session, battery_id)

    def passport_history(self, session: Session, battery_id: str) -> list[dict]:
        return views.passport_history(session, battery_id)

    def verify_credential(self, session: Session, credential: object) -> Result:
        return self._runtime.verify_credential(session, credential, memoized=True)

    def battery_by_key(self, session: Session, gtin: str, serial: str) -> BatteryRecord | None:
        return views.battery_by_key(session, gtin, serial)

    def credentials_for_tiers(
        self, session: Session, battery_id: str, tiers: Iterable[Tier]
    ) -> list[dict]:
        return views.credentials_for_tiers(session, battery_id, list(tiers))
