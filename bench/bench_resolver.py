"""Benchmarks of `resolver`: resolution requests against a trivial route through the same client,
and the QR library choice (segno, used, against qrcode, when installed).

- `GET /01/{gtin}/21/{serial}` with `Accept: application/linkset+json`, JSON-LD and the consumer
  page, each against `GET /health` through the same TestClient (same HTTP, app and middleware
  overhead), on a SQLite database holding one battery with a signed public credential. The JSON
  paths sign, verify and canonicalise nothing; the page verifies every credential it shows.
- The same linkset request answered with 304 (If-None-Match).

Goals (at most 4x the trivial route) leave room for a loaded 2-core machine (the ratio moves
between about 1.2 and 3.6 there) and still catch signing or canonicalising on a resolution path,
which costs several milliseconds per credential.
- QR SVG/PNG with segno against qrcode for the same URI, uncached.
"""

from __future__ import annotations

import io
import tempfile
import uuid
from pathlib import Path

from fastapi.testclient import TestClient

from bench.harness import Row, compare
from issuer import operators
from resolver import registry
from resolver.qr import make_symbol
from service.app import create_app
from service.db import session_scope
from service.settings import Settings
from vocab.catalogue import Tier
from vocab.context import CREDENTIAL_CONTEXTS, PUBLIC_PASSPORT_CREDENTIAL
from vocab.examples import load_example
from vocab.gs1 import item_key
from vocab.tiers import split_by_tier

URI = "https://dpp.example.com/01/09520123456788/10/BID12345678/21/SN12345678"


class _Source:
    """A passport source holding one battery's credentials (what issuer.views will return)."""

    def __init__(self, runtime, battery_id: str, credentials: list[dict]) -> None:
        self.runtime, self.battery_id, self.credentials = runtime, battery_id, credentials

    def battery_by_id(self, session, battery_id):
        return None

    def public_credentials(self, session, battery_id):
        return list(self.credentials) if battery_id == self.battery_id else []

    def passport_history(self, session, battery_id):
        return []

    def verify_credential(self, session, credential):
        return self.runtime.verify_credential(session, credential)


def _resolution_rows(client: TestClient) -> list[Row]:
    runtime = client.app.state.runtime
    with session_scope(runtime.engine) as session:
        operator, token = operators.create_operator(
            session,
            name="bench",
            did_method="web",
            did_web_base=runtime.settings.did_web_base,
            master_key=runtime.master_key,
        )
        key = item_key("09520123456788", "SN-BENCH")
        route = registry.register(
            session,
            battery_id=str(uuid.uuid4()),
            key=key,
            did_web_base=runtime.settings.did_web_base,
            holder_did=operator.did,
        )
        battery_id, issuer = route.id, operator.did
    item_uri = key.uri(runtime.settings.public_url)
    passport = load_example("ev")
    passport["batteryIdentifier"] = item_uri
    credential = {
        "@context": list(CREDENTIAL_CONTEXTS),
        "type": ["VerifiableCredential", PUBLIC_PASSPORT_CREDENTIAL],
        "issuer": issuer,
        "credentialSubject": split_by_tier(passport)[Tier.PUBLIC],
    }
    signed = client.post(
        "/credentials/issue",
        json={"credential": credential},
        headers={"Authorization": f"Bearer {token}"},
    ).json()["verifiableCredential"]
    runtime.passports = _Source(runtime, battery_id, [signed])

    path = key.path()
    linkset = {"Accept": "application/linkset+json"}
    tag = client.get(path, headers=linkset).headers["etag"]
    assert client.get(path, headers={**linkset, "If-None-Match": tag}).status_code == 304

    def get(headers: dict[str, str]):
        return lambda: client.get(path, headers=headers)

    health = ("GET /health, same client", lambda: client.get("/health"))
    return [
        compare("GET item URI, Accept linkset+json", get(linkset), *health, goal=4.0),
        compare(
            "GET item URI, linkset, If-None-Match -> 304",
            get({**linkset, "If-None-Match": tag}),
            *health,
            goal=4.0,
        ),
        compare(
            "GET item URI, Accept application/ld+json",
            get({"Accept": "application/ld+json"}),
            *health,
            goal=4.0,
        ),
        compare("GET item URI, consumer page (verifies)", get({"Accept": "text/html"}), *health),
        compare(
            "GET /1.0/identifiers/{battery DID}",
            lambda: client.get(f"/1.0/identifiers/{route.did}"),
            *health,
            goal=4.0,
        ),
    ]


def _segno(kind: str):
    def make() -> bytes:
        out = io.BytesIO()
        make_symbol(URI).save(out, kind=kind, scale=8, border=4)
        return out.getvalue()

    return make


def _qrcode(kind: str):
    import qrcode
    import qrcode.image.svg
    from qrcode.constants import ERROR_CORRECT_M

    def make() -> bytes:
        factory = qrcode.image.svg.SvgPathImage if kind == "svg" else None
        symbol = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=8, border=4)
        symbol.add_data(URI)
        symbol.make(fit=True)
        out = io.BytesIO()
        image = symbol.make_image(image_factory=factory) if factory else symbol.make_image()
        image.save(out) if factory else image.save(out, format="PNG")
        return out.getvalue()

    return make


def _qr_rows() -> list[Row]:
    try:
        import qrcode  # noqa: F401 - only to compare; not a dependency
    except ImportError:
        return []
    rows = []
    for kind in ("svg", "png"):
        ours, theirs = _segno(kind), _qrcode(kind)
        row = compare(f"QR {kind.upper()}, segno (used)", ours, f"qrcode[pil] {kind}", theirs)
        print(f"  sizes {kind}: segno {len(ours())} B, qrcode {len(theirs())} B", flush=True)
        rows.append(row)
    return rows


def run() -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp),
            database_url=f"sqlite:///{tmp}/bench.sqlite3",
            public_url="http://bench.example",
        )
        with TestClient(create_app(settings)) as client:
            rows = _resolution_rows(client)
    return rows + _qr_rows()
