"""Signing credentials for an operator: VC 2.0 with Data Integrity (eddsa-rdfc-2022 by default,
eddsa-jcs-2022 on request) or VC-JOSE (`vc+jwt`, returned as an EnvelopedVerifiableCredential)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from issuer.errors import InvalidCredentialRequest
from proofs import canonical, dataintegrity, jose
from proofs.keys import Ed25519Key
from vocab.datetimes import InvalidDateTime, parse_datetime
from vocab.vcdm import check_credential, issuer_id

CRYPTOSUITES = ("eddsa-rdfc-2022", "eddsa-jcs-2022")
FORMATS = ("ldp_vc", "vc+jwt")
# VC-API IssueCredentialOptions (credentialId, mandatoryPointers; additionalProperties: false)
# plus dbp's own: cryptosuite, format, created and type. Anything else is a 400: the schema
# forbids other members, and silently ignoring an option the caller relies on is worse.
VC_API_OPTIONS = frozenset({"credentialId", "mandatoryPointers"})
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
        cryptosuite, fmt, credential_id, created, _mandatory_pointers(options, cryptosuite)
    )


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
    if version != "2.0":
        raise InvalidCredentialRequest(
            "this issuer signs VC Data Model 2.0 credentials only; "
            "the first @context must be https://www.w3.org/ns/credentials/v2"
        )
    if issuer_id(credential) != issuer_did:
        # VC-API: 400 when "the provided value of 'issuer' does not match the expected
        # configuration". Signing it anyway would vouch for someone else.
        raise IssuerMismatch(
            f"credential.issuer {issuer_id(credential)!r} is not the DID of the authenticated "
            f"operator ({issuer_did}); this service signs only as the operator"
        )
    missing = [p for p in options.mandatory_pointers if not _resolve_pointer(credential, p)]
    if missing:
        raise InvalidCredentialRequest(
            f"options.mandatoryPointers {', '.join(missing)} select nothing in the credential"
        )
    prepared = copy.deepcopy(credential)
    # Every format is checked as JSON-LD: an undefined term or a foreign context never gets signed.
    canonical.rdfc(prepared)
    return prepared


def sign(
    credential: dict, key: Ed25519Key, verification_method: str, options: IssueOptions
) -> dict:
    if options.format == "vc+jwt":
        token = jose.sign_jwt(credential, key, verification_method, typ="vc+jwt")
        return jose.envelope(token, "vc+jwt")
    return dataintegrity.create_proof(
        credential,
        key,
        verification_method,
        cryptosuite=options.cryptosuite,
        proof_purpose="assertionMethod",
        created=options.created,
    )
