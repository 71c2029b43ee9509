"""Credentials as the wallet keeps them: reading what a user imports (a VC, a JSON array, a VC-API
answer, a presentation's credentials, a compact vc+jwt), naming each one, and summing it up.

A Data Integrity credential is kept as the JSON it is. A vc+jwt is kept in its VC 2.0 enveloped
form (`EnvelopedVerifiableCredential` with a `data:application/vc+jwt,` URL), which is also how it
goes into a presentation. Nothing here verifies a signature (`wallet.verify` does).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from proofs import jose
from proofs.canonical import jcs
from proofs.errors import ProofError
from vocab import json_text
from vocab.context import ACCESS_GRANT_CREDENTIAL, AUTHORITY_CREDENTIAL
from vocab.context import LEGITIMATE_INTEREST_CREDENTIAL as LEGITIMATE_INTEREST
from vocab.errors import VocabError
from vocab.vcdm import as_list, check_credential, issuer_id
from wallet.errors import BadInput, UnknownCredential

ENVELOPED_VC = "EnvelopedVerifiableCredential"
ENVELOPED_VP = "EnvelopedVerifiablePresentation"
ROLE_TYPES = (LEGITIMATE_INTEREST, AUTHORITY_CREDENTIAL)
ENTITLEMENT_TYPES = (*ROLE_TYPES, ACCESS_GRANT_CREDENTIAL)
DI, VC_JWT = "di", "vc+jwt"


def is_enveloped(document: object) -> bool:
    return isinstance(document, dict) and ENVELOPED_VC in as_list(document.get("type", []))


def _jwt_payload(token: str) -> dict[str, Any]:
    try:
        _, payload, _ = jose.parse_compact(token)
        claims = json_text.loads_lenient(payload)
    except (ProofError, ValueError) as exc:
        raise BadInput(f"not a readable JWT: {exc}") from None
    if not isinstance(claims, dict):
        raise BadInput("the JWT payload is not a JSON object")
    return claims


def content(document: dict[str, Any]) -> dict[str, Any]:
    """The credential itself: the document, or the payload inside its envelope (unverified)."""
    if is_enveloped(document):
        try:
            return _jwt_payload(jose.unwrap_envelope(document))
        except ProofError as exc:
            raise BadInput(f"a malformed enveloped credential: {exc}") from None
    return document


def credential_format(document: dict[str, Any]) -> str:
    return VC_JWT if is_enveloped(document) else DI


def reference(document: dict[str, Any]) -> str:
    """How the wallet names a credential: its `id`, else a digest of what was signed."""
    inner = content(document)
    if isinstance(inner.get("id"), str):
        return inner["id"]
    signed = document["id"].encode() if is_enveloped(document) else jcs(document)
    return "sha256:" + hashlib.sha256(signed).hexdigest()


def _checked(document: object, where: str) -> dict[str, Any]:
    if not isinstance(document, dict):
        raise BadInput(f"{where}: a credential must be a JSON object")
    if is_enveloped(document):
        try:
            jose.unwrap_envelope(document)
        except ProofError as exc:
            raise BadInput(f"{where}: {exc}") from None
    elif not document.get("proof"):
        raise BadInput(f"{where}: the credential has no proof, so nothing vouches for it")
    try:
        check_credential(content(document), lenient_time=True)
    except VocabError as exc:
        raise BadInput(f"{where}: not a verifiable credential ({exc})") from None
    return document


def _from_compact(token: str, where: str) -> list[dict[str, Any]]:
    header, _, _ = _split_header(token, where)
    typ = header.get("typ")
    if typ in ("vc+jwt", "application/vc+jwt"):
        return [_checked(jose.envelope(token, "vc+jwt"), where)]
    if typ in ("vp+jwt", "application/vp+jwt"):
        return _from_json(_jwt_payload(token).get("verifiableCredential", []), where)
    if typ is None and "VerifiableCredential" in as_list(_jwt_payload(token).get("type", [])):
        # typ is only RECOMMENDED (VC-JOSE-COSE 3.1.1); the payload says what it is
        return [_checked(jose.envelope(token, "vc+jwt"), where)]
    raise BadInput(f"{where}: a compact JWT of typ {typ!r}; expected vc+jwt or vp+jwt")


def _split_header(token: str, where: str) -> tuple[dict, bytes, bytes]:
    try:
        return jose.parse_compact(token)
    except ProofError as exc:
        raise BadInput(f"{where}: {exc}") from None


def _from_json(data: object, where: str) -> list[dict[str, Any]]:
    if isinstance(data, list):
        out = []
        for i, item in enumerate(data):
            out.extend(_from_json(item, f"{where}[{i}]"))
        return out
    if isinstance(data, str) and data.count(".") == 2:
        return _from_compact(data, where)
    if not isinstance(data, dict):
        raise BadInput(f"{where}: expected a credential, a list or a presentation")
    types = as_list(data.get("type", []))
    if ENVELOPED_VP in types:
        try:
            token = jose.unwrap_envelope(data)
        except ProofError as exc:
            raise BadInput(f"{where}: {exc}") from None
        return _from_compact(token, where)
    if "VerifiablePresentation" in types:
        return _from_json(
            as_list(data.get("verifiableCredential", [])), f"{where}.verifiableCredential"
        )
    if "VerifiableCredential" in types or ENVELOPED_VC in types:
        return [_checked(data, where)]
    # VC-API issue answers {verifiableCredential} and dbp's access answers {verifiableCredentials}
    for key in ("verifiableCredential", "verifiableCredentials"):
        if key in data:
            return _from_json(as_list(data[key]), f"{where}.{key}")
    raise BadInput(f"{where}: neither a credential nor a presentation (no such type)")


def parse_input(text: str, where: str) -> list[dict[str, Any]]:
    """Every credential in one imported file (or stdin): JSON or a compact JWT."""
    stripped = text.strip()
    if not stripped:
        raise BadInput(f"{where}: empty")
    if stripped[0] not in '[{"':
        return _from_compact(stripped, where)
    try:
        data = json_text.loads_lenient(stripped)
    except json_text.DuplicateKey as exc:
        raise BadInput(f"{where}: {exc}") from None
    except ValueError as exc:
        raise BadInput(f"{where}: not JSON ({exc.args[0]})") from None
    return _from_json(data, where)


@dataclass(frozen=True)
class Summary:
    id: str
    format: str
    types: list[str]
    issuer: str | None
    subject: str | None
    valid_from: str | None
    valid_until: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "format": self.format,
            "types": self.types,
            "issuer": self.issuer,
            "subject": self.subject,
            "validFrom": self.valid_from,
            "validUntil": self.valid_until,
        }


def subject_of(credential: dict[str, Any]) -> str | None:
    """Who the credential is about: the subject's id, or a grant's grantee."""
    for subject in as_list(credential.get("credentialSubject")):
        if isinstance(subject, dict):
            for key in ("id", "grantee"):
                if isinstance(subject.get(key), str):
                    return subject[key]
    return None


def summary(entry: dict[str, Any]) -> Summary:
    document = entry["credential"]
    inner = content(document)
    types = [t for t in as_list(inner.get("type", [])) if t != "VerifiableCredential"]
    issuer = issuer_id(inner)
    return Summary(
        id=entry["id"],
        format=credential_format(document),
        types=types,
        issuer=issuer if isinstance(issuer, str) else None,
        subject=subject_of(inner),
        valid_from=inner.get("validFrom") or inner.get("issuanceDate"),
        valid_until=inner.get("validUntil") or inner.get("expirationDate"),
    )


def find(entries: list[dict[str, Any]], wanted: str) -> dict[str, Any]:
    """The stored credential named `wanted`: its full id, the id without `urn:uuid:`, or a
    prefix that only one credential's id starts with."""
    for entry in entries:
        if entry["id"] in (wanted, f"urn:uuid:{wanted}"):
            return entry
    matches = [
        e
        for e in entries
        if e["id"].startswith(wanted) or e["id"].removeprefix("urn:uuid:").startswith(wanted)
    ]
    if len(matches) == 1 and wanted:
        return matches[0]
    if len(matches) > 1 and wanted:
        raise UnknownCredential(
            f"{wanted!r} matches {len(matches)} credentials; give more of the id"
        )
    raise UnknownCredential(f"no credential {wanted!r} in the wallet (see `dbp wallet list`)")
