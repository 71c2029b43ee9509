"""DID resolution on the holder's side, done by the wallet itself (never by asking the service
whose answer is being checked): did:key is computed, did:web is fetched from its own host."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, unquote

from proofs.controller import verification_method_for_purpose
from proofs.didkey import did_key_document
from proofs.errors import ProofError, VerificationMethodError
from wallet.errors import ResolutionFailed, WalletError
from wallet.net import Http, is_loopback

_SEGMENT = re.compile(r"[A-Za-z0-9._~%-]+")
_HOST = re.compile(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?")


def did_web_url(did: str, *, insecure_http: bool = False) -> str:
    """did:web:host%3Aport:a:b -> https://host:port/a/b/did.json. Plain http only for a loopback
    host (a dbp instance on this machine) or when the user asked for it (`--insecure-http`)."""
    if not did.startswith("did:web:"):
        raise ResolutionFailed(f"{did!r} is not a did:web DID")
    segments = did[len("did:web:") :].split(":")
    if not all(s and _SEGMENT.fullmatch(s) for s in segments):
        raise ResolutionFailed(f"{did!r} has an empty or malformed method-specific identifier")
    host = unquote(segments[0])
    if not _HOST.fullmatch(host):
        raise ResolutionFailed(f"{did!r} does not name a valid host")
    path = [unquote(s) for s in segments[1:]]
    suffix = (
        "/" + "/".join(quote(p, safe="") for p in path) + "/did.json"
        if path
        else ("/.well-known/did.json")
    )
    hostname = host.rsplit(":", 1)[0]
    scheme = "http" if is_loopback(hostname) or insecure_http else "https"
    return f"{scheme}://{host}{suffix}"


class Resolver:
    def __init__(self, http: Http) -> None:
        self.http = http
        self._cache: dict[str, dict[str, Any]] = {}

    def document(self, did: str) -> dict[str, Any]:
        if did in self._cache:
            return self._cache[did]
        if did.startswith("did:key:"):
            try:
                document = did_key_document(did)
            except ProofError as exc:
                raise ResolutionFailed(str(exc)) from None
        elif did.startswith("did:web:"):
            url = did_web_url(did, insecure_http=self.http.insecure_http)
            try:
                _, document = self.http.json(
                    "GET", url, headers={"Accept": "application/did+json, application/json"}
                )
            except WalletError as exc:
                raise ResolutionFailed(f"cannot resolve {did}: {exc}") from None
            if not isinstance(document, dict) or document.get("id") != did:
                raise ResolutionFailed(f"the document at {url} does not describe {did}")
        else:
            raise ResolutionFailed(f"{did!r}: only did:key and did:web are supported")
        self._cache[did] = document
        return document

    def verification_method(self, vm_id: str, purpose: str) -> dict[str, Any]:
        """A `proofs` VerificationMethodResolver."""
        if not isinstance(vm_id, str) or "#" not in vm_id:
            raise VerificationMethodError(f"{vm_id!r} is not a DID URL with a fragment")
        try:
            document = self.document(vm_id.partition("#")[0])
        except ResolutionFailed as exc:
            raise VerificationMethodError(str(exc)) from None
        return verification_method_for_purpose(document, vm_id, purpose)
