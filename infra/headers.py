"""Security headers on every answer: what a browser may do with it.

- `X-Content-Type-Options: nosniff` everywhere (a JSON answer is never run as a script);
- `Referrer-Policy: strict-origin-when-cross-origin` (item URIs carry serial numbers; another
  site linked from a page learns the origin only);
- no framing: `X-Frame-Options: DENY` and CSP `frame-ancestors 'none'` (clickjacking);
- `Content-Security-Policy`: HTML answers get the policy of the pages (`html_policy`: no script
  at all, the inline stylesheet by its hash), everything else `default-src 'none'`;
- `Strict-Transport-Security` only where HTTPS is real: the public URL is https, or the request
  came over HTTPS (uvicorn sets the scheme from X-Forwarded-Proto only for the proxies it trusts,
  FORWARDED_ALLOW_IPS), so a plain-HTTP local set-up is never pinned to HTTPS.
A handler's own header of the same name wins (it knows better)."""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# What uvicorn refuses in a header value (its HEADER_VALUE_RE): control characters but tab, and DEL.
FORBIDDEN_IN_VALUES = bytes([*range(0x00, 0x09), *range(0x0A, 0x20), 0x7F])


def plain_values(values: Iterable[bytes]) -> bool:
    """Whether uvicorn writes every one of `values` as it is (none holds a forbidden byte): one
    `bytes.translate` over them all, joined by a tab (allowed in values)."""
    joined = b"\t".join(values)
    return len(joined.translate(None, FORBIDDEN_IN_VALUES)) == len(joined)


NO_FRAMES = "frame-ancestors 'none'"
NOT_A_DOCUMENT = "default-src 'none'; " + NO_FRAMES
HSTS = b"max-age=31536000"


class SecurityHeaders:
    def __init__(
        self,
        app: ASGIApp,
        *,
        html_policy: str,
        https_public_url: bool,
        exempt_paths: Iterable[str | None] = (),
    ) -> None:
        self.app = app
        self.html_policy = html_policy.encode()
        self.https_public_url = https_public_url
        # pages of other origin than ours (FastAPI's /docs loads its scripts from a CDN)
        self.exempt = frozenset(p for p in exempt_paths if p)
        self._extras: dict[tuple[bool, bool, bool], tuple[tuple[bytes, bytes], ...]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        hsts = self.https_public_url or scope.get("scheme") == "https"
        exempt = scope.get("path") in self.exempt

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = self.added(message.get("headers", []), hsts=hsts, exempt=exempt)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)

    def added(
        self,
        headers: Iterable[tuple[bytes, bytes]],
        *,
        hsts: bool,
        exempt: bool = False,
        last: tuple[bytes, bytes] | None = None,
    ) -> list[tuple[bytes, bytes]]:
        """`headers` (an answer's, as ASGI sends them) with the security headers it lacks
        (service.scans' fast path for QR scans calls this too: the same headers either way);
        `last` (a lower-case name) replaces any header of its name, at the end: what
        service.observe then does with the request id, in the same pass over the names."""
        headers = list(headers)
        names = set()
        content_type = None
        for name, value in headers:  # one pass: names, and the first Content-Type
            name = name.lower()
            names.add(name)
            if content_type is None and name == b"content-type":
                content_type = value
        html = content_type is not None and content_type.lower().startswith(b"text/html")
        headers += [(n, v) for n, v in self.extra(html, hsts, exempt) if n not in names]
        if last is not None:
            if last[0] in names:
                headers = [(n, v) for n, v in headers if n.lower() != last[0]]
            headers.append(last)
        return headers

    def extra(
        self, html: bool, hsts: bool, exempt: bool = False
    ) -> tuple[tuple[bytes, bytes], ...]:
        """The headers to add, by the three facts they depend on (made once each), for an
        answer that has none of them (service.scans' stored answers)."""
        key = (html, hsts, exempt)
        extra = self._extras.get(key)
        if extra is None:
            extra = [
                (b"x-content-type-options", b"nosniff"),
                (b"referrer-policy", b"strict-origin-when-cross-origin"),
                (b"x-frame-options", b"DENY"),
            ]
            if not exempt:
                policy = (self.html_policy if html else b"") or NOT_A_DOCUMENT.encode()
                extra.append((b"content-security-policy", policy))
            if hsts:
                extra.append((b"strict-transport-security", HSTS))
            extra = self._extras[key] = tuple(extra)
        return extra
