"""The pages around the dashboard: the tracking-URL builder and the short-link page (the Go
tracker's ``track_url.html`` and ``shorten_url.html``), the tracking snippet, the metric
definitions, and the tracking script itself (``/tr/v{N}/t.js``)."""

from __future__ import annotations

import gzip
import hashlib
from importlib.resources import files

from starlette.requests import Request
from starlette.responses import Response

from tracker.dashboard.docs import TERMS
from tracker.dashboard.queries import METRICS, PANELS
from tracker.http.dashboard.render import page
from tracker.http.dashboard.ui import DashboardUI, to_login

__all__ = ["LinkPages", "Script"]


class LinkPages:
    def __init__(self, ui: DashboardUI) -> None:
        self.ui = ui

    def _common(self, request: Request) -> dict[str, object]:
        return {
            "origin": f"{request.url.scheme}://{request.url.netloc}",
            "prefix": self.ui.site.prefix,
            "host": self.ui.host(request),
            "script": self.ui.script_path,
            "domains": self.ui.site.settings.domains,
            "allowed": self.ui.site.settings.redirect_allow_hosts,
        }

    async def track(self, request: Request) -> Response:
        if self.ui.account(request) is None:
            return to_login(request)
        context = {**self._common(request), "url": request.query_params.get("url", "")}
        return page("track_url.html", context)

    async def shorten(self, request: Request) -> Response:
        if self.ui.account(request) is None:
            return to_login(request)
        context = {**self._common(request), "url": request.query_params.get("url", "")}
        return page("shorten_url.html", context)

    async def setup(self, request: Request) -> Response:
        if self.ui.account(request) is None:
            return to_login(request)
        return page("setup.html", self._common(request))

    async def docs(self, request: Request) -> Response:
        context = {
            "terms": TERMS,
            "metrics": METRICS,
            "panels": PANELS.values(),
            "logged_in": self.ui.account(request) is not None,
        }
        return page("docs.html", context)


class Script:
    """``t.js``, cached by browsers for an hour, gzipped when the browser accepts it."""

    def __init__(self) -> None:
        self.body = files("tracker.http.dashboard").joinpath("static", "t.js").read_bytes()
        self.gzipped = gzip.compress(self.body, 9, mtime=0)
        self.etag = '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'

    async def respond(self, request: Request) -> Response:
        headers = {
            "cache-control": "public, max-age=3600",
            "etag": self.etag,
            "vary": "Accept-Encoding",
            "access-control-allow-origin": "*",
            "x-content-type-options": "nosniff",
        }
        if request.headers.get("if-none-match") == self.etag:
            return Response(b"", 304, headers)
        body = self.body
        if "gzip" in request.headers.get("accept-encoding", ""):
            body = self.gzipped
            headers["content-encoding"] = "gzip"
        return Response(body, media_type="text/javascript; charset=utf-8", headers=headers)
