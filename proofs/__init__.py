"""How things are signed.

- `keys`: Ed25519 key pairs, Multikey multibase and JWK (RFC 8037) encodings.
- `multikey`, `didkey`, `controller`: public keys from verification methods, did:key documents,
  picking a verification method for a proof purpose out of a controller document.
- `canonical`: RDFC-1.0 (refusing undefined terms, unknown contexts and poison graphs) and JCS.
- `dataintegrity`: DataIntegrityProof with eddsa-rdfc-2022 / eddsa-jcs-2022, proof sets and chains;
  `legacy`: verifying VC 1.1 Ed25519Signature2020, JsonWebSignature2020, Ed25519Signature2018.
- `jose`: VC-JOSE-COSE vc+jwt / vp+jwt and their envelopes.
- `errors`: one ProofError subclass per way a proof can fail, each with `code` and `status`.

Verification methods are never looked up here: callers hand in a `VerificationMethodResolver`.

- `verification`: the one verification core (data model, proof, issuer binding, validity,
  status), pure, used by the verifier and the wallet.
- `signer`, `sealing`, `pkcs11`, `remote`: key custody (one key-store interface).

Internal (used only inside `proofs`): `fastrdf`, `rdfc_work` (the compiled RDFC path and its
worker), `safemode` (the compiled nothing-dropped check), `legacy` (reached through
`dataintegrity`), `multibase`, `p256`.
"""

__all__ = [
    "canonical",
    "controller",
    "dataintegrity",
    "didkey",
    "errors",
    "jose",
    "keys",
    "multikey",
    "pkcs11",
    "remote",
    "sealing",
    "signer",
    "verification",
]
