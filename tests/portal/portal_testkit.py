"""Helpers of the portal tests: signing in through the real form, reading CSRF tokens from
pages, registering batteries quickly through the issuer's public functions."""

from __future__ import annotations

import re
from typing import Any

import orjson
from fastapi.testclient import TestClient

from vocab.examples import load_example

GTIN = "09520123456788"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "the page has no CSRF field"
    return match[1]


def sign_in(client: TestClient, token: str) -> None:
    r = client.get("/portal/login")
    assert r.status_code == 200
    r = client.post(
        "/portal/login", data={"token": token, "csrf": csrf_of(r.text)}, follow_redirects=False
    )
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/portal/batteries"


def passport_data(example: str = "ev") -> dict[str, Any]:
    data = load_example(example)
    for name in ("batteryIdentifier", "passportId", "passportVersion"):
        data.pop(name, None)
    return data


def passport_text(example: str = "ev") -> str:
    return orjson.dumps(passport_data(example)).decode()


def register_many(client: TestClient, operator: dict, count: int, prefix: str = "S") -> None:
    """`count` registered batteries (no passports) in one transaction, for search tests."""
    from issuer import batteries, operators
    from service.db import session_scope
    from vocab.gs1 import item_key

    rt = client.app.state.runtime
    with session_scope(rt.engine) as session:
        op = operators.by_name(session, operator["name"])
        for i in range(count):
            batteries.register(session, rt.issuer_config, op, item_key(GTIN, f"{prefix}{i:06d}"))


# --- authorities --------------------------------------------------------------------------------

V2 = "https://www.w3.org/ns/credentials/v2"
CHALLENGE = re.compile(r'id="challenge">([^<]+)<')


class Holder:
    """An authority's wallet key: a did:key that signs presentations."""

    def __init__(self) -> None:
        from proofs.didkey import did_key, did_key_verification_method_id
        from proofs.keys import Ed25519Key

        self.key = Ed25519Key.generate()
        self.did = did_key(self.key.public)
        self.vm = did_key_verification_method_id(self.did)

    def present(self, credentials: list[dict], challenge: str, domain: str) -> dict:
        from proofs import dataintegrity

        vp = {
            "@context": [V2],
            "type": ["VerifiablePresentation"],
            "holder": self.did,
            "verifiableCredential": credentials,
        }
        return dataintegrity.create_proof(
            vp, self.key, self.vm, proof_purpose="authentication",
            challenge=challenge, domain=domain,
        )  # fmt: skip


def accredit(client: TestClient, subject: str, role: str = "market-surveillance") -> dict:
    """A role credential (AuthorityCredential for authority types) signed by the instance,
    this service's default trust anchor."""
    from service.db import session_scope
    from verifier.accreditation import role_credential

    rt = client.app.state.runtime
    credential = role_credential(issuer=rt.settings.did_web_base, subject=subject, roles=[role])
    with session_scope(rt.engine) as session:
        return rt.sign_as_instance(session, credential)


def authority_sign_in(client: TestClient, holder: Holder, credential: dict):
    """The browser side (the sign-in page) and the wallet side (the presentation) of a sign-in;
    returns the wallet's answer."""
    page = client.get("/authority/login")
    assert page.status_code == 200, page.text
    challenge = CHALLENGE.search(page.text)[1]
    info = client.get(f"/authority/login/{challenge}").json()
    vp = holder.present([credential], info["challenge"], info["domain"])
    endpoint = info["presentationEndpoint"].removeprefix("http://testserver")
    return client.post(endpoint, json={"verifiablePresentation": vp})


# Every element with its own text: its colour against the first opaque background up its
# ancestors, as the browser rendered it; returns those under 4.5:1 (3:1 for large text).
CONTRAST_SCRIPT = """
function rgb(s) { const m = s.match(/[\\d.]+/g); return m ? m.map(Number) : [0, 0, 0, 0]; }
function lum(c) { const v = c.slice(0, 3).map(x => { x /= 255;
  return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); });
  return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]; }
function background(el) { for (; el; el = el.parentElement) {
  const c = rgb(getComputedStyle(el).backgroundColor);
  if (c.length < 4 || c[3] > 0.99) return c; } return [255, 255, 255, 1]; }
const bad = [];
for (const el of document.querySelectorAll('body *')) {
  if (!Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim())) continue;
  const style = getComputedStyle(el);
  if (style.visibility === 'hidden' || el.getClientRects().length === 0) continue;
  if (el.closest('svg')) continue;
  const a = lum(rgb(style.color)), b = lum(background(el));
  const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  const size = parseFloat(style.fontSize), weight = Number(style.fontWeight) || 400;
  const large = size >= 24 || (size >= 18.66 && weight >= 700);
  if (ratio < (large ? 3 : 4.5)) bad.push(el.tagName + ' ' + ratio.toFixed(2) + ' '
    + el.textContent.trim().slice(0, 40));
}
return bad;
"""
