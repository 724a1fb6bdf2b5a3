"""The dashboard over HTTP: pages, login, public links, the link builders and the tracking script.

ui.py       what the pages share: who is asking (`Viewer`), sessions, limiter, queries, links
auth.py     the signed session cookie, the login rate limit, the same-origin (CSRF) check
pages.py    the dashboard view, each panel as JSON and as CSV
login.py    login, logout, and turning public links on and off (the POST forms)
links.py    the tracking-URL builder, the short-link page, the snippet, the docs, t.js
chart.py    the time series as server-drawn SVG          render.py  templates and formats
shares.py   public read-only links (`dashboard_shares`)
templates/, static/   the HTML, CSS and scripts (package data, no build step, no CDN)

`routes` lists them for `tracker.http.routes`; the queries live below HTTP, in
`tracker.dashboard`.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from tracker.http.dashboard.links import LinkPages, Script
from tracker.http.dashboard.login import Login
from tracker.http.dashboard.pages import Pages
from tracker.http.dashboard.ui import BASE, DashboardUI

__all__ = ["DashboardUI", "routes"]

STATIC = Path(__file__).parent / "static"


def routes(ui: DashboardUI) -> list[BaseRoute]:
    pages, login, links = Pages(ui), Login(ui), LinkPages(ui)

    async def to_dashboard(request: Request) -> Response:
        return RedirectResponse(BASE, 302)

    out: list[BaseRoute] = [
        Route("/", to_dashboard),
        Route("/dashboard", to_dashboard),
        Route(BASE, pages.view),
        Route(f"{BASE}api/{{panel}}", pages.api),
        Route(f"{BASE}export/{{panel}}.csv", pages.export),
        Route(f"{BASE}s/{{token}}/", pages.view),
        Route(f"{BASE}s/{{token}}/api/{{panel}}", pages.api),
        Route(f"{BASE}s/{{token}}/export/{{panel}}.csv", pages.export),
        Route(f"{BASE}login", login.form, methods=["GET", "HEAD"]),
        Route(f"{BASE}login", login.login, methods=["POST"]),
        Route(f"{BASE}logout", login.logout, methods=["POST"]),
        Route(f"{BASE}share", login.share, methods=["POST"]),
        Route(f"{BASE}links/track", links.track),
        Route(f"{BASE}links/short", links.shorten),
        Route(f"{BASE}setup", links.setup),
        Route(f"{BASE}docs", links.docs),
        Route(ui.script_path, Script().respond, methods=["GET", "HEAD"]),
        Mount(f"{BASE}static", StaticFiles(directory=STATIC), name="dashboard-static"),
    ]
    return out
