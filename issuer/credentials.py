"""Signing credentials for an operator: VC 2.0 with Data Integrity (eddsa-rdfc-2022 by default,
eddsa-jcs-2022 on request) or VC-JOSE (`vc+jwt`, returned as an EnvelopedVerifiableCredential)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from issuer.errors import InvalidCredentialRequest, NotAuthorized
from proofs import canonical, dataintegrity, jose
from proofs.keys import Ed25519Key
from vocab.datetimes import InvalidDateTime, parse_datetime
from vocab.vcdm import check_credential, is_url, issuer_id

CRYPTOSUITES = ("eddsa-rdfc-2022", "eddsa-jcs-2022")
FORMATS = ("ldp_vc", "vc+jwt")
KNOWN_OPTIONS = frozenset({"cryptosuite", "format", "credentialId", "created", "type"})


@dataclass(frozen=True)
class IssueOptions:
    cryptosuite: str = "eddsa-rdfc-2022"
    format: str = "ldp_vc"
    credential_id: str | None = None
    created: str | None = None


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
    if credential_id is not None and not is_url(credential_id):
        raise InvalidCredentialRequest("options.credentialId must be a URL")
    created = options.get("created")
    if created is not None:
        try:
            parse_datetime(created)
        except InvalidDateTime as exc:
            raise InvalidCredentialRequest(f"options.created: {exc}") from None
    return IssueOptions(cryptosuite, fmt, credential_id, created)


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
        raise NotAuthorized(
            f"credential.issuer {issuer_id(credential)!r} is not the DID of the authenticated "
            f"operator ({issuer_did})"
        )
    prepared = copy.deepcopy(credential)
    if options.credential_id and "id" not in prepared:
        prepared["id"] = options.credential_id
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
