"""Structural rules of the VC Data Model (2.0, and 1.1 for legacy credentials we only verify).

These are the MUST statements a document has to meet before any proof is looked at; each failure
names the property path and the rule it breaks.
"""

from __future__ import annotations

import re
from typing import Any

from vocab.datetimes import InvalidDateTime, parse_datetime
from vocab.errors import VocabError

VC_V2 = "https://www.w3.org/ns/credentials/v2"
VC_V1 = "https://www.w3.org/2018/credentials/v1"

# RFC 3986 absolute URI: a scheme followed by ':' (DIDs, urn:uuid, https, data: all qualify).
_ABSOLUTE_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s]*$")


class CredentialMalformed(VocabError):
    code = "malformed-credential"
    status = 400

    def __init__(self, path: str, rule: str) -> None:
        super().__init__(f"{path}: {rule}")
        self.path = path
        self.rule = rule


def is_url(value: Any) -> bool:
    return isinstance(value, str) and bool(_ABSOLUTE_URL.match(value))


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def data_model_version(document: dict) -> str:
    """'2.0' or '1.1', from the first @context entry; anything else is malformed."""
    if not isinstance(document, dict):
        raise CredentialMalformed("$", "must be a JSON object")
    if "@context" not in document:
        raise CredentialMalformed("@context", "is required")
    contexts = as_list(document["@context"])
    if not contexts:
        raise CredentialMalformed("@context", "must not be empty")
    first = contexts[0]
    if first == VC_V2:
        version = "2.0"
    elif first == VC_V1:
        version = "1.1"
    else:
        raise CredentialMalformed("@context[0]", f"must be {VC_V2!r} (or {VC_V1!r} for VC 1.1)")
    for i, item in enumerate(contexts[1:], start=1):
        if not (is_url(item) or isinstance(item, dict)):
            raise CredentialMalformed(f"@context[{i}]", "must be a URL or a context object")
    return version


def _check_type(document: dict, required: str) -> None:
    types = document.get("type")
    if types is None:
        raise CredentialMalformed("type", "is required")
    types = as_list(types)
    if not types or not all(isinstance(t, str) and t for t in types):
        raise CredentialMalformed("type", "must be a string or a list of strings")
    if required not in types:
        raise CredentialMalformed("type", f"must include {required!r}")


def _check_id(obj: dict, path: str) -> None:
    if "id" in obj and not is_url(obj["id"]):
        raise CredentialMalformed(f"{path}.id" if path else "id", "must be a URL")


def _check_datetime(document: dict, key: str) -> None:
    if key in document:
        try:
            parse_datetime(document[key], require_timezone=key in ("validFrom", "validUntil"))
        except InvalidDateTime as exc:
            raise CredentialMalformed(key, str(exc)) from None


def _check_typed_objects(document: dict, key: str, *, id_required: bool = False) -> None:
    if key not in document:
        return
    for i, item in enumerate(as_list(document[key])):
        path = f"{key}[{i}]" if isinstance(document[key], list) else key
        if not isinstance(item, dict):
            raise CredentialMalformed(path, "must be an object")
        if "type" not in item or not all(isinstance(t, str) for t in as_list(item["type"])):
            raise CredentialMalformed(f"{path}.type", "is required")
        if id_required and "id" not in item:
            raise CredentialMalformed(f"{path}.id", "is required")
        _check_id(item, path)


def _check_language_value(document: dict, key: str) -> None:
    if key not in document:
        return
    for item in as_list(document[key]):
        if isinstance(item, str):
            continue
        if isinstance(item, dict) and isinstance(item.get("@value"), str):
            continue
        raise CredentialMalformed(key, "must be a string or a language value object")


def issuer_id(credential: dict) -> str:
    issuer = credential.get("issuer")
    return issuer.get("id") if isinstance(issuer, dict) else issuer


def check_credential(credential: Any) -> str:
    """Raise `CredentialMalformed` unless `credential` meets the data model; return its version."""
    version = data_model_version(credential)
    _check_id(credential, "")
    _check_type(credential, "VerifiableCredential")
    if "issuer" not in credential:
        raise CredentialMalformed("issuer", "is required")
    issuer = credential["issuer"]
    if isinstance(issuer, dict):
        if not is_url(issuer.get("id")):
            raise CredentialMalformed("issuer.id", "must be a URL")
    elif not is_url(issuer):
        raise CredentialMalformed("issuer", "must be a URL or an object with an id URL")
    if "credentialSubject" not in credential:
        raise CredentialMalformed("credentialSubject", "is required")
    subjects = as_list(credential["credentialSubject"])
    if not subjects:
        raise CredentialMalformed("credentialSubject", "must not be empty")
    for i, subject in enumerate(subjects):
        listed = isinstance(credential["credentialSubject"], list)
        path = f"credentialSubject[{i}]" if listed else "credentialSubject"
        if not isinstance(subject, dict) or not subject:
            raise CredentialMalformed(path, "must be an object holding at least one claim")
        _check_id(subject, path)
    _check_language_value(credential, "name")
    _check_language_value(credential, "description")
    if version == "2.0":
        _check_datetime(credential, "validFrom")
        _check_datetime(credential, "validUntil")
    else:
        if "issuanceDate" not in credential:
            raise CredentialMalformed("issuanceDate", "is required in a VC 1.1 credential")
        _check_datetime(credential, "issuanceDate")
        _check_datetime(credential, "expirationDate")
    _check_typed_objects(credential, "credentialStatus")
    _check_typed_objects(credential, "credentialSchema", id_required=True)
    for key in ("termsOfUse", "evidence", "refreshService", "renderMethod", "confidenceMethod"):
        _check_typed_objects(credential, key)
    return version


def check_presentation(presentation: Any) -> str:
    version = data_model_version(presentation)
    _check_id(presentation, "")
    _check_type(presentation, "VerifiablePresentation")
    if "holder" in presentation:
        holder = presentation["holder"]
        holder = holder.get("id") if isinstance(holder, dict) else holder
        if not is_url(holder):
            raise CredentialMalformed("holder", "must be a URL or an object with an id URL")
    for i, item in enumerate(as_list(presentation.get("verifiableCredential", []))):
        if not isinstance(item, dict):
            raise CredentialMalformed(f"verifiableCredential[{i}]", "must be an object")
    return version
