"""Lasting trust between instances for the federated passport search.

A bearer token a peer issued (DBP_AUTHORITY_PEER_TOKENS) expires with the peer's session
lifetime, after which the search silently degrades to `refused`. Instead, for an authority signed
in here by presentation, this instance vouches for it towards each peer, per query:

1. it asks the peer for a challenge bound to the peer's own origin (`POST /challenges`,
   `{"domain": <peer URL>}`): single use, short-lived, so a captured query cannot be replayed;
2. it presents the authority's AuthorityCredential (kept in the portal session since the
   sign-in) in a presentation it holds and signs with this instance's key
   (`issuer.instance.present_as_instance`), bound to that challenge and domain;
3. it sends the query to the peer's `GET /passports` with that presentation in the
   `DBP-Peer-Presentation` header (base64url of the JSON).

The peer (`accept`) takes it when the presentation verifies, is over one of its unused
challenges and bound to its domain, is signed by an instance it lists in
DBP_AUTHORITY_PEER_INSTANCES, and every credential in it is a role credential about one
authority that verifies under the peer's own trust rules exactly as its own sign-in would
(`verifier.presentations.authenticate_forwarded`: issuer trusted for the role, not expired, not
revoked or suspended). Refusals are 401/403 problems with the reason. Either way the decision goes
into the peer's hash-chained access log (action `federated-search`): the requester is the
authority, and `reason` names the forwarding instance (`forwarded by <DID>`) for a release.

An authority using a bearer token here (API use: no credential in its session) keeps the token
path of DBP_AUTHORITY_PEER_TOKENS."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Protocol

import httpx
import orjson
from sqlalchemy.engine import Engine
from sqlmodel import Session

from infra.fetch import FetchPolicy, fetch
from issuer.instance import present_as_instance
from portal.tables import PortalSession
from proofs.signer import Keystore
from verifier import audit
from verifier.access import record
from verifier.audit import Decision
from verifier.errors import InvalidPresentation, Refusal, WrongRole
from verifier.policy import AUTHORITY_READERS
from verifier.presentations import VerifyPresentation, authenticate_forwarded
from vocab import json_text
from vocab.datetimes import utcnow

HEADER = "DBP-Peer-Presentation"
ACTION = "federated-search"
FORWARDED = "forwarded"  # the kind of the (never stored) session of a forwarded query
MAX_HEADER = 64 * 1024


class Runtime(Protocol):
    """What lasting peer trust needs of the service's runtime."""

    @property
    def engine(self) -> Engine: ...

    @property
    def master_key(self) -> bytes | Keystore: ...

    @property
    def settings(self) -> Any: ...

    def presentation_verifier(self) -> VerifyPresentation: ...


class PeerRefusedChallenge(Exception):
    """The peer would not give a challenge to present over."""


# --- this instance asks ------------------------------------------------------------------------


def _detail(body: bytes) -> str:
    try:
        problem = json_text.loads(body)
    except ValueError:
        return ""
    if isinstance(problem, dict) and isinstance(problem.get("detail"), str):
        return problem["detail"][:300]
    return ""


def presenter(
    rt: Runtime, client: httpx.Client, policy: FetchPolicy, credentials: list[dict]
) -> Callable[[str], dict[str, str]]:
    """peer URL -> the header that vouches for the signed-in authority at that peer (a fresh
    challenge of the peer each time). Raises HostNotAllowed / FetchFailed, or
    PeerRefusedChallenge when the peer answers without a challenge."""

    def headers_for(peer: str) -> dict[str, str]:
        fetched = fetch(
            client, policy, "POST", f"{peer}/challenges",
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            content=orjson.dumps({"domain": peer}), max_bytes=64 * 1024,
        )  # fmt: skip
        if fetched.status != 201 and fetched.status != 200:
            reason = _detail(fetched.body) or f"HTTP {fetched.status}"
            raise PeerRefusedChallenge(f"the instance gave no challenge: {reason}")
        try:
            answer = json_text.loads(fetched.body)
            challenge, domain = answer["challenge"], answer["domain"]
        except (ValueError, KeyError, TypeError):
            raise PeerRefusedChallenge("the instance's challenge answer is not usable") from None
        if not isinstance(challenge, str) or domain != peer:
            raise PeerRefusedChallenge(
                f"the instance bound its challenge to {domain!r}, not {peer}"
            )
        with Session(rt.engine) as session:
            vp = present_as_instance(
                session, rt.master_key, credentials, challenge=challenge, domain=peer
            )
        return {HEADER: base64.urlsafe_b64encode(orjson.dumps(vp)).decode().rstrip("=")}

    return headers_for


# --- a peer's instance asks here -------------------------------------------------------------


def _presentation(value: str) -> object:
    if len(value) > MAX_HEADER:
        raise InvalidPresentation(f"the {HEADER} header is longer than {MAX_HEADER} characters")
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        return json_text.loads(raw)
    except (binascii.Error, ValueError):
        raise InvalidPresentation(
            f"the {HEADER} header is not a presentation (base64url of its JSON)"
        ) from None


def accept(session: Session, rt: Runtime, value: str) -> PortalSession:
    """The forwarded authority of a `DBP-Peer-Presentation` header, as a session row that is
    never stored (kind `forwarded`: it lasts for this request only); a logged refusal
    otherwise."""
    now = utcnow()
    decision = Decision(action=ACTION)
    spent: list[str] = []
    try:
        presented = authenticate_forwarded(
            session, _presentation(value), rt.presentation_verifier(), decision, now=now,
            spent=spent, instances=rt.settings.authority_peer_instance_dids,
        )  # fmt: skip
        readers = sorted({r.reader for r in presented.roles if r.reader in AUTHORITY_READERS})
        if not readers:
            raise WrongRole("a forwarded search needs the authority's AuthorityCredential")
    except Refusal as refusal:
        decision.outcome, decision.reason = audit.REFUSED, refusal.code
        record(session, decision, spent, now)
        raise
    decision.outcome = audit.RELEASED
    decision.reason = f"forwarded by {presented.forwarded_by}"
    lost = record(session, decision, spent, now)
    if lost is not None:
        raise lost
    grants = {"readers": readers, "role": decision.role, "via": presented.forwarded_by}
    return PortalSession(
        id_hash="", kind=FORWARDED, subject=presented.requester, grants=json.dumps(grants),
        csrf="", created_at=now, expires_at=now + timedelta(seconds=1),
    )  # fmt: skip
