"""Bitstring Status Lists (W3C Recommendation, May 2025): one revocation and one suspension list per
operator at a time, random index allocation without reuse, status changes, the signed list
credentials served at `{DBP_PUBLIC_URL}/status-lists/{id}`.

Indexes are drawn at random (spec §2.1: "Implementations SHOULD assign indexes randomly") from an
in-process set of the indexes known to be taken. The set may be stale when several processes
issue at once, so it is only a hint: the primary key (list, index) of `status_entries` is what
forbids reuse, and a collision fails the transaction, which the caller retries after `forget()`.

The served credential is re-signed and stored in the same transaction as the bit change, so a
reader never sees a list that disagrees with the database. There is no `ttl` and the HTTP answer
says `Cache-Control: no-cache` with a strong ETag: every fetch revalidates (cheap with
If-None-Match) and sees a change at once, which is what revocation needs.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import uuid
from dataclasses import dataclass

import orjson
from sqlalchemy import insert, update
from sqlmodel import Session, select

from issuer import operators
from issuer.config import IssuerConfig
from issuer.errors import (
    InvalidStatusRequest,
    NotAuthorized,
    StatusChangeRefused,
    UnknownCredential,
    UnknownStatusList,
)
from issuer.tables import IssuedCredential, Operator, StatusEntry, StatusList
from proofs import dataintegrity
from vocab import bitstring
from vocab.context import VC_CONTEXT_URL
from vocab.datetimes import format_datetime, utcnow

LIST_ENTRIES = bitstring.MIN_ENTRIES
# Random draws before falling back to listing the free indexes (only near a full list).
_DRAWS = 64


@dataclass(frozen=True)
class AllocatedEntry:
    list_id: str
    purpose: str
    index: int
    entry: dict  # the BitstringStatusListEntry a credential carries


class _Allocator:
    """Indexes known to be taken, per list, in this process (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._taken: dict[str, set[int]] = {}

    def forget(self) -> None:
        with self._lock:
            self._taken.clear()

    def draw(self, session: Session, status_list: StatusList) -> int | None:
        """A random index of the list that nobody is known to hold, or None if it is full."""
        with self._lock:
            taken = self._taken.get(status_list.id)
        if taken is None:
            rows = session.exec(
                select(StatusEntry.list_index).where(StatusEntry.list_id == status_list.id)
            ).all()
            taken = set(rows)
            with self._lock:
                taken = self._taken.setdefault(status_list.id, taken)
        with self._lock:
            size = status_list.size
            if len(taken) >= size:
                return None
            for _ in range(_DRAWS):
                index = secrets.randbelow(size)
                if index not in taken:
                    taken.add(index)
                    return index
            free = [i for i in range(size) if i not in taken]
            index = free[secrets.randbelow(len(free))]
            taken.add(index)
            return index


allocator = _Allocator()


def list_url(config: IssuerConfig, list_id: str) -> str:
    return config.status_list_url(list_id)


def _list_credential(config: IssuerConfig, row: StatusList, issuer_did: str) -> dict:
    url = list_url(config, row.id)
    return {
        "@context": [VC_CONTEXT_URL],
        "id": url,
        "type": ["VerifiableCredential", bitstring.LIST_CREDENTIAL_TYPE],
        "issuer": issuer_did,
        "validFrom": format_datetime(row.updated_at),
        "credentialSubject": {
            "id": f"{url}#list",
            "type": bitstring.LIST_TYPE,
            "statusPurpose": row.purpose,
            "encodedList": bitstring.encode(row.bits),
        },
    }


def _sign(session: Session, config: IssuerConfig, row: StatusList, operator: Operator) -> None:
    signing = operators.signing_key(session, operator, config.master_key)
    signed = dataintegrity.create_proof(
        _list_credential(config, row, operator.did),
        signing.key,
        signing.verification_method,
        proof_purpose="assertionMethod",
    )
    row.credential_json = orjson.dumps(signed).decode()
    row.etag = '"' + hashlib.sha256(row.credential_json.encode()).hexdigest()[:32] + '"'


def create_list(
    session: Session, config: IssuerConfig, operator: Operator, purpose: str
) -> StatusList:
    if purpose not in bitstring.PURPOSES:
        raise ValueError(f"unsupported status purpose {purpose!r}")
    now = utcnow()
    row = StatusList(
        id=str(uuid.uuid4()),
        operator_id=operator.id,
        purpose=purpose,
        size=LIST_ENTRIES,
        bits=bytes(bitstring.empty_bitstring(LIST_ENTRIES)),
        credential_json="",
        etag="",
        created_at=now,
        updated_at=now,
    )
    _sign(session, config, row, operator)
    session.add(row)
    session.flush()
    return row


def _open_list(
    session: Session, config: IssuerConfig, operator: Operator, purpose: str
) -> StatusList:
    row = session.exec(
        select(StatusList)
        .where(
            StatusList.operator_id == operator.id,
            StatusList.purpose == purpose,
            StatusList.full == False,  # noqa: E712 - SQL comparison
        )
        .order_by(StatusList.created_at.desc())  # type: ignore[union-attr]
    ).first()
    return row or create_list(session, config, operator, purpose)


def allocate(
    session: Session, config: IssuerConfig, operator: Operator, count: int
) -> list[tuple[AllocatedEntry, AllocatedEntry]]:
    """`count` pairs of (revocation, suspension) entries, each at a fresh random index."""
    out = {
        purpose: _pick(session, config, operator, purpose, count) for purpose in bitstring.PURPOSES
    }
    return list(zip(out[bitstring.REVOCATION], out[bitstring.SUSPENSION], strict=True))


def allocate_purposes(
    session: Session, config: IssuerConfig, operator: Operator, purposes: tuple[str, ...]
) -> list[AllocatedEntry]:
    """One entry per purpose (VC-API issuance, options.credentialStatus)."""
    return [_pick(session, config, operator, purpose, 1)[0] for purpose in purposes]


def _pick(
    session: Session, config: IssuerConfig, operator: Operator, purpose: str, count: int
) -> list[AllocatedEntry]:
    picked: list[AllocatedEntry] = []
    row = _open_list(session, config, operator, purpose)
    while len(picked) < count:
        index = allocator.draw(session, row)
        if index is None:  # the list is full: roll over to a new one
            row.full = True
            session.add(row)
            session.flush()
            row = _open_list(session, config, operator, purpose)
            continue
        url = list_url(config, row.id)
        picked.append(AllocatedEntry(row.id, purpose, index, bitstring.entry(url, purpose, index)))
    return picked


def record(session: Session, credential_row_id: str, entries: list[AllocatedEntry]) -> None:
    """Give the entries to a stored credential (the primary key refuses a taken index)."""
    for allocated in entries:
        session.add(
            StatusEntry(
                list_id=allocated.list_id,
                list_index=allocated.index,
                credential_row_id=credential_row_id,
                purpose=allocated.purpose,
            )
        )


def record_many(session: Session, entries: list[tuple[str, list[AllocatedEntry]]]) -> None:
    """`record` for several stored credentials, `(credential row id, entries)`, as one multi-row
    INSERT: bulk issuance writes eight per passport, and building each as an ORM object was
    ~12% of the committing thread's CPU (cProfile with a CPU clock, issue 15). The credentials'
    rows are flushed first (the ORM insert autoflushes), so the foreign key holds."""
    rows = [
        {
            "list_id": allocated.list_id,
            "list_index": allocated.index,
            "credential_row_id": row_id,
            "purpose": allocated.purpose,
        }
        for row_id, allocated_entries in entries
        for allocated in allocated_entries
    ]
    if rows:
        session.execute(insert(StatusEntry), rows)


# --- status changes ------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusChange:
    purpose: str  # "revocation" or "suspension"
    value: bool  # True sets the bit (revoke, suspend); False clears it (reinstate)


def current_status(session: Session, row: IssuedCredential) -> list[dict]:
    """Each status entry of a stored credential with its bit now."""
    out = []
    for entry, status_list in session.exec(
        select(StatusEntry, StatusList)
        .where(StatusEntry.credential_row_id == row.id, StatusEntry.list_id == StatusList.id)
        .order_by(StatusEntry.purpose)
    ).all():
        out.append(
            {
                **bitstring.entry(status_list_url_of(status_list), entry.purpose, entry.list_index),
                "status": bitstring.get_bit(status_list.bits, entry.list_index),
            }
        )
    return out


def status_list_url_of(row: StatusList) -> str:
    # The URL a list was published under is inside its signed credential.
    return orjson.loads(row.credential_json)["id"]


def change_status(
    session: Session,
    config: IssuerConfig,
    operator: Operator,
    credential_id: str,
    change: StatusChange,
) -> IssuedCredential:
    """Set or clear one status bit of a credential the operator issued, re-sign the list.

    Revocation is final (spec §2.1: revocation "is not reversible"); suspension is not.
    Setting a bit that is already set (or clearing a clear one) changes nothing.
    """
    row = session.exec(
        select(IssuedCredential).where(IssuedCredential.credential_id == credential_id)
    ).first()
    if row is None:
        raise UnknownCredential(f"no credential {credential_id!r} was issued here")
    if row.operator_id != operator.id:
        raise NotAuthorized(
            f"credential {credential_id!r} was issued by another operator; only its issuer may "
            "change its status"
        )
    entry = session.exec(
        select(StatusEntry).where(
            StatusEntry.credential_row_id == row.id, StatusEntry.purpose == change.purpose
        )
    ).first()
    if entry is None:
        raise InvalidStatusRequest(
            "credentialStatus.statusPurpose",
            f"credential {credential_id!r} has no {change.purpose} status entry",
            rule="has-entry",
        )
    status_list = session.get(StatusList, entry.list_id)
    assert status_list is not None
    if bitstring.get_bit(status_list.bits, entry.list_index) == change.value:
        return row
    if change.purpose == bitstring.REVOCATION and not change.value:
        raise StatusChangeRefused(
            "status",
            f"credential {credential_id!r} is revoked, and revocation is not reversible "
            "(W3C Bitstring Status List v1.0, section 2.1: statusPurpose 'revocation' ... "
            "'This status is not reversible'); issue a new credential instead",
        )
    # Bump the version first: that write locks the row (PostgreSQL) or the database (SQLite)
    # until commit, so two changes to one list cannot both start from the same old bits.
    session.execute(
        update(StatusList)
        .where(StatusList.id == status_list.id)
        .values(version=StatusList.version + 1)
    )
    status_list = session.exec(
        select(StatusList)
        .where(StatusList.id == entry.list_id)
        .execution_options(populate_existing=True)
    ).one()
    bits = bytearray(status_list.bits)
    bitstring.set_bit(bits, entry.list_index, change.value)
    now = utcnow()
    status_list.bits = bytes(bits)
    status_list.updated_at = now
    _sign(session, config, status_list, operator)
    entry.updated_at = now
    entry.updated_by = operator.did
    session.add_all([status_list, entry])
    session.flush()
    return row


# --- serving ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServedList:
    body: bytes
    etag: str


def served(session: Session, list_id: str) -> ServedList:
    row = session.get(StatusList, list_id)
    if row is None:
        raise UnknownStatusList(f"no status list {list_id!r} is published here")
    return ServedList(row.credential_json.encode(), row.etag)


def publish(session: Session, operator: Operator, list_id: str) -> None:
    """VC-API `POST /status-lists/{id}/publish`: a list is re-signed and stored with every change
    (module docstring), so what is served is already the newest; this only checks the caller's
    right to ask."""
    row = session.get(StatusList, list_id)
    if row is None:
        raise UnknownStatusList(f"no status list {list_id!r} is published here")
    if row.operator_id != operator.id:
        raise NotAuthorized(f"status list {list_id!r} belongs to another operator")


def list_credential_by_url(session: Session, config: IssuerConfig, url: str) -> dict | None:
    """The stored credential of one of our lists, by its URL (for the verifier's status check)."""
    if not url.startswith(config.status_list_prefix):
        return None
    row = session.get(StatusList, url.removeprefix(config.status_list_prefix))
    return orjson.loads(row.credential_json) if row is not None else None


# --- the VC-API request ------------------------------------------------------------------------

# VC-API (W3C CCG; VCALM) UpdateCredentialStatusRequest:
#   {"credentialId": ..., "credentialStatus": {"type": ..., "statusPurpose": ...}, "status": bool}
# The earlier CCG draft's form is accepted as well:
#   {"credentialId": ..., "credentialStatus": [{"type": ..., "status": "revoked" | ...}]}
_ENTRY_TYPES = frozenset(
    {bitstring.ENTRY_TYPE, bitstring.LIST_TYPE, bitstring.LIST_CREDENTIAL_TYPE}
)
_LEGACY_STATUS = {
    "revoked": StatusChange(bitstring.REVOCATION, True),
    "unrevoked": StatusChange(bitstring.REVOCATION, False),
    "suspended": StatusChange(bitstring.SUSPENSION, True),
    "unsuspended": StatusChange(bitstring.SUSPENSION, False),
    "reinstated": StatusChange(bitstring.SUSPENSION, False),
    "active": StatusChange(bitstring.SUSPENSION, False),
}


def parse_update_request(body: dict) -> tuple[str, StatusChange]:
    credential_id = body.get("credentialId")
    if not isinstance(credential_id, str) or not credential_id:
        raise InvalidStatusRequest("credentialId", "is required: the id of the credential")
    status = body.get("credentialStatus")
    if isinstance(status, list):  # the earlier draft's form
        if len(status) != 1 or not isinstance(status[0], dict):
            raise InvalidStatusRequest(
                "credentialStatus", "must hold exactly one status object", rule="one-item"
            )
        item = status[0]
        if item.get("type") not in _ENTRY_TYPES | {"StatusList2021Credential"}:
            raise InvalidStatusRequest(
                "credentialStatus[0].type",
                f"must be {bitstring.LIST_CREDENTIAL_TYPE}",
                rule="allowed-values",
            )
        change = _LEGACY_STATUS.get(item.get("status"))  # type: ignore[arg-type]
        if change is None:
            raise InvalidStatusRequest(
                "credentialStatus[0].status",
                f"must be one of {', '.join(sorted(_LEGACY_STATUS))}",
                rule="allowed-values",
            )
        return credential_id, change
    if not isinstance(status, dict):
        raise InvalidStatusRequest(
            "credentialStatus",
            'is required: {"type": "BitstringStatusListEntry", "statusPurpose": '
            '"revocation" | "suspension"}',
        )
    unknown = sorted(set(body) - {"credentialId", "credentialStatus", "status"})
    if unknown:
        raise InvalidStatusRequest(unknown[0], "unknown field", rule="unknown-field")
    if status.get("type") not in _ENTRY_TYPES:
        raise InvalidStatusRequest(
            "credentialStatus.type", f"must be {bitstring.ENTRY_TYPE}", rule="allowed-values"
        )
    purpose = status.get("statusPurpose")
    if purpose not in bitstring.PURPOSES:
        raise InvalidStatusRequest(
            "credentialStatus.statusPurpose",
            f"must be one of {', '.join(bitstring.PURPOSES)}",
            rule="allowed-values",
        )
    # VC-API: a request without `status` sets the status (the status list suite sends none)
    value = body.get("status", True)
    if not isinstance(value, bool):
        raise InvalidStatusRequest(
            "status", "must be true (set the status) or false (clear it)", rule="type"
        )
    return credential_id, StatusChange(purpose, value)
