"""Document routes: upload (the responsible operator), the public list of a battery's documents,
and the document itself at its stable URL (public ones to anyone, restricted ones through a
signed link that the verifier's /access answer hands to entitled readers)."""

from __future__ import annotations

import base64

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import Response
from sqlmodel import Session

from infra.app import app_runtime
from infra.db import db_session
from infra.openapi import content, merge, problems
from infra.responses import json_response
from issuer import batteries
from issuer.auth import current_operator
from issuer.documents import library, links
from issuer.documents.errors import DocumentLinkRefused, DocumentTooLarge, InvalidDocument
from issuer.ports import IssuerRuntime
from issuer.tables import Operator
from vocab.catalogue import Tier

upload_router = APIRouter(tags=["documents"])
public_router = APIRouter(tags=["documents"])


@upload_router.post(
    "/batteries/{battery_id}/documents",
    status_code=201,
    responses=merge(content(201, "application/json"), problems(401, 403, 404, 413, 415, 422)),
    summary="Add a document (PDF or image) to a battery; the next passport version lists it",
)
def upload_document(
    battery_id: str,
    file: UploadFile | None = File(None, description="The document: PDF, PNG, JPEG or WebP."),
    type: str | None = Form(None, description=", ".join(library.DOCUMENT_TYPES)),  # noqa: A002
    title: str | None = Form(None),
    language: str | None = Form(None, description="BCP 47 language tag, e.g. en."),
    tier: str | None = Form(
        None, description="Access tier; default: the one Annex XIII gives the type."
    ),
    operator: Operator = Depends(current_operator),
    session: Session = Depends(db_session),
    rt: IssuerRuntime = Depends(app_runtime),
) -> Response:
    battery = batteries.get(session, battery_id)
    batteries.require_responsible(session, battery, operator)
    if file is None:
        raise InvalidDocument("file", "is required (a multipart/form-data part named file)")
    limit = rt.settings.document_max_bytes
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise DocumentTooLarge("file", f"is larger than the limit of {limit} bytes")
    document = library.add(
        session,
        rt.document_store(),
        battery,
        operator,
        data=data,
        declared_media_type=file.content_type,
        doc_type=type,
        title=title,
        language=language,
        tier=tier,
        max_bytes=limit,
    )
    session.commit()
    described = library.describe(document, rt.settings.public_url)
    described["note"] = "the next passport version lists it under relatedResource"
    return json_response(described, 201)


@public_router.get(
    "/batteries/{battery_id}/documents",
    responses=merge(content(200, "application/json"), problems(404)),
    summary="The battery's public documents (restricted ones come with /access)",
)
def list_documents(
    battery_id: str,
    session: Session = Depends(db_session),
    rt: IssuerRuntime = Depends(app_runtime),
) -> Response:
    battery = batteries.get(session, battery_id)
    found = [
        library.describe(d, rt.settings.public_url)
        for d in library.of_battery(session, battery.id)
        if d.tier == Tier.PUBLIC.value
    ]
    return json_response({"documents": found})


@public_router.get(
    library.DOCUMENTS_PATH + "{document_id}",
    response_class=Response,
    responses=merge(
        content(200, "application/pdf", "image/png", "image/jpeg"), problems(403, 404, 503)
    ),
    summary="A document: public ones at this URL, restricted ones with a signed link",
)
def get_document(
    document_id: str,
    request: Request,
    session: Session = Depends(db_session),
    rt: IssuerRuntime = Depends(app_runtime),
) -> Response:
    document = library.get(session, document_id)
    public = document.tier == Tier.PUBLIC.value
    if not public:
        q = request.query_params
        path = rt.settings.public_path + library.DOCUMENTS_PATH + document.id
        try:
            links.check(rt.document_link_key, path, q.get("expires"), q.get("reader"), q.get("sig"))
        except links.LinkInvalid as exc:
            raise DocumentLinkRefused(f"document {document.id} is restricted: {exc}") from None
    data = library.read(rt.document_store(), document)
    sha256 = base64.b64encode(bytes.fromhex(document.sha256)).decode()
    headers = {
        # RFC 9530: the digest of what was stored; a client compares it with relatedResource.
        "Repr-Digest": f"sha-256=:{sha256}:",
        "ETag": f'"{document.sha256}"',
        "Cache-Control": "public, max-age=3600" if public else "private, no-store",
        "Content-Disposition": "inline",
        "X-Content-Type-Options": "nosniff",
    }
    return Response(data, media_type=document.media_type, headers=headers)
