"""Issuing as this instance (`did:web:{host}`, the operator named `operators.INSTANCE_NAME`): the
role credentials it accredits as a trust anchor, and any credential the VC-API asks it to sign."""

from __future__ import annotations

from sqlmodel import Session

from issuer import credentials as issuing
from issuer import operators, statuslists, store
from issuer.config import IssuerConfig
from proofs import dataintegrity
from proofs.signer import Keystore

__all__ = ["present_as_instance", "sign_as_instance"]

VC_V2 = "https://www.w3.org/ns/credentials/v2"


def sign_as_instance(
    session: Session, config: IssuerConfig, keys: bytes | Keystore, credential: dict
) -> dict:
    """Sign `credential` with this instance's own key (`did:web:{host}`), e.g. a role
    credential this instance accredits as a trust anchor. It gets a revocation and a
    suspension entry on the instance's status lists and is stored like every credential
    this service signs, so its status can be changed later (revoked or suspended)."""
    instance = operators.by_name(session, operators.INSTANCE_NAME)
    options = issuing.IssueOptions()
    ((revocation, suspension),) = statuslists.allocate(session, config, instance, 1)
    credential = {**credential, "credentialStatus": [revocation.entry, suspension.entry]}
    prepared = issuing.prepare(credential, instance.did, options)
    credential_id = prepared.get("id") if isinstance(prepared.get("id"), str) else None
    store.check_new_id(session, credential_id)
    signing = operators.signing_key(session, instance, keys)
    signed = issuing.sign(prepared, signing.key, signing.verification_method, options)
    store.store(
        session,
        operator_id=instance.id,
        document=signed,
        kind=store.VC_API,
        credential_id=credential_id,
        status_entries=[revocation, suspension],
    )
    return signed


def present_as_instance(
    session: Session, keys: bytes | Keystore, credentials: list[dict], *, challenge: str,
    domain: str,
) -> dict:  # fmt: skip
    """A presentation of `credentials` (someone else's, e.g. the AuthorityCredential of an
    authority signed in here) held and signed by this instance (proof purpose authentication),
    bound to another service's `challenge` and `domain`: how this instance vouches, towards a
    peer that trusts it, for whom it forwards a query. Nothing is stored."""
    instance = operators.by_name(session, operators.INSTANCE_NAME)
    signing = operators.signing_key(session, instance, keys)
    presentation = {
        "@context": [VC_V2],
        "type": ["VerifiablePresentation"],
        "holder": instance.did,
        "verifiableCredential": credentials,
    }
    return dataintegrity.create_proof(
        presentation, signing.key, signing.verification_method, proof_purpose="authentication",
        challenge=challenge, domain=domain,
    )  # fmt: skip
