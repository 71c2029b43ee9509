"""Anchor HTTP routes: the receipt of a credential's anchor."""

from __future__ import annotations

import re

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from sqlmodel import Session

from anchor import receipts
from anchor.errors import AnchorNotFound
from infra.db import db_session
from infra.openapi import problems
from infra.responses import json_response

router = APIRouter(tags=["anchors"])

_LEAF = re.compile(r"(0x)?[0-9a-fA-F]{64}")


@router.get(
    "/anchors/{credential_id:path}",
    responses=problems(404),
    summary="Anchor receipt of a credential: leaf, proof, root, chain, transaction, block, time",
    description=(
        "`credential_id` is the credential's id (e.g. `urn:uuid:...`, URL-encoded or not) or a "
        "leaf digest (64 hex digits). With the credential itself, the receipt lets anyone check "
        "the anchor against any node of the chain."
    ),
)
def get_anchor(credential_id: str, session: Session = Depends(db_session)) -> Response:
    if _LEAF.fullmatch(credential_id):
        leaf = "0x" + credential_id[-64:].lower()
        found = receipts.find(session, leaf=leaf)
    else:
        found = receipts.find(session, credential_id=credential_id)
    if found is None:
        raise AnchorNotFound(f"no anchor is recorded for {credential_id!r}")
    return json_response(receipts.build(*found))
