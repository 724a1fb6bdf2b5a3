"""What every dashboard page shares: who is looking (`Viewer`), the parts built once at start-up
(`DashboardUI`: sessions, login limiter, query runner, public links), and small responses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from tracker.accounts import Accounts
from tracker.dashboard import Dashboard, Filters
from tracker.http import request as raw
from tracker.http.dashboard.auth import SESSION_COOKIE, LoginLimiter, Sessions, same_origin
from tracker.http.dashboard.render import PAGE_HEADERS
from tracker.http.dashboard.shares import Shares
from tracker.http.site import Site
from tracker.normalise import client
from tracker.normalise.ids import Uuid
from tracker.normalise.request import RawRequest

__all__ = ["BASE", "DashboardUI", "Viewer"]

BASE = "/dashboard/"


@dataclass(frozen=True)
class Viewer:
    """A logged-in account, or a visitor of a public link (``uid`` None, ``site`` fixed)."""

    uid: Uuid | None
    base: str  # where this viewer's pages live: /dashboard/ or /dashboard/s/<token>/
    site: str | None = None

    @property
    def read_only(self) -> bool:
        return self.uid is None


class DashboardUI:
    def __init__(self, site: Site) -> None:
        settings = site.settings
        self.site = site
        key = (
            settings.dashboard_secret.value.encode()
            if settings.dashboard_secret
            else site.rt.data_dir.dashboard_key()
        )
        self.sessions = Sessions(key)
        self.limiter = LoginLimiter()
        self.accounts = Accounts(site.rt.sink.query)
        self.board = Dashboard(
            site.rt.sink.query,
            threads=settings.dashboard_query_threads,
            timeout_seconds=settings.dashboard_query_timeout_seconds,
        )
        self.shares = Shares(site.ingest, self.board)
        self.script_path = f"{site.prefix}/t.js"

    def close(self) -> None:
        self.board.close()

    # -- who is asking -------------------------------------------------------------------------

    def raw(self, request: Request) -> RawRequest:
        return raw.from_scope(request.scope)

    def account(self, request: Request) -> Uuid | None:
        return self.sessions.verify(request.cookies.get(SESSION_COOKIE))

    def host(self, request: Request) -> str:
        return self.site.ingest.host(self.raw(request))

    def client_ip(self, request: Request) -> str:
        req = self.raw(request)
        return client.client_ip(req.peer, req.headers, self.site.ingest.trusted_proxies)

    def check_origin(self, request: Request) -> None:
        """CSRF: a POST must come from a page of this host (raises Forbidden)."""
        same_origin(dict(request.headers), self.host(request))

    def secure(self, request: Request) -> bool:
        """Whether the browser reached us over TLS: directly, or through a trusted proxy that
        says so (``X-Forwarded-Proto: https``)."""
        req = self.raw(request)
        if req.scheme == "https":
            return True
        forwarded = req.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
        return forwarded == "https" and self.site.ingest.trusted_proxies.contains(req.peer)

    async def viewer(self, request: Request) -> Viewer | None:
        """The account of the session cookie, or the public link in the path; None for neither."""
        token = request.path_params.get("token")
        if token is not None:
            shown = await self.shares.site_of(token)
            return Viewer(None, f"{BASE}s/{token}/", shown) if shown is not None else None
        uid = self.account(request)
        return Viewer(uid, BASE) if uid is not None else None

    def filters(self, request: Request, viewer: Viewer) -> Filters:
        query = dict(request.query_params)
        if viewer.site is not None:
            query["site"] = viewer.site  # a public link shows its own site, whatever the URL says
        return Filters.parse(query, datetime.now(UTC).date())


def to_login(request: Request) -> Response:
    """303 to the login form, coming back here afterwards."""
    back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"{BASE}login?next={quote(back, safe='')}", 303, PAGE_HEADERS)


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a dashboard path only (never another site)."""
    if (
        target
        and target.startswith(BASE)
        and not target.startswith("//")
        and "\\" not in target
        and all(" " < ch < "\x7f" for ch in target)
    ):
        return target
    return BASE
