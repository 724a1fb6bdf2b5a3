"""Logging in and out, and turning public links on and off: the dashboard's POST forms.

Every POST passes the same-origin check first (CSRF); a login is rate limited per client address
and per account before the password is checked, and its password is never logged.
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from tracker.accounts import Credentials
from tracker.dashboard.filters import parse_site
from tracker.errors import BadRequest, TooManyRequests, TrackerError, Unauthorized
from tracker.http import request as raw
from tracker.http.dashboard.auth import session_cookie
from tracker.http.dashboard.render import PAGE_HEADERS, error_page, page
from tracker.http.dashboard.shares import TOKEN
from tracker.http.dashboard.ui import BASE, DashboardUI, safe_next
from tracker.normalise.ids import parse_uuid

__all__ = ["Login"]

log = logging.getLogger(__name__)
MAX_FORM_BYTES = 16 * 1024


class Login:
    def __init__(self, ui: DashboardUI) -> None:
        self.ui = ui

    async def form(self, request: Request) -> Response:
        if self.ui.account(request) is not None:
            return RedirectResponse(safe_next(request.query_params.get("next")), 303, PAGE_HEADERS)
        return page(
            "login.html", {"next": safe_next(request.query_params.get("next")), "error": None}
        )

    async def _form_fields(self, request: Request) -> dict[str, str]:
        """The fields of a URL-encoded form body (the only kind these forms send)."""
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/x-www-form-urlencoded":
            raise BadRequest(f"Expected a form (application/x-www-form-urlencoded), not {kind!r}.")
        body = await raw.read_body(request.receive, dict(request.headers), MAX_FORM_BYTES)
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
        except (UnicodeDecodeError, ValueError):
            raise BadRequest("The form is not valid UTF-8 URL-encoded text.") from None
        return dict(pairs)

    async def login(self, request: Request) -> Response:
        ui = self.ui
        target = BASE
        try:
            ui.check_origin(request)
            fields = await self._form_fields(request)
            target = safe_next(fields.get("next"))
            account = fields.get("uid", "").strip()
            address = ui.client_ip(request)
            ui.limiter.check(address, account.lower())
            uid = parse_uuid(account)
            password = fields.get("password", "")
            try:
                if uid is None or not password:
                    raise Unauthorized("Unknown account or wrong password.")
                await asyncio.to_thread(ui.accounts.authenticate, Credentials(uid, password))
            except Unauthorized as exc:
                ui.limiter.failed(address, account.lower())
                log.info("dashboard login failed")  # no account id, address or password
                return page("login.html", {"next": target, "error": exc.message}, status=401)
            ui.limiter.succeeded(address)
        except TooManyRequests as exc:
            headers = {"retry-after": str(exc.retry_after)}
            context = {"next": target, "error": exc.message}
            return page("login.html", context, status=429, headers=headers)
        except TrackerError as exc:
            return error_page(exc)
        response = RedirectResponse(target, 303, PAGE_HEADERS)
        response.raw_headers.append(session_cookie(ui.sessions.issue(uid), ui.secure(request)))
        return response

    async def logout(self, request: Request) -> Response:
        ui = self.ui
        try:
            ui.check_origin(request)
        except TrackerError as exc:
            return error_page(exc)
        ui.sessions.revoke(request.cookies.get("tracker_session"))
        response = RedirectResponse(f"{BASE}login", 303, PAGE_HEADERS)
        response.raw_headers.append(session_cookie("", ui.secure(request)))
        return response

    async def share(self, request: Request) -> Response:
        """Turn a site's public read-only link on (``action=create``) or off (``revoke``)."""
        ui = self.ui
        try:
            ui.check_origin(request)
            uid = ui.account(request)
            if uid is None:
                raise Unauthorized("Log in to the dashboard first.")
            fields = await self._form_fields(request)
            site = parse_site(fields.get("site", ""))
            if not site:
                raise BadRequest("Choose a site first: a public link shows one site.")
            action = fields.get("action")
            if action == "create":
                await ui.shares.create(site, uid)
            elif action == "revoke" and TOKEN.fullmatch(fields.get("token", "")):
                await ui.shares.revoke(fields["token"], uid)
            else:
                raise BadRequest("Expected action 'create', or 'revoke' with the link's token.")
        except TrackerError as exc:
            return error_page(exc)
        back = f"{BASE}?{urlencode({'site': site})}#share"
        return RedirectResponse(back, 303, PAGE_HEADERS)
