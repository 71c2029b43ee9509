"""Structural rules of the VC Data Model (2.0, and 1.1 for legacy credentials we only verify).

These are the MUST statements a document has to meet before any proof is looked at; each failure
names the property path and the rule it breaks.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from typing import Any

from vocab.datetimes import InvalidDateTime, parse_datetime
from vocab.errors import VocabError

VC_V2 = "https://www.w3.org/ns/credentials/v2"
VC_V1 = "https://www.w3.org/2018/credentials/v1"

# RFC 3986 absolute URI: a scheme followed by ':' (DIDs, urn:uuid, https, data: all qualify).
_ABSOLUTE_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s]*")
# BCP 47 language tag, well-formed shape (language, then subtags of up to 8 letters or digits).
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*")
_LANGUAGE_VALUE_KEYS = frozenset({"@value", "@language", "@direction"})
# Subresource Integrity metadata (one or more hash-expression, space separated).
_SRI = re.compile(r"(sha256|sha384|sha512)-[A-Za-z0-9+/]+={0,2}")
_SRI_DIGEST_BYTES = {"sha256": 32, "sha384": 48, "sha512": 64}
_MULTIBASE = {
    "u": re.compile(r"u[A-Za-z0-9_-]+"),  # base64url, no padding
    "z": re.compile(r"z[1-9A-HJ-NP-Za-km-z]+"),  # base58btc
}
ENVELOPED_VC = "EnvelopedVerifiableCredential"
# VCDM 2.0 section 4.5: objects that MUST have a type (credentialSchema also needs an id).
_TYPED_PROPERTIES = (
    "credentialStatus",
    "termsOfUse",
    "evidence",
    "refreshService",
    "renderMethod",
    "confidenceMethod",
)


class CredentialMalformed(VocabError):
    code = "malformed-credential"
    status = 400

    def __init__(self, path: str, rule: str) -> None:
        super().__init__(f"{path}: {rule}")
        self.path = path
        self.rule = rule


def is_url(value: Any) -> bool:
    return isinstance(value, str) and bool(_ABSOLUTE_URL.fullmatch(value))


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


def _check_datetime(document: dict, key: str, *, require_timezone: bool = True) -> datetime | None:
    if key not in document:
        return None
    try:
        return parse_datetime(document[key], require_timezone=require_timezone)
    except InvalidDateTime as exc:
        raise CredentialMalformed(key, str(exc)) from None


def _check_typed_objects(document: dict, key: str, *, id_required: bool = False) -> None:
    if key not in document:
        return
    for i, item in enumerate(as_list(document[key])):
        path = f"{key}[{i}]" if isinstance(document[key], list) else key
        if not isinstance(item, dict):
            raise CredentialMalformed(path, "must be an object")
        types = as_list(item.get("type", []))
        if not types or not all(isinstance(t, str) and t for t in types):
            raise CredentialMalformed(f"{path}.type", "is required (one or more strings)")
        if id_required and "id" not in item:
            raise CredentialMalformed(f"{path}.id", "is required")
        _check_id(item, path)


def _check_language_value(obj: dict, key: str, path: str = "") -> None:
    """`name` / `description`: a string, a language value object, or a list of them (11.1)."""
    if key not in obj:
        return
    where = f"{path}.{key}" if path else key
    values = obj[key]
    if isinstance(values, list) and not values:
        raise CredentialMalformed(where, "must not be an empty list")
    for i, item in enumerate(as_list(values)):
        at = f"{where}[{i}]" if isinstance(values, list) else where
        if isinstance(item, str):
            continue
        if not isinstance(item, dict) or not isinstance(item.get("@value"), str):
            raise CredentialMalformed(at, "must be a string or a language value object")
        extra = sorted(set(item) - _LANGUAGE_VALUE_KEYS)
        if extra:
            raise CredentialMalformed(
                at,
                f"a language value object holds only @value, @language and @direction, not {extra}",
            )
        language = item.get("@language")
        if language is not None and not (
            isinstance(language, str) and _LANGUAGE_TAG.fullmatch(language)
        ):
            raise CredentialMalformed(
                f"{at}.@language", "must be a well-formed BCP 47 language tag"
            )
        if "@direction" in item and item["@direction"] not in ("ltr", "rtl"):
            raise CredentialMalformed(f"{at}.@direction", "must be 'ltr' or 'rtl'")


def _check_related_resources(document: dict) -> None:
    """5.3 Integrity of Related Resources: objects with a URL id and at least one digest."""
    if "relatedResource" not in document:
        return
    value = document["relatedResource"]
    if isinstance(value, list) and not value:
        raise CredentialMalformed("relatedResource", "must not be an empty list")
    seen: set[str] = set()
    for i, item in enumerate(as_list(value)):
        path = f"relatedResource[{i}]" if isinstance(value, list) else "relatedResource"
        if not isinstance(item, dict):
            raise CredentialMalformed(path, "must be an object")
        if not is_url(item.get("id")):
            raise CredentialMalformed(f"{path}.id", "is required and must be a URL")
        if item["id"] in seen:
            raise CredentialMalformed(f"{path}.id", "must be unique among the related resources")
        seen.add(item["id"])
        if "digestSRI" not in item and "digestMultibase" not in item:
            raise CredentialMalformed(path, "must have a digestSRI or a digestMultibase")
        if "digestSRI" in item and not _is_sri(item["digestSRI"]):
            raise CredentialMalformed(
                f"{path}.digestSRI", "must be Subresource Integrity metadata (sha384-<base64>)"
            )
        if "digestMultibase" in item:
            digest = item["digestMultibase"]
            pattern = _MULTIBASE.get(digest[:1]) if isinstance(digest, str) else None
            if pattern is None or not pattern.fullmatch(digest):
                raise CredentialMalformed(
                    f"{path}.digestMultibase", "must be a multibase (u or z) encoded digest"
                )
        if "mediaType" in item and not isinstance(item["mediaType"], str):
            raise CredentialMalformed(f"{path}.mediaType", "must be a string")


def _is_sri(value: Any) -> bool:
    if not isinstance(value, str) or not value.strip():
        return False
    for expression in value.split():
        match = _SRI.fullmatch(expression.split("?", 1)[0])
        if not match:
            return False
        try:
            digest = base64.b64decode(expression.split("?", 1)[0].split("-", 1)[1], validate=True)
        except (binascii.Error, ValueError):
            return False
        if len(digest) != _SRI_DIGEST_BYTES[match.group(1)]:
            return False
    return True


def issuer_id(credential: dict) -> str:
    issuer = credential.get("issuer")
    return issuer.get("id") if isinstance(issuer, dict) else issuer


def check_credential(credential: Any, *, lenient_time: bool = False) -> str:
    """Raise `CredentialMalformed` unless `credential` meets the data model; return its version.

    `lenient_time` is for verifiers: VCDM 2.0 says time values serialized without an offset
    MUST be read as UTC, so a verifier accepts them (and should warn), an issuer refuses them.
    """
    version = data_model_version(credential)
    _check_id(credential, "")
    _check_type(credential, "VerifiableCredential")
    if "issuer" not in credential:
        raise CredentialMalformed("issuer", "is required")
    issuer = credential["issuer"]
    if isinstance(issuer, dict):
        if not is_url(issuer.get("id")):
            raise CredentialMalformed("issuer.id", "must be a URL")
        _check_language_value(issuer, "name", "issuer")
        _check_language_value(issuer, "description", "issuer")
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
        start = _check_datetime(credential, "validFrom", require_timezone=not lenient_time)
        end = _check_datetime(credential, "validUntil", require_timezone=not lenient_time)
        if start is not None and end is not None and start > end:
            raise CredentialMalformed("validUntil", "must be the same as or later than validFrom")
    else:
        if "issuanceDate" not in credential:
            raise CredentialMalformed("issuanceDate", "is required in a VC 1.1 credential")
        _check_datetime(credential, "issuanceDate", require_timezone=False)
        _check_datetime(credential, "expirationDate", require_timezone=False)
    _check_typed_objects(credential, "credentialSchema", id_required=True)
    for key in _TYPED_PROPERTIES:
        _check_typed_objects(credential, key)
    _check_related_resources(credential)
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
    _check_language_value(presentation, "name")
    _check_language_value(presentation, "description")
    listed = presentation.get("verifiableCredential", [])
    for i, item in enumerate(as_list(listed)):
        path = f"verifiableCredential[{i}]" if isinstance(listed, list) else "verifiableCredential"
        # Objects only: never numbers, strings or URLs (4.13).
        if not isinstance(item, dict):
            raise CredentialMalformed(path, "must be a verifiable credential object")
        types = as_list(item.get("type", []))
        if "VerifiableCredential" not in types and ENVELOPED_VC not in types:
            raise CredentialMalformed(
                f"{path}.type", f"must include 'VerifiableCredential' or {ENVELOPED_VC!r}"
            )
    _check_typed_objects(presentation, "termsOfUse")
    return version
