"""What a running service holds: settings, the engine, the master key, the DID resolver, and the
passport source the resolver reads batteries through."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import httpx
from sqlalchemy import Engine
from sqlmodel import Session, select

from anchor.runtime import AnchorRuntime
from anchor.verify import anchor_check
from infra.ratelimit import RateLimit
from issuer import holders, operators, statuslists, views
from issuer.backup import outbox as backup_outbox
from issuer.backup.push import BackupPusher, PushConfig
from issuer.backup.restricted import RestrictedCopy
from issuer.backup.snapshot import load_key as load_snapshot_key
from issuer.backup.snapshot import parse_trusted_keys
from issuer.config import IssuerConfig
from issuer.documents import library as documents
from issuer.documents import links as document_links
from issuer.documents.errors import DocumentUnavailable
from issuer.documents.objectstore import ObjectStore, open_store
from issuer.dppregistry.sync import RegistrySync
from issuer.errors import IssuerError
from issuer.instance import sign_as_instance
from issuer.tables import Battery
from issuer.worker import BulkWorker
from proofs.signer import Keystore, SealedKeystore
from resolver import battery_dids, registry
from resolver.dids import DidResolver
from resolver.didweb import DidWebPolicy
from resolver.sources import BatteryInfo, PassportSource
from service import roles
from service.db import make_engine, migrate, require_current_schema, session_scope
from service.registry import make_sync
from service.settings import Settings, SettingsError
from verifier import pipeline
from verifier.credentials import CredentialCheck, verify_credential, verify_presentation
from verifier.errors import StatusChangeFailed
from verifier.memo import Lru, ProofMemo
from verifier.passports import BatteryRecord
from verifier.peer_registries import PeerAnchors, http_fetcher
from verifier.policy import AccessPolicy
from verifier.presentations import VerifyPresentation
from verifier.related import resource_matches
from verifier.result import Result
from verifier.status import StatusListFetcher
from verifier.trust import RegistrySource
from vocab.catalogue import Tier


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    master_key: bytes | Keystore  # the key store (proofs.signer); the name is historical
    http: httpx.Client
    trust: RegistrySource = field(default=None)  # type: ignore[assignment]
    # The anchors of the trust registry's peer registries, fetched and kept (verifier.trust)
    peer_anchors: PeerAnchors | None = None
    policy: AccessPolicy = field(default_factory=AccessPolicy)
    anchor: AnchorRuntime | None = field(default=None)
    bulk_worker: BulkWorker | None = None
    registry_sync: RegistrySync | None = None
    # Pushes snapshots to the independent backup (DBP_BACKUP_PUSH_URL; issuer/backup).
    backup_pusher: BackupPusher | None = None
    # Where document bytes live (issuer.documents.objectstore); made on first use.
    _document_store: ObjectStore | None = field(default=None, init=False, repr=False)
    _document_link_key: bytes | None = field(default=None, init=False, repr=False)
    # Where the resolver and the verifier read batteries and their passport credentials
    # (resolver.sources.PassportSource and verifier.passports.PassportStore); tests may swap it.
    passports: PassportSource = field(init=False)
    # POST /challenges per client address (infra/ratelimit.py says what it does across processes)
    challenge_limit: RateLimit = field(init=False)
    # Content-keyed verification memos for the consumer page (verifier.memo): per process, and
    # correct with any number of copies, because an entry is a fact about exact bytes.
    proof_memo: ProofMemo = field(default_factory=ProofMemo)
    check_memo: Lru = field(default_factory=Lru)

    def __post_init__(self) -> None:
        self.passports = IssuerPassports(self)
        self.challenge_limit = RateLimit(self.settings.challenge_rate_per_minute, what="challenges")

    @classmethod
    def start(cls, settings: Settings) -> Runtime:
        engine = make_engine(settings.resolved_database_url)
        if settings.migrate_on_start:
            migrate(engine)
        else:
            require_current_schema(engine)  # `dbp migrate` ran first (docker-compose: migrate)
        # no proxies from the environment: infra.fetch connects to the address it checked
        runtime = cls(settings, engine, settings.load_keystore(), httpx.Client(trust_env=False))
        runtime.peer_anchors = PeerAnchors(
            http_fetcher(runtime.http, runtime.did_web_policy), settings.trust_peer_refresh_s
        )
        runtime.trust = RegistrySource(
            settings.trust_registry, settings.did_web_base, runtime.peer_anchors.anchors
        )
        runtime.policy = AccessPolicy(
            authorities_see_individual_data=settings.authorities_see_individual_data
        )
        if settings.role == roles.BACKUP:
            key_file = settings.backup_snapshot_key_file
            runtime.passports = BackupPassports(
                runtime,
                RestrictedCopy(
                    load_snapshot_key(key_file) if key_file else None,
                    parse_trusted_keys(settings.backup_trusted_keys),
                ),
            )
        else:
            # the backup has no identity of its own: it serves the primary's, from snapshots
            with session_scope(engine) as session:
                operators.ensure_instance(
                    session, did_web_base=settings.did_web_base, master_key=runtime.master_key
                )
        runtime.anchor = AnchorRuntime(settings, engine, runtime.master_key)
        if settings.backup_push_url and settings.role != roles.BACKUP:
            # every process writing the primary's tables logs its changes for the pusher
            backup_outbox.enable()
        if not roles.runs_workers(settings.role):
            return runtime  # verifier and resolver copies hold no work of their own
        runtime.anchor.start()  # the worker thread, when DBP_ANCHOR_WORKER asks for it
        if settings.bulk_worker:
            # Resumes whatever jobs were left unfinished by a previous run.
            runtime.bulk_worker = BulkWorker(
                engine, runtime.issuer_config, processes=settings.bulk_processes
            )
            runtime.bulk_worker.start()
        # Sends the EU registry entries the issuing transactions queued (DBP_REGISTRY_URL).
        runtime.registry_sync = make_sync(settings, engine)
        if runtime.registry_sync is not None:
            runtime.registry_sync.start()
        runtime.backup_pusher = make_pusher(runtime)
        if runtime.backup_pusher is not None:
            runtime.backup_pusher.start()
        return runtime

    def close(self) -> None:
        if self.backup_pusher is not None:
            self.backup_pusher.stop()
        if self.bulk_worker is not None:
            self.bulk_worker.stop()
        if self.registry_sync is not None:
            self.registry_sync.stop()
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
            vc_api_status=self.settings.vc_api_status,
        )

    # --- battery documents --------------------------------------------------------------------

    def document_store(self) -> ObjectStore:
        if self._document_store is None:
            self._document_store = open_store(
                self.settings.resolved_document_store,
                s3_endpoint_url=self.settings.document_s3_endpoint_url,
            )
        return self._document_store

    @property
    def document_link_key(self) -> bytes:
        """The HMAC key of signed document links, the same in every process of a deployment:
        derived from DBP_DOCUMENT_LINK_SECRET, else from the master key of sealed keys."""
        if self._document_link_key is None:
            secret = self.settings.document_link_secret
            if secret is not None:
                material = secret.get_secret_value().encode()
            elif isinstance(self.master_key, bytes):
                material = self.master_key
            elif isinstance(self.master_key, SealedKeystore):
                material = self.master_key.master_key
            else:
                raise DocumentUnavailable(
                    "signed document links need DBP_DOCUMENT_LINK_SECRET when keys are not "
                    f"sealed under a master key (DBP_KEY_BACKEND={self.settings.key_backend})"
                )
            self._document_link_key = document_links.link_key(material)
        return self._document_link_key

    def signed_document_links(
        self, session: Session, item_uri: str, tiers: Iterable[str], reader: str
    ) -> list[dict]:
        """The documents of the released tiers, each with a signed link for `reader` that
        expires after DBP_DOCUMENT_LINK_TTL_S (handed out in the /access answer)."""
        battery = session.exec(select(Battery).where(Battery.item_uri == item_uri)).first()
        if battery is None:
            return []
        wanted = set(tiers)
        ttl = self.settings.document_link_ttl_s
        out = []
        for document in documents.of_battery(session, battery.id):
            if document.tier not in wanted:
                continue
            described = documents.describe(document, self.settings.public_url)
            path = self.settings.public_path + documents.DOCUMENTS_PATH + document.id
            query = document_links.sign(self.document_link_key, path, reader, ttl)
            described["url"] += "?" + query
            described["expiresInSeconds"] = ttl
            out.append(described)
        return out

    def own_document_bytes(self, session: Session) -> Callable[[str], bytes | None]:
        """Bytes of documents this instance keeps, by URL, for the verifier's relatedResource
        check (read from the store: nothing is fetched)."""
        prefix = self.settings.public_url + documents.DOCUMENTS_PATH

        def fetch(url: str) -> bytes | None:
            if not isinstance(url, str) or not url.startswith(prefix):
                return None
            try:
                document = documents.get(session, url[len(prefix) :].split("?", 1)[0])
                return documents.read(self.document_store(), document)
            except IssuerError:
                return None

        return fetch

    def document_facts(self, session: Session, battery_id: str) -> dict[str, dict]:
        """Title, type and language of a battery's public documents, by URL (for the page)."""
        out = {}
        for document in documents.of_battery(session, battery_id):
            if document.tier == Tier.PUBLIC.value:
                described = documents.describe(document, self.settings.public_url)
                out[described["url"]] = described
        return out

    def related_resource_matches(self, session: Session) -> Callable[[dict], bool | None]:
        fetch = self.own_document_bytes(session)
        return lambda resource: resource_matches(resource, fetch)

    @property
    def did_web_policy(self) -> DidWebPolicy:
        s = self.settings
        return DidWebPolicy(s.allowed_did_web_hosts, s.did_web_timeout_s, s.did_web_max_bytes)

    def credential_checks(
        self, session: Session, *, memoized: bool = False, resolver: DidResolver | None = None
    ) -> list[CredentialCheck]:
        """The verifier's pipeline of checks run after the core (`verifier.pipeline`), with what
        only the composition root can build: the resolver, the status-list fetcher, the anchor
        check, the trust registry and our documents' bytes. `memoized` (the consumer page) answers
        the content-determined parts from this process's memos."""
        resolver = resolver or self.resolver(session)
        return pipeline.credential_checks(
            session,
            resolver=resolver,
            status_lists=self.status_lists(session),
            anchor=anchor_check(session, self.anchor),
            trust=self.trust.current(),
            document_bytes=self.own_document_bytes(session),
            proof_memo=self.proof_memo if memoized else None,
            check_memo=self.check_memo if memoized else None,
        )

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
        backup_url = self.settings.backup_url

        def local(did: str) -> dict | None:
            return local_did_document(session, did, own_url=own_url, backup_url=backup_url)

        if read_once:
            read: dict[str, dict | None] = {}

            def local(did: str) -> dict | None:  # noqa: F811 - the memoizing variant
                if did not in read:
                    read[did] = local_did_document(
                        session, did, own_url=own_url, backup_url=backup_url
                    )
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
        return sign_as_instance(session, self.issuer_config, self.master_key, credential)

    def operator_did(self, session: Session, token: str | None) -> str:
        """The DID of the operator `token` belongs to (NotAuthenticated otherwise)."""
        return operators.authenticate(session, token).did

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


def make_pusher(runtime: Runtime) -> BackupPusher | None:
    """The snapshot pusher, or None when no backup is configured (DBP_BACKUP_PUSH_URL)."""
    return pusher_for(runtime.settings, runtime.engine, runtime.master_key, runtime.document_store)


def pusher_for(
    settings: Settings,
    engine: Engine,
    keystore: bytes | Keystore,
    documents: Callable[[], ObjectStore],
) -> BackupPusher | None:
    if not settings.backup_push_url:
        return None
    if settings.backup_snapshot_key_file is None:
        raise SettingsError(
            "DBP_BACKUP_PUSH_URL needs DBP_BACKUP_SNAPSHOT_KEY_FILE (`dbp backup keygen`)"
        )
    token = settings.backup_push_token
    return BackupPusher(
        engine,
        keystore,
        documents,
        PushConfig(
            push_url=settings.backup_push_url,
            public_url=settings.public_url,
            snapshot_key=load_snapshot_key(settings.backup_snapshot_key_file),
            token=token.get_secret_value() if token else None,
            poll_s=settings.backup_push_poll_s,
        ),
    )


def local_did_document(
    session: Session, did: str, *, own_url: str, backup_url: str | None = None
) -> dict | None:
    """DID documents this service itself publishes: operators', holders' and batteries'."""
    operator = operators.by_did(session, did)
    if operator is not None:
        return operators.did_document(session, operator)
    holder = holders.by_did(session, did)
    if holder is not None:
        return holders.did_document(holder)
    route = registry.by_did(session, did)
    if route is not None:
        return battery_dids.did_document(route, own_url=own_url, backup_url=backup_url)
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

    def operator_names(self, session: Session, dids: list[str]) -> dict[str, str]:
        return views.operator_names(session, dids)

    def verify_credential(self, session: Session, credential: object) -> Result:
        return self._runtime.verify_credential(session, credential, memoized=True)

    def battery_by_key(self, session: Session, gtin: str, serial: str) -> BatteryRecord | None:
        return views.battery_by_key(session, gtin, serial)

    def credentials_for_tiers(
        self, session: Session, battery_id: str, tiers: Iterable[Tier]
    ) -> list[dict]:
        return views.released_credentials(session, battery_id, list(tiers))


class BackupPassports(IssuerPassports):
    """The backup role's passports: the public tier from the tables the newest snapshot filled,
    restricted tiers decrypted from that snapshot in memory (issuer/backup/restricted.py)."""

    def __init__(self, runtime: Runtime, restricted: RestrictedCopy) -> None:
        super().__init__(runtime)
        self._restricted = restricted

    def credentials_for_tiers(
        self, session: Session, battery_id: str, tiers: Iterable[Tier]
    ) -> list[dict]:
        return self._restricted.released(session, battery_id, list(tiers))
