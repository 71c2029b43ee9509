"""Verifiable presentations the wallet signs: VC 2.0, `holder` = the wallet's DID, secured with
Data Integrity eddsa-rdfc-2022 (`proofPurpose: authentication`, `challenge`, `domain`) or as an
enveloped vp+jwt whose `nonce` and `aud` claims carry the challenge and domain (VC-JOSE-COSE)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from proofs import dataintegrity, jose
from wallet.identity import signing_key

VC_V2 = "https://www.w3.org/ns/credentials/v2"
FORMATS = ("di", "vp+jwt")


def presentation(
    identity: dict[str, Any],
    credentials: Iterable[dict[str, Any]],
    *,
    challenge: str,
    domain: str,
    fmt: str = "di",
) -> dict[str, Any]:
    vp = {
        "@context": [VC_V2],
        "type": ["VerifiablePresentation"],
        "holder": identity["did"],
        "verifiableCredential": list(credentials),
    }
    key, vm = signing_key(identity), identity["verificationMethod"]
    if fmt == "vp+jwt":
        token = jose.sign_jwt(
            vp, key, vm, typ=jose.VP_JWT, claims={"nonce": challenge, "aud": domain}
        )
        return jose.envelope(token, jose.VP_JWT)
    if fmt != "di":
        raise ValueError(f"format must be one of {FORMATS}")
    return dataintegrity.create_proof(
        vp,
        key,
        vm,
        cryptosuite=dataintegrity.EDDSA_RDFC_2022,
        proof_purpose="authentication",
        challenge=challenge,
        domain=domain,
    )
