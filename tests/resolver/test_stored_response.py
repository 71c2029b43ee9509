"""resolver.api._stored builds the very response Starlette's Response would for a stored answer:
status, body and header list, in order (resolver.api.StoredResponse skips only the work)."""

from __future__ import annotations

import pytest
from starlette.requests import Request
from starlette.responses import Response

from resolver import api
from resolver.linkset import LINKSET_MEDIA_TYPE

LINK = '<https://dpp.example/01/09520123456788/21/S1?linkType=linkset>; rel="linkset"'
TAG = '"DZE70a-ZPZARMOi70YTmpONg"'


def _request(if_none_match: str | None = None) -> Request:
    headers = [(b"accept", b"*/*")]
    if if_none_match is not None:
        headers.append((b"if-none-match", if_none_match.encode()))
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers})


def _starlette(body, tag, media_type, headers, if_none_match):
    # what _stored returned before StoredResponse
    headers = {**api.CORS, **headers, "ETag": tag}
    if api.not_modified(if_none_match, tag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


@pytest.mark.parametrize(
    ("media_type", "headers"),
    [
        (LINKSET_MEDIA_TYPE, {"Link": LINK, "Vary": "Accept", "Cache-Control": "max-age=60"}),
        ("application/ld+json", {"Link": LINK, "Vary": "Accept", "Cache-Control": "max-age=60"}),
        ("text/html; charset=utf-8", {"Link": LINK, "Cache-Control": "no-cache"}),
        ("text/html", {"Link": LINK, "Cache-Control": "no-cache"}),  # charset added, as Starlette
        ("application/json", {"Link": LINK, "X-Other": "kept"}),  # a name outside the constants
    ],
)
@pytest.mark.parametrize("if_none_match", [None, TAG, f"W/{TAG}", '"other"', "*"])
@pytest.mark.parametrize("body", [b'{"linkset": []}', b"", None])
def test_stored_answers_match_starlettes_response(media_type, headers, if_none_match, body):
    ours = api._stored(_request(if_none_match), body, TAG, media_type, dict(headers))
    theirs = _starlette(body, TAG, media_type, dict(headers), if_none_match)
    assert ours.status_code == theirs.status_code
    assert ours.body == theirs.body
    assert ours.raw_headers == theirs.raw_headers
    assert ours.lines == b"".join(k + b": " + v + b"\r\n" for k, v in theirs.raw_headers)
    assert ours.headers.get("etag") == TAG  # Starlette's header view works on it too


@pytest.mark.parametrize(
    ("tag", "headers"),
    [
        (TAG, {"Link": LINK + "\r\nset-cookie: session=x"}),  # would end the line: injection
        (TAG, {"Link": LINK + "\n"}),
        ('"a"\r\nx-injected: 1', {"Link": LINK}),
        (TAG, {"Link": LINK, "Vary": "Accept\x7f"}),
    ],
)
@pytest.mark.parametrize("if_none_match", [None, TAG])
def test_a_stored_header_value_with_a_control_character_is_refused(tag, headers, if_none_match):
    with pytest.raises(api.UnwritableHeader):
        api._stored(_request(if_none_match), b"{}", tag, LINKSET_MEDIA_TYPE, headers)


def test_a_tab_in_a_stored_value_is_kept_as_http_allows():
    ours = api._stored(_request(), b"{}", TAG, LINKSET_MEDIA_TYPE, {"Link": LINK + ",\t<x>"})
    assert (b"link", (LINK + ",\t<x>").encode()) in ours.raw_headers
