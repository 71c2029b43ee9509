"""VC-JOSE-COSE (W3C Recommendation) with JOSE: credentials and presentations as compact JWS.

The JWS payload *is* the credential (or presentation) JSON; the header carries `alg` EdDSA,
`typ` vc+jwt / vp+jwt, `cty` vc / vp and `kid`, the full verification method id. A secured
credential travels inside a VC 2.0 document as an `EnvelopedVerifiableCredential` whose `id` is a
`data:application/vc+jwt,<jws>` URL (and likewise for presentations).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import orjson
from jwcrypto.common import JWException
from jwcrypto.jwk import JWK
from jwcrypto.jws import JWS, InvalidJWSSignature

from proofs.controller import VerificationMethodResolver, checked_verification_method
from proofs.errors import (
    AlgorithmNotAllowed,
    InvalidSignature,
    KeyIdMismatch,
    MalformedJws,
    ProofExpired,
)
from proofs.keys import Ed25519Key, b64url_decode
from proofs.multikey import public_key_from_verification_method
from vocab.datetimes import as_utc, utcnow

VC_JWT = "vc+jwt"
VP_JWT = "vp+jwt"
CREDENTIALS_V2_CONTEXT = "https://www.w3.org/ns/credentials/v2"
ENVELOPED_TYPES = {
    VC_JWT: "EnvelopedVerifiableCredential",
    VP_JWT: "EnvelopedVerifiablePresentation",
}
_CONTENT_TYPES = {VC_JWT: "vc", VP_JWT: "vp"}
# Who must own the signing key, and for which verification relationship.
_SIGNER = {VC_JWT: ("issuer", "assertionMethod"), VP_JWT: ("holder", "authentication")}
# EdDSA (RFC 8037) and its fully-specified successor Ed25519 (RFC 9864): both mean Ed25519 here.
ALLOWED_ALGORITHMS = frozenset({"EdDSA", "Ed25519"})
_UNDERSTOOD_CRITICAL: frozenset[str] = frozenset()
# VC-JOSE-COSE 3.1.1: the JWT claim names vc and vp MUST NOT be present (they belong to the
# VC-JWT 1.1 profile, whose payload wraps the credential instead of being it).
FORBIDDEN_CLAIMS = ("vc", "vp")


def sign_jws(payload: bytes, key: Ed25519Key, header: dict[str, Any]) -> str:
    """A compact JWS over `payload` (jwcrypto); `header` becomes the protected header."""
    if header.get("alg") not in ALLOWED_ALGORITHMS:
        raise AlgorithmNotAllowed(f"refusing to sign with alg {header.get('alg')!r}")
    jws = JWS(payload)
    jws.add_signature(
        JWK(**key.to_jwk(private=True)),
        alg=None,
        protected=json.dumps(header, separators=(",", ":")),
    )
    return jws.serialize(compact=True)


def sign_jwt(
    document: dict[str, Any],
    key: Ed25519Key,
    kid: str,
    *,
    typ: str = VC_JWT,
    claims: dict[str, Any] | None = None,
) -> str:
    """Secure a credential (typ vc+jwt) or presentation (vp+jwt) as a compact JWS.

    `kid` is the full verification method id. `claims` adds JWT claims next to the document's
    own properties (e.g. `nonce`, `aud` for a presentation); they may not replace any property.
    """
    if typ not in _CONTENT_TYPES:
        raise MalformedJws(f"typ must be {VC_JWT} or {VP_JWT}, not {typ!r}")
    if not isinstance(document, dict):
        raise MalformedJws("the JWT payload must be a JSON object")
    payload = dict(document)
    _refuse_wrapped_claims(payload)
    for name, value in (claims or {}).items():
        if name in payload and payload[name] != value:
            raise MalformedJws(f"claim {name!r} would replace the document's own {name!r}")
        payload[name] = value
    header = {"alg": "EdDSA", "typ": typ, "cty": _CONTENT_TYPES[typ], "kid": kid}
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return sign_jws(body, key, header)


def verify_jws(token: str, key: Ed25519Key) -> tuple[dict[str, Any], bytes]:
    """Check a compact JWS signature under `key`; returns (protected header, payload bytes).

    Rejects `alg: none` and any alg but EdDSA / Ed25519, unknown critical header parameters and
    malformed tokens; nothing about the payload is checked here.
    """
    header, payload, signature = parse_compact(token)
    _check_signature(token, header, signature, key)
    return header, payload


def _check_signature(token: str, header: dict[str, Any], signature: bytes, key: Ed25519Key) -> None:
    """The signature check of `verify_jws`, for a token `parse_compact` has already split."""
    if "b64" not in header:
        # RFC 7515 §5.2: the signature covers ASCII(BASE64URL(header) '.' BASE64URL(payload)),
        # the first two parts exactly as sent; parse_compact has already refused every alg but
        # EdDSA/Ed25519 and every crit. Verifying those bytes directly skips jwcrypto's
        # deserialize (deep copies of the parsed token): vc+jwt verify of the ~8 KiB public
        # passport credential went from ~0.9 ms (5.9x a raw Ed25519 verify of its bytes) to
        # ~0.4 ms (2.4x) with orjson below (bench/bench_proofs.py). RFC 7797 unencoded payloads
        # ("b64") keep the jwcrypto path.
        try:
            signing_input = token.rpartition(".")[0].encode("ascii")
        except UnicodeEncodeError:
            raise MalformedJws("a compact JWS is ASCII only") from None
        if not key.verify(signature, signing_input):
            raise InvalidSignature(
                f"the JWS signature does not match under key {header.get('kid', '<no kid>')}: "
                "the token was altered or signed by another key"
            )
        return
    try:
        jws = JWS()
        jws.deserialize(token)
        jws.verify(JWK(**key.to_jwk()), alg=header["alg"])
    except InvalidJWSSignature:
        raise InvalidSignature(
            f"the JWS signature does not match under key {header.get('kid', '<no kid>')}: the "
            "token was altered or signed by another key"
        ) from None
    except JWException as exc:
        raise MalformedJws(f"the JWS cannot be processed: {exc}") from None


def verify_jwt(
    token: str,
    resolve: VerificationMethodResolver,
    *,
    expected_typ: str = VC_JWT,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Verify a VC-JOSE-COSE token and return its payload (the credential or presentation).

    The `kid` must be a verification method of the payload's `issuer` (vc+jwt) or `holder`
    (vp+jwt), authorised for assertionMethod / authentication by `resolve`.
    """
    if expected_typ not in _SIGNER:
        raise MalformedJws(f"expected_typ must be {VC_JWT} or {VP_JWT}, not {expected_typ!r}")
    header, payload_bytes, signature = parse_compact(token)
    typ = header.get("typ")
    if typ not in (expected_typ, f"application/{expected_typ}"):
        raise MalformedJws(f"the JWS typ is {typ!r}, but a {expected_typ} is expected here")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise MalformedJws("the JWS header has no kid naming the signing verification method")
    try:
        payload = _loads(payload_bytes)
    except ValueError as exc:
        raise MalformedJws(f"the JWS payload is not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise MalformedJws("the JWS payload is not a JSON object")
    _refuse_wrapped_claims(payload)

    role, purpose = _SIGNER[expected_typ]
    signer = payload.get(role)
    signer_id = signer.get("id") if isinstance(signer, dict) else signer
    if not isinstance(signer_id, str) or not signer_id:
        raise MalformedJws(f"the {expected_typ} payload names no {role}")
    if "iss" in payload and payload["iss"] != signer_id:
        raise MalformedJws(f"the iss claim {payload['iss']!r} contradicts the {role} {signer_id!r}")
    if kid.startswith("#"):
        kid = signer_id + kid
    if kid.partition("#")[0] != signer_id:
        raise KeyIdMismatch(
            f"the JWS kid {kid} is a key of {kid.partition('#')[0]}, not of the {role} {signer_id}"
        )
    now = as_utc(now) if now is not None else utcnow()
    exp = payload.get("exp")
    if exp is not None:
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            raise MalformedJws("the exp claim must be a NumericDate")
        if now.timestamp() >= exp:
            raise ProofExpired(f"the {expected_typ} expired at {exp} (exp claim)")

    method = checked_verification_method(resolve, kid, purpose, now)
    key = Ed25519Key(public_key_from_verification_method(method))
    _check_signature(token, header, signature, key)
    return payload


def _loads(data: bytes) -> Any:
    # orjson parses the ~9 KiB passport payload ~5x faster than json (about a fifth of a raw
    # Ed25519 verify saved). It refuses a few things json accepts (NaN, integers beyond 64 bits,
    # lone surrogate escapes); those fall back to json, so what is accepted does not change.
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def _refuse_wrapped_claims(payload: dict[str, Any]) -> None:
    present = [name for name in FORBIDDEN_CLAIMS if name in payload]
    if present:
        raise MalformedJws(
            f"the JWT claims set has {' and '.join(present)}, which VC-JOSE-COSE forbids: the "
            "payload must be the credential or presentation itself (VC-JWT 1.1 is not accepted)"
        )


def envelope(jws: str, typ: str = VC_JWT) -> dict[str, Any]:
    """The VC 2.0 enveloped form of a vc+jwt (EnvelopedVerifiableCredential) or vp+jwt."""
    if typ not in ENVELOPED_TYPES:
        raise MalformedJws(f"typ must be {VC_JWT} or {VP_JWT}, not {typ!r}")
    return {
        "@context": CREDENTIALS_V2_CONTEXT,
        "id": f"data:application/{typ},{jws}",
        "type": ENVELOPED_TYPES[typ],
    }


def envelope_typ(document: dict[str, Any]) -> str:
    """vc+jwt or vp+jwt, from an envelope's type and data URL (which must agree)."""
    if not isinstance(document, dict):
        raise MalformedJws("an enveloped credential or presentation must be a JSON object")
    types = document.get("type")
    types = types if isinstance(types, list) else [types]
    found = [typ for typ, name in ENVELOPED_TYPES.items() if name in types]
    if len(found) != 1:
        raise MalformedJws(
            "the document is not typed EnvelopedVerifiableCredential or "
            "EnvelopedVerifiablePresentation"
        )
    typ = found[0]
    data_url = document.get("id")
    if not isinstance(data_url, str) or not data_url.startswith(f"data:application/{typ},"):
        raise MalformedJws(f"the envelope's id must be a data:application/{typ}, URL")
    return typ


def unwrap_envelope(document: dict[str, Any]) -> str:
    """The compact JWS inside an EnvelopedVerifiableCredential / EnvelopedVerifiablePresentation."""
    typ = envelope_typ(document)
    context = document.get("@context")
    contexts = context if isinstance(context, list) else [context]
    if not contexts or contexts[0] != CREDENTIALS_V2_CONTEXT:
        raise MalformedJws(f"an envelope's @context must start with {CREDENTIALS_V2_CONTEXT}")
    token = document["id"][len(f"data:application/{typ},") :]
    parse_compact(token)
    return token


def parse_compact(token: object) -> tuple[dict[str, Any], bytes, bytes]:
    """Split and decode a compact JWS, checking its header: (header, payload, signature)."""
    if not isinstance(token, str) or token.count(".") != 2:
        raise MalformedJws("a compact JWS has exactly three base64url parts separated by '.'")
    encoded_header, encoded_payload, encoded_signature = token.split(".")
    try:
        header = json.loads(b64url_decode(encoded_header))
    except ValueError as exc:
        raise MalformedJws(f"the JWS header is not base64url JSON: {exc}") from None
    if not isinstance(header, dict):
        raise MalformedJws("the JWS header is not a JSON object")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg.lower() == "none":
        raise AlgorithmNotAllowed(
            f"JWS alg {alg!r} means an unsigned token, which is never accepted"
            if isinstance(alg, str)
            else "the JWS header has no alg"
        )
    if alg not in ALLOWED_ALGORITHMS:
        raise AlgorithmNotAllowed(
            f"JWS alg {alg!r} is not allowed; only {', '.join(sorted(ALLOWED_ALGORITHMS))} "
            "(Ed25519) are accepted"
        )
    crit = header.get("crit")
    if crit is not None:
        if not isinstance(crit, list) or not crit:
            raise MalformedJws("the JWS crit header must be a non-empty list")
        unknown = [c for c in crit if c not in _UNDERSTOOD_CRITICAL]
        if unknown:
            raise MalformedJws(
                f"the JWS marks header parameters we do not support critical: {unknown}"
            )
    try:
        payload = b64url_decode(encoded_payload)
        signature = b64url_decode(encoded_signature)
    except ValueError as exc:
        raise MalformedJws(f"the JWS payload or signature is not base64url: {exc}") from None
    return header, payload, signature
