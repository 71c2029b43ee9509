"""`dbp wallet request`: restricted passport data for the wallet's role or grant.

From the QR code's item URI (GS1 Digital Link): the linkset (following 307s to the instance that
holds the battery now), its `https://w3id.org/dbp/vocab#restrictedDataAccess` link, a challenge
from that instance, a presentation of the wallet's role credentials and/or grants for this battery
signed over it, the released tier credentials, and each of those verified here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from vocab.catalogue import Tier
from vocab.context import ACCESS_GRANT_CREDENTIAL
from vocab.datetimes import InvalidDateTime, parse_datetime, utcnow
from vocab.errors import VocabError
from vocab.gs1 import ItemKey, parse_item_uri
from vocab.tiers import tiers_of_credential
from vocab.vcdm import as_list, issuer_id
from wallet import credentials as creds
from wallet import dynamic
from wallet.dids import Resolver
from wallet.errors import BadInput, ServiceError, WalletError
from wallet.net import Http
from wallet.presenting import presentation
from wallet.verify import Verdict, fetch_status_list, verify_credential

# The restricted-data link type; dbp instances before the GS1 linkset schema fix wrote the second.
RESTRICTED_DATA = (
    "https://w3id.org/dbp/linktypes/restrictedDataAccess",
    "https://w3id.org/dbp/vocab#restrictedDataAccess",
)
LINKSET = "application/linkset+json"
TIERS = tuple(t.value for t in Tier)


@dataclass
class Released:
    """One credential the service released, with the wallet's own verdict on it."""

    document: dict[str, Any]
    verdict: Verdict

    @property
    def credential(self) -> dict[str, Any]:
        return self.verdict.credential or {}

    @property
    def tier(self) -> str | None:
        subject = self.credential.get("credentialSubject")
        if isinstance(subject, dict) and isinstance(subject.get("accessTier"), str):
            return subject["accessTier"]
        # the one rule (vocab.tiers); an event credential may carry several tiers' data
        tiers = tiers_of_credential(self.credential)
        return "+".join(sorted(t.value for t in tiers)) if tiers else None


@dataclass
class Outcome:
    battery: str
    endpoint: str
    requester: str
    presented: list[str]
    tiers: list[str]
    released: list[Released]

    @property
    def verified(self) -> bool:
        return all(r.verdict.verified for r in self.released)

    def latest(self) -> list[dynamic.Latest]:
        """The latest value of each dynamic attribute among the credentials that verified."""
        return dynamic.latest_values(r.credential for r in self.released if r.verdict.verified)


def item_key(uri: str) -> ItemKey:
    try:
        return parse_item_uri(uri)
    except VocabError as exc:
        raise BadInput(f"{uri!r} is not a battery's QR link: {exc}") from None


def walked_up(linkset: object, key: ItemKey, where: str) -> None:
    """A GS1 resolver answers a serial it does not know with the links of the model (walk-up):
    a linkset whose anchor is no item URI means there is no such battery there."""
    contexts = linkset.get("linkset") if isinstance(linkset, dict) else None
    first = contexts[0] if isinstance(contexts, list) and contexts else None
    anchor = first.get("anchor") if isinstance(first, dict) else None
    if not isinstance(anchor, str):
        return
    try:
        parse_item_uri(anchor)
    except VocabError:
        raise ServiceError(
            f"{where} has no battery {key.gtin}/{key.serial}: it answered with the links of "
            f"{anchor} (the model)"
        ) from None


def access_link(linkset: object, where: str) -> str:
    """The restricted-data access target in an RFC 9264 linkset document."""
    contexts = linkset.get("linkset") if isinstance(linkset, dict) else None
    if not isinstance(contexts, list):
        raise ServiceError(f"{where} did not answer with a linkset")
    for context in contexts:
        for rel in RESTRICTED_DATA:
            targets = context.get(rel) if isinstance(context, dict) else None
            for target in targets if isinstance(targets, list) else []:
                if isinstance(target, dict) and isinstance(target.get("href"), str):
                    return target["href"]
    raise ServiceError(f"the linkset at {where} offers no restricted-data access link")


def _expired(credential: dict[str, Any], now: datetime) -> bool:
    ends = [credential.get("validUntil")]
    for subject in as_list(credential.get("credentialSubject")):
        if isinstance(subject, dict):
            ends.append(subject.get("expiry"))
    try:
        times = [parse_datetime(e, require_timezone=False) for e in ends if isinstance(e, str)]
    except InvalidDateTime:
        return True
    return any(t <= now for t in times)


def _names_battery(credential: dict[str, Any], key: ItemKey) -> bool:
    for subject in as_list(credential.get("credentialSubject")):
        for uri in as_list(subject.get("batteries", [])) if isinstance(subject, dict) else []:
            try:
                other = parse_item_uri(uri) if isinstance(uri, str) else None
            except VocabError:
                continue
            if other and (other.gtin, other.serial) == (key.gtin, key.serial):
                return True
    return False


def select(
    entries: list[dict[str, Any]], did: str, key: ItemKey, chosen: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """The credentials to present: those chosen, or else every unexpired role credential about
    the wallet's DID and every unexpired grant to it naming this battery."""
    if chosen:
        return [creds.find(entries, wanted) for wanted in chosen]
    now = utcnow()
    picked = []
    for entry in entries:
        try:
            inner = creds.content(entry["credential"])
        except WalletError:
            continue
        types = as_list(inner.get("type", []))
        if creds.subject_of(inner) != did or _expired(inner, now):
            continue
        is_role = any(t in types for t in creds.ROLE_TYPES)
        if is_role or (ACCESS_GRANT_CREDENTIAL in types and _names_battery(inner, key)):
            picked.append(entry)
    if not picked:
        raise BadInput(
            f"the wallet holds no unexpired role credential or access grant for {did} that "
            "covers this battery; import one (`dbp wallet import`) or pick one with --credential"
        )
    return picked


def request(
    uri: str,
    identity: dict[str, Any],
    entries: list[dict[str, Any]],
    http: Http,
    *,
    tiers: Sequence[str] = (),
    chosen: Sequence[str] = (),
) -> Outcome:
    key = item_key(uri)
    unknown = [t for t in tiers if t not in TIERS]
    if unknown:
        raise BadInput(f"unknown tier {unknown[0]!r}; tiers are {', '.join(TIERS)}")
    presented = select(entries, identity["did"], key, chosen)

    where, linkset = http.json("GET", uri, headers={"Accept": LINKSET})
    walked_up(linkset, key, where)
    endpoint = access_link(linkset, where)
    parts = urlsplit(endpoint)
    if not parts.scheme or not parts.netloc:
        raise ServiceError(f"the restricted-data link {endpoint!r} is not an absolute URL")
    origin = f"{parts.scheme}://{parts.netloc}"
    _, challenge = http.json("POST", f"{origin}/challenges", headers={"Accept": "application/json"})
    if not isinstance(challenge, dict) or not all(
        isinstance(challenge.get(k), str) for k in ("challenge", "domain")
    ):
        raise ServiceError(f"{origin}/challenges did not answer with a challenge and domain")

    vp = presentation(
        identity,
        [e["credential"] for e in presented],
        challenge=challenge["challenge"],
        domain=challenge["domain"],
    )
    body: dict[str, Any] = {"verifiablePresentation": vp}
    if tiers:
        body["tiers"] = list(dict.fromkeys(tiers))
    _, answer = http.json("POST", endpoint, json=body)
    documents = answer.get("verifiableCredentials") if isinstance(answer, dict) else None
    if not isinstance(documents, list):
        raise ServiceError(f"{endpoint} answered without verifiableCredentials")

    resolver = Resolver(http)
    fetch = fetch_status_list(http)
    released = [Released(d, verify_credential(d, resolver, fetch)) for d in documents]
    return Outcome(
        battery=str(answer.get("battery") or uri),
        endpoint=endpoint,
        requester=identity["did"],
        presented=[e["id"] for e in presented],
        tiers=[t for t in as_list(answer.get("tiers", [])) if isinstance(t, str)],
        released=released,
    )


def attributes(subject: object, path: str = "") -> list[dict[str, Any]]:
    """A credential subject as rows (path, value, unit): `{value, unit}` quantities stay one row,
    everything else is flattened to its leaves."""
    if isinstance(subject, dict):
        if "value" in subject and "unit" in subject and not isinstance(subject["value"], dict):
            rows = [{"attribute": path, "value": subject["value"], "unit": subject["unit"]}]
            rest = {k: v for k, v in subject.items() if k not in ("value", "unit")}
            return rows + [r for k, v in rest.items() for r in attributes(v, f"{path}.{k}")]
        rows = []
        for name, value in subject.items():
            if not path and name in ("id", "accessTier"):
                continue
            rows.extend(attributes(value, f"{path}.{name}" if path else name))
        return rows
    if isinstance(subject, list):
        return [r for i, v in enumerate(subject) for r in attributes(v, f"{path}[{i}]")]
    return [{"attribute": path, "value": subject, "unit": None}]


def as_json(outcome: Outcome) -> dict[str, Any]:
    """The `--json` shape (stable; documented in the README)."""
    return {
        "battery": outcome.battery,
        "endpoint": outcome.endpoint,
        "requester": outcome.requester,
        "presented": outcome.presented,
        "tiers": outcome.tiers,
        "verified": outcome.verified,
        "credentials": [
            {
                "id": r.credential.get("id"),
                "tier": r.tier,
                "types": [t for t in as_list(r.credential.get("type", [])) if isinstance(t, str)],
                "issuer": issuer_id(r.credential) if r.credential else None,
                "verified": r.verdict.verified,
                "checks": [c.as_json() for c in r.verdict.checks],
                # Data of a credential that failed verification is not passed on.
                "attributes": attributes(r.credential.get("credentialSubject"))
                if r.verdict.verified
                else None,
            }
            for r in outcome.released
        ],
        # Annex XIII point 4 and the battery status: the newest reading of each, with its time
        # and the credential it comes from (the others are history in `credentials`).
        "latest": [row.as_json() for row in outcome.latest()],
    }
