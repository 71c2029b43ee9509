"""What the company portal and the authority portal share around a signed-in page: the page
frame (area name, navigation, sign-out form with the session's CSRF token) and signing out
(CSRF check, session ended, cookie cleared). Each portal states its `Area` once; who is signed
in, and how, stays each portal's own (`company.signed_in`, `authority.signed_in`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session

from portal import sessions
from portal.ports import PortalRuntime
from portal.render import page
from portal.tables import PortalSession


class SignedIn(Protocol):
    """Whoever is signed in: the session row (its CSRF token) is all the frame needs."""

    row: PortalSession

    @property
    def csrf(self) -> str: ...


def secure(rt: PortalRuntime, request: Request) -> bool:
    """Whether cookies get the Secure flag: the service is public over HTTPS, or this request
    came over it."""
    return rt.settings.public_url.startswith("https://") or request.url.scheme == "https"


@dataclass(frozen=True)
class Area:
    """One portal: its name in the page header, its navigation, and where signing in and out
    happen."""

    name: str
    nav: tuple[tuple[str, str], ...]
    login: str
    logout: str

    def page(
        self, template: str, who: SignedIn, current: str, status: int = 200, **values: Any
    ) -> HTMLResponse:
        """A signed-in page of this area; its sign-out form carries the session's CSRF token."""
        return page(
            template, status=status, area_name=self.name, nav=self.nav, current=current,
            signed_in=True, signout_action=self.logout, csrf=who.csrf, **values,
        )  # fmt: skip

    def sign_out(
        self,
        request: Request,
        rt: PortalRuntime,
        session: Session,
        who: SignedIn,
        csrf: str | None,
    ) -> RedirectResponse:
        """End the session (the form's CSRF token must be the session's) and go to sign-in."""
        sessions.check_csrf(who.row, csrf)
        sessions.end(session, request)
        session.commit()
        response = RedirectResponse(self.login, status_code=303)
        sessions.clear_cookie(response, secure=secure(rt, request))
        return response
