"""Battery documents end to end: upload (multipart, operator token), listed by the next passport
version under relatedResource with digestSRI and mediaType, public ones at a stable URL,
restricted ones only through a fresh signed link handed to an entitled reader in /access, the
verifier's digest check and the page's list. Both databases; the folder store, then S3 (moto)."""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from sqlmodel import Session, select
from verifier_testkit import Holder

from issuer.documents import links
from issuer.documents.tables import BatteryDocument
from vocab.catalogue import Tier
from vocab.examples import load_example

GTIN = "09520123456788"
ITEM = f"/01/{GTIN}/21/SN-1"
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def auth(operator: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {operator['token']}"}


def _passport() -> dict:
    data = load_example("ev")
    for field in ("batteryIdentifier", "passportId", "passportVersion"):
        data.pop(field)
    return data


@pytest.fixture
def battery(app_client, operator_token):
    acme = operator_token("acme")
    r = app_client.post("/batteries", json={"gtin": GTIN, "serial": "SN-1"}, headers=auth(acme))
    assert r.status_code == 201, r.text
    b = r.json()
    r = app_client.post(f"/batteries/{b['id']}/passport", json=_passport(), headers=auth(acme))
    assert r.status_code == 201, r.text
    return {"acme": acme, **b}


def upload(client, battery, data=PDF, filename="doc.pdf", media="application/pdf", **fields):
    form = {"type": "declaration-of-conformity", "title": "EU declaration of conformity",
            "language": "en", **fields}  # fmt: skip
    return client.post(
        f"/batteries/{battery['id']}/documents",
        data={k: v for k, v in form.items() if v is not None},
        files={"file": (filename, data, media)} if data is not None else None,
        headers=auth(battery["acme"]),
    )


def new_version(client, battery) -> list[dict]:
    r = client.post(
        f"/batteries/{battery['id']}/passport", json=_passport(), headers=auth(battery["acme"])
    )
    assert r.status_code == 201, r.text
    return r.json()["verifiableCredentials"]


def tier_of(vc: dict) -> str:
    return vc["credentialSubject"]["accessTier"]


def sri(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


def challenge_access(client, holder: Holder, credentials: list[dict]):
    body = client.post("/challenges").json()
    vp = holder.present(credentials, body["challenge"], body["domain"])
    return client.post(ITEM + "/access", json={"verifiablePresentation": vp})


def accredit(client, subject: str, role: str) -> dict:
    from service.db import session_scope
    from verifier.accreditation import role_credential

    rt = client.app.state.runtime
    with session_scope(rt.engine) as session:
        return rt.sign_as_instance(
            session,
            role_credential(issuer=rt.settings.did_web_base, subject=subject, roles=[role]),
        )


def stored_path(client, document_id: str) -> Path:
    rt = client.app.state.runtime
    with Session(rt.engine) as session:
        sha = session.get(BatteryDocument, document_id).sha256
    return Path(rt.settings.resolved_document_store) / "sha256" / sha[:2] / sha


def test_a_public_document_is_listed_served_and_verified(app_client, battery):
    r = upload(app_client, battery)
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["tier"] == "public" and doc["mediaType"] == "application/pdf"
    assert doc["digestSRI"] == sri(PDF)
    url = doc["url"]

    public = next(vc for vc in new_version(app_client, battery) if tier_of(vc) == "public")
    assert public["relatedResource"] == [
        {"id": url, "digestSRI": sri(PDF), "mediaType": "application/pdf"}
    ]
    # the stable URL, to anyone
    got = app_client.get(urlsplit(url).path)
    assert got.status_code == 200
    assert got.content == PDF and got.headers["content-type"] == "application/pdf"
    assert got.headers["repr-digest"] == (
        "sha-256=:" + base64.b64encode(hashlib.sha256(PDF).digest()).decode() + ":"
    )
    listed = app_client.get(f"/batteries/{battery['id']}/documents").json()["documents"]
    assert [d["id"] for d in listed] == [doc["id"]]

    v = app_client.post("/credentials/verify", json={"verifiableCredential": public}).json()
    assert v["verified"] is True, v
    assert "relatedResource" in v["checks"]
    page = app_client.get(ITEM, headers={"Accept": "text/html"}).text
    assert 'id="documents"' in page and "EU declaration of conformity" in page
    assert 'data-digest="ok"' in page

    # one byte changed in the store: the digest check fails, the page says so
    path = stored_path(app_client, doc["id"])
    path.write_bytes(PDF.replace(b"1.7", b"1.6"))
    r = app_client.post("/credentials/verify", json={"verifiableCredential": public})
    assert r.status_code == 400
    failed = {e["check"]: e["type"].rsplit("/", 1)[-1] for e in r.json()["errors"]}
    assert failed == {"relatedResource": "digest-mismatch"}
    # The store changed without a database write: the page's materialized answer catches up
    # within DBP_RESOLVER_VIEW_MAX_AGE_S; here it is rebuilt at once.
    from resolver import views

    with Session(app_client.app.state.runtime.engine) as session:
        views.invalidate(session, {battery["id"]})
        session.commit()
    page = app_client.get(ITEM, headers={"Accept": "text/html"}).text
    assert 'data-digest="bad"' in page and "Changed after signing" in page


def test_a_restricted_document_only_through_a_fresh_signed_link(app_client, battery):
    r = upload(app_client, battery, type="dismantling-information", title="Dismantling manual")
    assert r.status_code == 201, r.text
    dismantling = r.json()
    assert dismantling["tier"] == Tier.LEGITIMATE_INTEREST_AND_COMMISSION.value
    r = upload(app_client, battery, data=PNG, filename="r.png", media="image/png",
               type="test-report", title="Abuse test report")  # fmt: skip
    assert r.status_code == 201, r.text
    report = r.json()
    assert report["tier"] == Tier.AUTHORITIES.value
    credentials = new_version(app_client, battery)
    lic = next(vc for vc in credentials if tier_of(vc) == Tier.LEGITIMATE_INTEREST_AND_COMMISSION)
    assert lic["relatedResource"][0]["id"] == dismantling["url"]
    # not in the public list, and not at the stable URL without a link
    assert app_client.get(f"/batteries/{battery['id']}/documents").json() == {"documents": []}
    path = urlsplit(dismantling["url"]).path
    r = app_client.get(path)
    assert r.status_code == 403
    assert "restricted" in r.json()["detail"]

    recycler = Holder.new()
    r = challenge_access(app_client, recycler, [accredit(app_client, recycler.did, "recycling")])
    assert r.status_code == 200, r.text
    handed = {d["id"]: d for d in r.json()["documents"]}
    assert set(handed) == {dismantling["id"]}  # the test report is not the recycler's tier
    link = urlsplit(handed[dismantling["id"]]["url"])
    assert link.path == path
    query = parse_qs(link.query)
    assert query["reader"] == [recycler.did]
    expires = int(query["expires"][0])
    assert 0 < expires - time.time() <= 900  # 15 minutes by default
    got = app_client.get(f"{link.path}?{link.query}")
    assert got.status_code == 200 and got.content == PDF
    assert got.headers["cache-control"] == "private, no-store"

    # altered: another reader, a later expiry, a changed signature
    for name, value in (("reader", "did:example:someone-else"), ("expires", str(expires + 60))):
        altered = {k: v[0] for k, v in query.items()} | {name: value}
        r = app_client.get(f"{path}?{urlencode(altered)}")
        assert r.status_code == 403 and "signature does not match" in r.json()["detail"]
    sig = query["sig"][0]
    bad = {k: v[0] for k, v in query.items()} | {"sig": ("A" if sig[0] != "A" else "B") + sig[1:]}
    assert app_client.get(f"{path}?{urlencode(bad)}").status_code == 403
    # expired: a link made 16 minutes ago
    rt = app_client.app.state.runtime
    old = links.sign(rt.document_link_key, path, recycler.did, 900, now=time.time() - 960)
    r = app_client.get(f"{path}?{old}")
    assert r.status_code == 403 and "expired" in r.json()["detail"]

    officer = Holder.new()
    role = accredit(app_client, officer.did, "notified-body")
    r = challenge_access(app_client, officer, [role])
    assert r.status_code == 200, r.text
    assert {d["id"] for d in r.json()["documents"]} == {dismantling["id"], report["id"]}


@pytest.mark.parametrize(
    ("kwargs", "status", "field"),
    [
        ({"type": "brochure"}, 422, "type"),
        ({"title": None}, 422, "title"),
        ({"language": "english please"}, 422, "language"),
        ({"tier": "secret"}, 422, "tier"),
        ({"data": None}, 422, "file"),
        ({"data": b""}, 422, "file"),
        ({"data": b"just text", "media": "text/plain"}, 415, "file"),
        ({"data": PDF, "media": "image/png"}, 415, "file"),
    ],
)
def test_bad_uploads_are_refused_precisely_and_write_nothing(
    app_client, battery, kwargs, status, field
):
    r = upload(app_client, battery, **kwargs)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["field"] == field
    rt = app_client.app.state.runtime
    with Session(rt.engine) as session:
        assert session.exec(select(BatteryDocument)).all() == []


def test_only_the_responsible_operator_uploads(app_client, battery, operator_token):
    globex = operator_token("globex")
    r = app_client.post(
        f"/batteries/{battery['id']}/documents",
        data={"type": "other", "title": "x", "language": "en"},
        files={"file": ("a.pdf", PDF, "application/pdf")},
        headers=auth(globex),
    )
    assert r.status_code == 403
    assert upload(app_client, {**battery, "acme": {"token": "nope"}}).status_code == 401


def _operator(client) -> dict:
    from issuer import operators
    from service.db import session_scope

    rt = client.app.state.runtime
    with session_scope(rt.engine) as session:
        operator, token = operators.create_operator(
            session, name="acme", did_method="web", did_web_base=rt.settings.did_web_base,
            master_key=rt.master_key,
        )  # fmt: skip
    return {"did": operator.did, "token": token}


def _registered(client) -> dict:
    acme = _operator(client)
    r = client.post("/batteries", json={"gtin": GTIN, "serial": "SN-1"}, headers=auth(acme))
    assert r.status_code == 201, r.text
    return {"acme": acme, **r.json()}


def test_a_document_over_the_limit_is_refused(database_url, make_settings):
    from fastapi.testclient import TestClient

    from service.app import create_app

    settings = make_settings(database_url, document_max_bytes=100)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        r = upload(client, _registered(client), data=PDF + b"x" * 200)
        assert r.status_code == 413, r.text
        assert r.json()["field"] == "file"
        assert "limit of 100 bytes" in r.json()["detail"]


@pytest.fixture
def s3(monkeypatch):
    import boto3
    from moto.server import ThreadedMotoServer
    from server_testkit import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_DEFAULT_REGION", "eu-central-1")):  # fmt: skip
        monkeypatch.setenv(name, value)
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client("s3", endpoint_url=endpoint)
    # moto keeps buckets per process, across servers: a name of this test's own
    bucket = f"dpp-docs-{uuid.uuid4().hex[:12]}"
    client.create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"}
    )
    try:
        yield endpoint, client, bucket
    finally:
        server.stop()


def test_documents_in_an_s3_bucket(database_url, make_settings, s3):
    from fastapi.testclient import TestClient

    from service.app import create_app

    endpoint, bucket, name = s3
    settings = make_settings(
        database_url, document_store=f"s3://{name}/passports", document_s3_endpoint_url=endpoint
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        battery = _registered(client)
        r = client.post(
            f"/batteries/{battery['id']}/passport", json=_passport(), headers=auth(battery["acme"])
        )
        assert r.status_code == 201, r.text
        r = upload(client, battery)
        assert r.status_code == 201, r.text
        doc = r.json()
        key = "passports/sha256/" + hashlib.sha256(PDF).hexdigest()
        stored = bucket.get_object(Bucket=name, Key=key)
        assert stored["Body"].read() == PDF and stored["ContentType"] == "application/pdf"
        # the same bytes again: one object, two documents
        assert upload(client, battery, title="Copy").status_code == 201
        assert bucket.list_objects_v2(Bucket=name)["KeyCount"] == 1

        public = next(vc for vc in new_version(client, battery) if tier_of(vc) == "public")
        assert client.get(urlsplit(doc["url"]).path).content == PDF
        v = client.post("/credentials/verify", json={"verifiableCredential": public}).json()
        assert v["verified"] is True, v
        bucket.put_object(Bucket=name, Key=key, Body=PDF + b" ")
        r = client.post("/credentials/verify", json={"verifiableCredential": public})
        assert r.status_code == 400
        assert r.json()["errors"][0]["check"] == "relatedResource"
