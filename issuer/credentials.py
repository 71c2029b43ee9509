"""Signing credentials for an operator: VC 2.0 (or VC 1.1 when a caller sends one) with Data
Integrity (eddsa-rdfc-2022 by default, eddsa-jcs-2022 on request) or VC-JOSE (`vc+jwt`, VC 2.0
only, returned as an EnvelopedVerifiableCredential)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import orjson

from issuer.errors import InvalidCredentialRequest
from proofs import canonical, dataintegrity, jose
from proofs.errors import ProofError
from proofs.keys import Ed25519Key
from vocab import bitstring
from vocab.datetimes import InvalidDateTime, as_utc, parse_datetime, utcnow
from vocab.related import check_digests
from vocab.vcdm import VC_V2, as_list, check_credential, issuer_id

DATA_INTEGRITY_V2 = "https://w3id.org/security/data-integrity/v2"
# Claims sign() may add to a vc+jwt payload; the credential itself never carries them.
JWT_CLAIMS = frozenset({"iat"})
CRYPTOSUITES = ("eddsa-rdfc-2022", "eddsa-jcs-2022")
FORMATS = ("ldp_vc", "vc+jwt")
# VC-API IssueCredentialOptions (credentialId, mandatoryPointers; additionalProperties: false)
# plus dbp's own: cryptosuite, format, created and type. Anything else is a 400: the schema
# forbids other members, and silently ignoring an option the caller relies on is worse.
VC_API_OPTIONS = frozenset({"credentialId", "mandatoryPointers", "credentialStatus"})
KNOWN_OPTIONS = VC_API_OPTIONS | {"cryptosuite", "format", "created", "type"}


class IssuerMismatch(InvalidCredentialRequest):
    """credential.issuer is not the authenticated operator: VC-API answers 400, not 403."""

    code = "issuer-mismatch"


@dataclass(frozen=True)
class IssueOptions:
    cryptosuite: str = "eddsa-rdfc-2022"
    format: str = "ldp_vc"
    # VC-API: how the caller refers to the credential later (e.g. POST /credentials/status);
    # it is never written into the credential, and may be any non-empty string.
    credential_id: str | None = None
    created: str | None = None
    mandatory_pointers: tuple[str, ...] = ()
    # options.credentialStatus: the status purposes asked for; None when the caller did not ask
    # (DBP_VC_API_STATUS decides then)
    status_purposes: tuple[str, ...] | None = None

    def reference(self, credential: dict) -> str | None:
        """The identifier to file the issued credential under: credentialId, else credential.id."""
        if self.credential_id is not None:
            return self.credential_id
        value = credential.get("id")
        return value if isinstance(value, str) else None


def parse_options(options: Any) -> IssueOptions:
    if options is None:
        return IssueOptions()
    if not isinstance(options, dict):
        raise InvalidCredentialRequest("options must be a JSON object")
    unknown = sorted(set(options) - KNOWN_OPTIONS)
    if unknown:
        raise InvalidCredentialRequest(
            f"unsupported option(s) {', '.join(unknown)}; "
            f"supported: {', '.join(sorted(KNOWN_OPTIONS))}"
        )
    cryptosuite = options.get("cryptosuite", "eddsa-rdfc-2022")
    if cryptosuite not in CRYPTOSUITES:
        raise InvalidCredentialRequest(
            f"options.cryptosuite {cryptosuite!r} is not supported; "
            f"use one of {', '.join(CRYPTOSUITES)}"
        )
    fmt = options.get("format", "ldp_vc")
    if fmt not in FORMATS:
        raise InvalidCredentialRequest(
            f"options.format {fmt!r} is not supported; use one of {', '.join(FORMATS)}"
        )
    if options.get("type", "DataIntegrityProof") != "DataIntegrityProof":
        raise InvalidCredentialRequest("options.type must be DataIntegrityProof")
    credential_id = options.get("credentialId")
    if credential_id is not None and not (isinstance(credential_id, str) and credential_id.strip()):
        raise InvalidCredentialRequest("options.credentialId must be a non-empty string")
    created = options.get("created")
    if created is not None:
        try:
            parse_datetime(created)
        except InvalidDateTime as exc:
            raise InvalidCredentialRequest(f"options.created: {exc}") from None
    return IssueOptions(
        cryptosuite,
        fmt,
        credential_id,
        created,
        _mandatory_pointers(options, cryptosuite),
        _status_purposes(options.get("credentialStatus")),
    )


def _status_purposes(value: Any) -> tuple[str, ...] | None:
    """VC-API options.credentialStatus: `{"type": "BitstringStatusListEntry"}` (a revocation and a
    suspension entry) or one such object per purpose with `statusPurpose`, or a list of them."""
    if value is None:
        return None
    items = value if isinstance(value, list) else [value]
    purposes: list[str] = []
    for i, item in enumerate(items):
        where = (
            f"options.credentialStatus[{i}]"
            if isinstance(value, list)
            else ("options.credentialStatus")
        )
        if not isinstance(item, dict) or item.get("type") != bitstring.ENTRY_TYPE:
            raise InvalidCredentialRequest(
                f'{where} must be {{"type": "{bitstring.ENTRY_TYPE}"}} (optionally with '
                '"statusPurpose": "revocation" or "suspension")'
            )
        unknown = sorted(set(item) - {"type", "statusPurpose"})
        if unknown:
            raise InvalidCredentialRequest(f"{where}: unsupported member(s) {', '.join(unknown)}")
        purpose = item.get("statusPurpose")
        if purpose is None:
            purposes.extend(bitstring.PURPOSES)
        elif purpose in bitstring.PURPOSES:
            purposes.append(purpose)
        else:
            raise InvalidCredentialRequest(
                f"{where}.statusPurpose must be one of {', '.join(bitstring.PURPOSES)}"
            )
    if not purposes:
        raise InvalidCredentialRequest("options.credentialStatus must not be empty")
    return tuple(p for p in bitstring.PURPOSES if p in purposes)


def _mandatory_pointers(options: dict, cryptosuite: str) -> tuple[str, ...]:
    """VC-API mandatoryPointers: JSON Pointers (RFC 6901) a selective-disclosure suite must
    always reveal. eddsa-rdfc-2022 and eddsa-jcs-2022 disclose everything, so every pointer is
    trivially honoured; the value is still checked, and each pointer must resolve (`prepare`)."""
    pointers = options.get("mandatoryPointers")
    if pointers is None:
        return ()
    if not isinstance(pointers, list) or not all(
        isinstance(p, str) and (p == "" or p.startswith("/")) for p in pointers
    ):
        raise InvalidCredentialRequest(
            'options.mandatoryPointers must be a list of JSON Pointers (e.g. "/issuer")'
        )
    return tuple(pointers)


def _resolve_pointer(document: Any, pointer: str) -> bool:
    node = document
    for raw in pointer.split("/")[1:] if pointer else []:
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return False
    return True


def prepare(credential: Any, issuer_did: str, options: IssueOptions) -> dict:
    """Check an unsigned credential for issuance by `issuer_did`; return a copy ready to sign."""
    if not isinstance(credential, dict):
        raise InvalidCredentialRequest("credential must be a JSON object")
    if "proof" in credential:
        raise InvalidCredentialRequest("credential already has a proof; send it unsigned")
    version = check_credential(credential)
    if version == "1.1" and options.format != "ldp_vc":
        # VC-JOSE-COSE secures VC Data Model 2.0 documents only
        raise InvalidCredentialRequest(
            f"options.format {options.format!r} needs a VC Data Model 2.0 credential "
            f"(first @context {VC_V2}); a VC 1.1 credential is signed as ldp_vc"
        )
    if issuer_id(credential) != issuer_did:
        # VC-API: 400 when "the provided value of 'issuer' does not match the expected
        # configuration". Signing it anyway would vouch for someone else.
        raise IssuerMismatch(
            f"credential.issuer {issuer_id(credential)!r} is not the DID of the authenticated "
            f"operator ({issuer_did}); this service signs only as the operator"
        )
    if options.status_purposes is not None and version == "1.1":
        raise InvalidCredentialRequest(
            "options.credentialStatus needs a VC Data Model 2.0 credential (Bitstring Status "
            "List entries are VC 2.0 terms)"
        )
    if options.status_purposes is not None and "credentialStatus" in credential:
        raise InvalidCredentialRequest(
            "options.credentialStatus asks this issuer to add status entries, but the "
            "credential already has a credentialStatus; send one or the other"
        )
    mismatch, _unchecked = check_digests(credential)
    if mismatch is not None:
        # the verifier would refuse it (vocab.related): never sign a broken pin
        raise InvalidCredentialRequest(f"relatedResource: {mismatch}")
    missing = [p for p in options.mandatory_pointers if not _resolve_pointer(credential, p)]
    if missing:
        raise InvalidCredentialRequest(
            f"options.mandatoryPointers {', '.join(missing)} select nothing in the credential"
        )
    prepared = copy.deepcopy(credential)
    if version == "1.1":
        _add_data_integrity_context(prepared)
    # Every format is checked as JSON-LD: an undefined term or a foreign context never gets signed.
    canonical.rdfc(prepared)
    return prepared


def status_purposes(credential: dict, options: IssueOptions, by_default: bool) -> tuple[str, ...]:
    """The status entries to add: what options.credentialStatus asks for, else both purposes when
    the issuer is configured for it (DBP_VC_API_STATUS) and the credential is a VC 2.0 one without
    a credentialStatus of its own."""
    if options.status_purposes is not None:
        return options.status_purposes
    if not by_default or "credentialStatus" in credential:
        return ()
    if as_list(credential.get("@context"))[:1] != [VC_V2]:
        return ()
    return bitstring.PURPOSES


def same_issue(
    signed: dict, prepared: dict, options: IssueOptions, purposes: tuple[str, ...]
) -> bool:
    """Whether `signed` (stored earlier under the same credential id) is what issuing `prepared`
    with `options` would give again, but for the proof's time and the status entries drawn: the
    same unsigned content, format and cryptosuite. Re-issuing it is then idempotent."""
    if options.format == "vc+jwt":
        if "EnvelopedVerifiableCredential" not in as_list(signed.get("type", [])):
            return False
        try:
            _, payload, _ = jose.parse_compact(jose.unwrap_envelope(signed))
            document = orjson.loads(payload)
        except (ProofError, ValueError):
            return False
        if not isinstance(document, dict):
            return False
        # JWT claims sign() adds next to the credential's own members (iat: when it was signed)
        document = {k: v for k, v in document.items() if k not in JWT_CLAIMS or k in prepared}
    else:
        proof = signed.get("proof")
        if not isinstance(proof, dict) or proof.get("cryptosuite") != options.cryptosuite:
            return False
        document = {k: v for k, v in signed.items() if k != "proof"}
    if purposes:
        entries = as_list(document.pop("credentialStatus", []))
        if sorted(e.get("statusPurpose", "") for e in entries if isinstance(e, dict)) != sorted(
            purposes
        ):
            return False
    return document == prepared


def add_status(credential: dict, entries: list[dict]) -> dict:
    """A copy of `credential` carrying the issuer's status entries (one object, or a list)."""
    out = dict(credential)
    out["credentialStatus"] = entries[0] if len(entries) == 1 else list(entries)
    return out


def _add_data_integrity_context(credential: dict) -> None:
    """VC 1.1 (asked for by the VC-API and Data Integrity suites; passports stay VC 2.0): the
    credentials/v1 context does not define DataIntegrityProof, so the Data Integrity context is
    appended, as Data Integrity's "add proof" asks and the reference implementation does."""
    contexts = credential["@context"]
    contexts = contexts if isinstance(contexts, list) else [contexts]
    if DATA_INTEGRITY_V2 not in contexts:
        credential["@context"] = [*contexts, DATA_INTEGRITY_V2]


def sign(
    credential: dict, key: Ed25519Key, verification_method: str, options: IssueOptions
) -> dict:
    if options.format == "vc+jwt":
        # iat says when it was signed, so it keeps verifying after this key is retired (revoked).
        signed = parse_datetime(options.created) if options.created is not None else utcnow()
        token = jose.sign_jwt(
            credential,
            key,
            verification_method,
            typ="vc+jwt",
            claims={"iat": int(as_utc(signed).timestamp())},
        )
        return jose.envelope(token, "vc+jwt")
    return dataintegrity.create_proof(
        credential,
        key,
        verification_method,
        cryptosuite=options.cryptosuite,
        proof_purpose="assertionMethod",
        created=options.created,
    )
