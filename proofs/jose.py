"""VC-JOSE-COSE (W3C Recommendation) with JOSE: credentials and presentations as compact JWS.

The JWS payload *is* the credential (or presentation) JSON; the header carries `alg` EdDSA,
`typ` vc+jwt / vp+jwt, `cty` vc / vp and `kid`, the full verification method id. A secured
credential travels inside a VC 2.0 document as an `EnvelopedVerifiableCredential` whose `id` is a
`data:application/vc+jwt,<jws>` URL (and likewise for presentations).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import orjson
from jwcrypto.common import JWException
from jwcrypto.jwk import JWK
from jwcrypto.jws import JWS, InvalidJWSSignature

from proofs.controller import VerificationMethodResolver, checked_verification_method
from proofs.errors import (
    AlgorithmNotAllowed,
    InvalidKey,
    InvalidSignature,
    KeyIdMismatch,
    MalformedJws,
    ProofExpired,
)
from proofs.keys import Ed25519Key, b64url_decode, b64url_encode, verifying_key
from proofs.multibase import decode_base58btc, describe_prefix
from proofs.multikey import public_key_from_verification_method
from proofs.p256 import P256_PUB_PREFIX, P256PublicKey
from vocab import json_text
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
SIGNING_ALGORITHMS = frozenset({"EdDSA", "Ed25519"})
# ES256 (P-256) is verified, never used to sign: other issuers' VC-JOSE credentials use it.
ES256 = "ES256"
ALLOWED_ALGORITHMS = SIGNING_ALGORITHMS | {ES256}
# VC DM 1.1 §6.3.1 ("VC-JWT"): `data:application/jwt` envelopes, as the VC 2.0 suite sends them,
# wrap the credential in a `vc` claim (`vp` for presentations) with `typ` JWT.
LEGACY_JWT = "jwt"
_LEGACY_CLAIM = {VC_JWT: "vc", VP_JWT: "vp"}
_UNDERSTOOD_CRITICAL: frozenset[str] = frozenset()
# VC-JOSE-COSE 3.1.1: the JWT claim names vc and vp MUST NOT be present (they belong to the
# VC-JWT 1.1 profile, whose payload wraps the credential instead of being it).
FORBIDDEN_CLAIMS = ("vc", "vp")


def sign_jws(payload: bytes, key: Ed25519Key, header: dict[str, Any]) -> str:
    """A compact JWS over `payload` (jwcrypto); `header` becomes the protected header."""
    if header.get("alg") not in SIGNING_ALGORITHMS:
        raise AlgorithmNotAllowed(f"refusing to sign with alg {header.get('alg')!r}")
    if key.private is not None:
        jws = JWS(payload)
        jws.add_signature(
            JWK(**key.to_jwk(private=True)),
            alg=None,
            protected=json.dumps(header, separators=(",", ":")),
        )
        return jws.serialize(compact=True)
    # A key held in a token (proofs.signer) signs the JWS signing input itself (RFC 7515 §5.1);
    # Ed25519 is deterministic, so the result is the one jwcrypto would give with the seed.
    protected = b64url_encode(json.dumps(header, separators=(",", ":")).encode())
    signing_input = f"{protected}.{b64url_encode(payload)}".encode("ascii")
    return f"{signing_input.decode('ascii')}.{b64url_encode(key.sign(signing_input))}"


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


def _check_signature(
    token: str, header: dict[str, Any], signature: bytes, key: Ed25519Key | P256PublicKey
) -> None:
    """The signature check of `verify_jws`, for a token `parse_compact` has already split."""
    if (header["alg"] == ES256) != isinstance(key, P256PublicKey):
        raise AlgorithmNotAllowed(
            f"JWS alg {header['alg']} does not match the key of {header.get('kid', '<no kid>')}"
        )
    if "b64" in header and isinstance(key, P256PublicKey):
        raise MalformedJws("unencoded payloads (b64) are not supported with ES256")
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
    legacy: bool = False,
    parsed: tuple[dict[str, Any], bytes, bytes] | None = None,
) -> dict[str, Any]:
    """Verify a VC-JOSE-COSE token and return its payload (the credential or presentation).

    The `kid` must be a verification method of the payload's `issuer` (vc+jwt) or `holder`
    (vp+jwt), authorised for assertionMethod / authentication by `resolve`.
    `legacy`: a VC-JWT (`typ` JWT) whose payload wraps the document in a `vc` / `vp` claim; the
    claims set is returned, and `document_of` takes the document out of it.
    `parsed`: what `parse_compact(token)` returned (`unwrap_envelope_parsed` has it), so that
    the token is not decoded twice (~60 us of a ~10 KiB token).
    """
    if expected_typ not in _SIGNER:
        raise MalformedJws(f"expected_typ must be {VC_JWT} or {VP_JWT}, not {expected_typ!r}")
    header, payload_bytes, signature = parsed if parsed is not None else parse_compact(token)
    typ = header.get("typ")
    allowed_typ = ("JWT", None) if legacy else (expected_typ, f"application/{expected_typ}")
    if typ not in allowed_typ:
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
    if legacy:
        document = document_of(payload, expected_typ)
    else:
        _refuse_wrapped_claims(payload)
        document = payload

    role, purpose = _SIGNER[expected_typ]
    signer = document.get(role)
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

    nbf = payload.get("nbf")
    if nbf is not None and (not isinstance(nbf, int | float) or isinstance(nbf, bool)):
        raise MalformedJws("the nbf claim must be a NumericDate")

    method = checked_verification_method(resolve, kid, purpose, now, signed_at=_issued_at(payload))
    _check_signature(token, header, signature, _verification_key(method, header["alg"]))
    return payload


def _issued_at(payload: dict[str, Any]) -> datetime | None:
    """The JWT's `iat` (RFC 7519 §4.1.6), when the token was signed: a revoked key's earlier
    tokens still verify. A token without one is judged at the current time."""
    iat = payload.get("iat")
    if iat is None:
        return None
    if not isinstance(iat, int | float) or isinstance(iat, bool):
        raise MalformedJws("the iat claim must be a NumericDate")
    try:
        return datetime.fromtimestamp(iat, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise MalformedJws(f"the iat claim {iat!r} is out of range") from None


def _verification_key(method: dict[str, Any], alg: str) -> Ed25519Key | P256PublicKey:
    if alg != ES256:
        return verifying_key(public_key_from_verification_method(method))
    vm_id = method.get("id", "<no id>")
    jwk = method.get("publicKeyJwk")
    if isinstance(jwk, dict):
        if "d" in jwk:
            raise InvalidKey(f"publicKeyJwk of {vm_id} contains private key material ('d')")
        return P256PublicKey.from_jwk(jwk)
    try:
        data = decode_base58btc(method.get("publicKeyMultibase"))
    except ValueError as exc:
        raise InvalidKey(f"publicKeyMultibase of {vm_id} is {exc}") from None
    if data[:2] != P256_PUB_PREFIX:
        raise AlgorithmNotAllowed(
            f"JWS alg ES256 needs a P-256 key; verification method {vm_id} holds "
            f"{describe_prefix(data)}"
        )
    return P256PublicKey(data[2:])


def document_of(claims: dict[str, Any], typ: str) -> dict[str, Any]:
    """The credential (vc claim) or presentation (vp claim) of a VC-JWT claims set. `iss` names
    the issuer or holder and `jti` the id when the document leaves them out (VC DM 1.1 §6.3.1);
    a document that names them must agree with the claims."""
    name = _LEGACY_CLAIM[typ]
    document = claims.get(name)
    if not isinstance(document, dict):
        raise MalformedJws(f"a data:application/jwt {typ} carries the document in a {name} claim")
    document = dict(document)
    role = _SIGNER[typ][0]
    if "iss" in claims and role not in document:
        document[role] = claims["iss"]
    if "jti" in claims:
        if "id" not in document:
            document["id"] = claims["jti"]
        elif document["id"] != claims["jti"]:
            raise MalformedJws(f"the jti claim {claims['jti']!r} contradicts the id")
    return document


def _loads(data: bytes) -> Any:
    # orjson parses the ~9 KiB passport payload ~5x faster than json (about a fifth of a raw
    # Ed25519 verify saved). It refuses a few things json accepts (NaN, integers beyond 64 bits,
    # lone surrogate escapes); those fall back to json, so what is accepted does not change.
    # Either way duplicate claim names are refused (RFC 7519 §4: reject or take the last; a
    # reader taking the first would see other claims than the ones verified).
    try:
        return json_text.loads(data)
    except json_text.DuplicateKey as exc:
        raise MalformedJws(f"the JWS payload is ambiguous: {exc}") from None
    except orjson.JSONDecodeError:
        try:
            return json_text.loads_lenient(data)
        except json_text.DuplicateKey as exc:
            raise MalformedJws(f"the JWS payload is ambiguous: {exc}") from None


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
    if not isinstance(data_url, str) or not data_url.startswith(
        (f"data:application/{typ},", f"data:application/{LEGACY_JWT},")
    ):
        raise MalformedJws(
            f"the envelope's id must be a data:application/{typ}, (or data:application/jwt,) URL"
        )
    return typ


def is_legacy_envelope(document: dict[str, Any]) -> bool:
    """An envelope holding a VC-JWT (`data:application/jwt,`) rather than a VC-JOSE token."""
    data_url = document.get("id") if isinstance(document, dict) else None
    return isinstance(data_url, str) and data_url.startswith(f"data:application/{LEGACY_JWT},")


def unwrap_envelope(document: dict[str, Any]) -> str:
    """The compact JWS inside an EnvelopedVerifiableCredential / EnvelopedVerifiablePresentation."""
    return unwrap_envelope_parsed(document)[0]


def unwrap_envelope_parsed(
    document: dict[str, Any],
) -> tuple[str, tuple[dict[str, Any], bytes, bytes]]:
    """`unwrap_envelope`, with what `parse_compact` made of the token (for `verify_jwt`)."""
    envelope_typ(document)  # the type and the data: URL must agree
    context = document.get("@context")
    contexts = context if isinstance(context, list) else [context]
    if not contexts or contexts[0] != CREDENTIALS_V2_CONTEXT:
        raise MalformedJws(f"an envelope's @context must start with {CREDENTIALS_V2_CONTEXT}")
    token = document["id"].partition(",")[2]
    return token, parse_compact(token)


def parse_compact(token: object) -> tuple[dict[str, Any], bytes, bytes]:
    """Split and decode a compact JWS, checking its header: (header, payload, signature)."""
    if not isinstance(token, str) or token.count(".") != 2:
        raise MalformedJws("a compact JWS has exactly three base64url parts separated by '.'")
    encoded_header, encoded_payload, encoded_signature = token.split(".")
    try:
        header = json_text.loads_lenient(b64url_decode(encoded_header))
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
            "(Ed25519, P-256) are accepted"
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
