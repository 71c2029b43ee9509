"""`dbp signer serve`: the reference remote signer (proofs/remote.py describes the interface),
backed by a PKCS#11 token (DBP_KEY_BACKEND=pkcs11 and DBP_PKCS11_* of this process).

It listens only with mutual TLS: its certificate and key, and the CA whose client certificates it
accepts (uvicorn with CERT_REQUIRED); a client without such a certificate does not get past the
handshake. A key's name is its CKA_ID in hex; the keys never leave the token.
"""

from __future__ import annotations

import binascii
import re
import ssl
from typing import Literal

from fastapi import FastAPI
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse

from proofs.keys import b64url_decode, b64url_encode
from proofs.pkcs11 import Pkcs11Keystore, TokenKey, key_id_of
from proofs.signer import KeystoreError
from service import problems

NAME = re.compile(r"[0-9a-f]{2,128}")


class SignerError(Exception):
    code = "signer-error"
    status = 400


class UnknownKey(SignerError):
    code = "unknown-key"
    status = 404


class NewKey(BaseModel):
    algorithm: Literal["Ed25519", "secp256k1"]
    label: str = Field("dbp-key", min_length=1, max_length=200)


class SignRequest(BaseModel):
    data: str = Field(..., max_length=4096, description="base64url bytes to sign")


def _key_id(name: str) -> bytes:
    if not NAME.fullmatch(name):
        raise UnknownKey(f"{name!r} is not a key name (hex CKA_ID)")
    return binascii.unhexlify(name)


def create_signer_app(token: Pkcs11Keystore) -> FastAPI:
    app = FastAPI(title="dbp remote signer", docs_url=None, redoc_url=None)
    problems.install(app, (SignerError, KeystoreError))

    def describe(name: str) -> dict:
        try:
            algorithm, public = token.describe_key(_key_id(name))
        except KeystoreError as exc:
            if "holds no key" in str(exc):
                raise UnknownKey(str(exc)) from None
            raise
        return {"name": name, "algorithm": algorithm, "publicKey": b64url_encode(public)}

    @app.get("/v1/health")
    def health() -> dict:
        token.check()
        return {"status": "ok"}

    @app.post("/v1/keys", status_code=201)
    def new_key(body: NewKey) -> JSONResponse:
        if body.algorithm == "Ed25519":
            _, held = token.new_ed25519(body.label)
        else:
            _, held = token.new_secp256k1(lambda _public: body.label)
        assert held.ref is not None
        return JSONResponse(describe(key_id_of(held.ref).hex()), status_code=201)

    @app.get("/v1/keys/{name}")
    def get_key(name: str) -> dict:
        return describe(name)

    @app.post("/v1/keys/{name}/sign")
    def sign(name: str, body: SignRequest) -> dict:
        key_id = _key_id(name)
        try:
            data = b64url_decode(body.data)
        except ValueError as exc:
            raise SignerError(f"data: {exc}") from None
        algorithm = describe(name)["algorithm"]
        key = TokenKey(token.config, key_id)
        if algorithm == "Ed25519":
            signature = key.sign_ed25519(data)
        else:
            if len(data) != 32:
                raise SignerError("a secp256k1 key signs a 32-byte digest")
            r, s = key.sign_digest(data)
            signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return {"signature": b64url_encode(signature)}

    return app


def serve(
    token: Pkcs11Keystore,
    *,
    host: str,
    port: int,
    certfile: str,
    keyfile: str,
    client_ca: str,
) -> None:
    import uvicorn

    token.check()  # refuse to start without the token
    uvicorn.run(
        create_signer_app(token),
        host=host,
        port=port,
        ssl_certfile=certfile,
        ssl_keyfile=keyfile,
        ssl_ca_certs=client_ca,
        ssl_cert_reqs=ssl.CERT_REQUIRED,  # mutual TLS: no client certificate, no connection
        log_level="warning",
    )
