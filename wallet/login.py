"""`dbp wallet login URL`: sign a browser in to a dbp authority portal.

The portal's sign-in page shows a login URL (as text and as a QR code). The wallet reads the
challenge and presentation endpoint from it, presents its unexpired AuthorityCredentials about
its own DID over that challenge, and posts the presentation; the browser waiting on the page is
signed in once the service has verified it. The endpoint must be on the login URL's origin, so a
forged login document cannot send the presentation elsewhere."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from vocab.context import AUTHORITY_CREDENTIAL
from vocab.datetimes import utcnow
from vocab.vcdm import as_list
from wallet import credentials as creds
from wallet.errors import BadInput, ServiceError, WalletError
from wallet.net import Http
from wallet.presenting import presentation
from wallet.requesting import _expired


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def authority_credentials(
    entries: list[dict[str, Any]], did: str, chosen: Sequence[str] = ()
) -> list[dict[str, Any]]:
    if chosen:
        return [creds.find(entries, wanted) for wanted in chosen]
    now = utcnow()
    picked = []
    for entry in entries:
        try:
            inner = creds.content(entry["credential"])
        except WalletError:
            continue
        if AUTHORITY_CREDENTIAL not in as_list(inner.get("type", [])):
            continue
        if creds.subject_of(inner) == did and not _expired(inner, now):
            picked.append(entry)
    if not picked:
        raise BadInput(
            f"the wallet holds no unexpired AuthorityCredential for {did}; import one "
            "(`dbp wallet import`) or pick one with --credential"
        )
    return picked


def login(
    url: str,
    identity: dict[str, Any],
    entries: list[dict[str, Any]],
    http: Http,
    *,
    chosen: Sequence[str] = (),
) -> dict[str, Any]:
    presented = authority_credentials(entries, identity["did"], chosen)
    where, info = http.json("GET", url, headers={"Accept": "application/json"})
    if not isinstance(info, dict) or not all(
        isinstance(info.get(k), str) for k in ("challenge", "domain", "presentationEndpoint")
    ):
        raise ServiceError(f"{where} is not a dbp sign-in request (challenge, domain, endpoint)")
    endpoint = info["presentationEndpoint"]
    if _origin(endpoint) != _origin(where):
        raise ServiceError(
            f"the sign-in request at {where} names an endpoint on another origin ({endpoint}); "
            "nothing was presented"
        )
    vp = presentation(
        identity,
        [e["credential"] for e in presented],
        challenge=info["challenge"],
        domain=info["domain"],
    )
    _, answer = http.json("POST", endpoint, json={"verifiablePresentation": vp})
    if not isinstance(answer, dict) or answer.get("signedIn") is not True:
        raise ServiceError(f"{endpoint} did not confirm the sign-in")
    return {
        "signedIn": True,
        "authority": answer.get("authority"),
        "readers": answer.get("readers", []),
        "presented": [e["id"] for e in presented],
        "endpoint": endpoint,
    }
