"""The dashboard's views: the page (`view`), each panel as JSON (`api`) and as CSV (`export`).

All three read the same URL (`tracker.dashboard.Filters`), for a logged-in account or a public
link; all their queries run on the dashboard's own threads.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Awaitable, Mapping
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from tracker.dashboard import DIMENSIONS, PANELS, RANGES, Filters
from tracker.dashboard.queries import Panel
from tracker.dashboard.service import EXPORT_ROWS
from tracker.errors import NotFound, SinkError, TrackerError, Unauthorized
from tracker.http.dashboard.chart import layout
from tracker.http.dashboard.render import PAGE_HEADERS, error_page, page
from tracker.http.dashboard.ui import DashboardUI, Viewer, to_login
from tracker.http.responses import error_response

__all__ = ["GROUPS", "Pages"]

# The panels of the page, in rows of cards.
GROUPS: tuple[tuple[str, ...], ...] = (
    ("pages", "entry", "exit"),
    ("referrers", "sources", "mediums", "campaigns"),
    ("countries", "regions"),
    ("browsers", "os", "devices"),
    ("outcomes", "outbound"),
    ("revenue", "ltv"),
    ("links",),
)
SPECIAL = ("headline", "realtime", "sites")


class Pages:
    def __init__(self, ui: DashboardUI) -> None:
        self.ui = ui

    async def _viewer_or_login(self, request: Request) -> Viewer | Response:
        viewer = await self.ui.viewer(request)
        if viewer is not None:
            return viewer
        if "token" in request.path_params:
            return error_page(
                NotFound("This public dashboard link does not exist or was turned off.")
            )
        return to_login(request)

    async def view(self, request: Request) -> Response:
        viewer = await self._viewer_or_login(request)
        if isinstance(viewer, Response):
            return viewer
        try:
            filters = self.ui.filters(request, viewer)
            return await self._render(request, viewer, filters)
        except TrackerError as exc:
            return error_page(exc)

    async def _render(self, request: Request, viewer: Viewer, filters: Filters) -> Response:
        board = self.ui.board
        names = [name for group in GROUPS for name in group]
        no_sites: list[dict[str, Any]] = []
        (
            (headline, headline_error),
            (realtime, _),
            (site_rows, _),
            panels,
            series,
        ) = await asyncio.gather(
            self._guarded(board.numbers(filters), default=[]),
            self._guarded(board.call(board.realtime, filters), default=None),
            self._guarded(board.call(board.sites), default=no_sites)
            if viewer.site is None
            else self._constant(no_sites),
            board.view(filters, names),
            board.panel("timeseries", filters, len(filters.period.buckets())),
        )
        sites = [row["site"] for row in site_rows]
        if filters.site and filters.site not in sites and viewer.site is None:
            sites.append(filters.site)
        shares: list[str] = []
        if viewer.uid is not None and filters.site:
            shares = await self.ui.shares.of_site(filters.site)
        context = {
            "viewer": viewer,
            "f": filters,
            "ranges": RANGES,
            "dimensions": DIMENSIONS,
            "sites": sites,
            "headline": headline,
            "headline_error": headline_error,
            "realtime": realtime,
            "chart": layout(series.rows, filters.period.step == "hour")
            if not series.error
            else None,
            "chart_error": series.error,
            "groups": [[(PANELS[name], panels[name]) for name in group] for group in GROUPS],
            "shares": shares,
            "origin": f"{request.url.scheme}://{request.url.netloc}",
            "script": self.ui.script_path,
            "row_query": row_query,
        }
        return page("dashboard.html", context)

    @staticmethod
    async def _guarded(pending: Awaitable[Any], *, default: Any) -> tuple[Any, str | None]:
        """The answer of ``pending`` (queries on the query threads), or ``default`` and the
        error: one failing query leaves the rest of the page."""
        try:
            return await pending, None
        except SinkError as exc:
            return default, f"Could not be loaded: {exc.message}"

    @staticmethod
    async def _constant(value: Any) -> tuple[Any, None]:
        return value, None

    async def _rows(self, name: str, filters: Filters, limit: int) -> list[dict[str, Any]]:
        board = self.ui.board
        if name == "headline":
            return await board.numbers(filters)
        if name == "realtime":
            return [await board.call(board.realtime, filters)]
        if name == "sites":
            return await board.call(board.sites)
        if name not in PANELS:
            raise NotFound(
                f"No dashboard panel {name[:40]!r}: expected one of "
                f"{', '.join([*SPECIAL, *PANELS])}."
            )
        limit = len(filters.period.buckets()) if name == "timeseries" else limit
        return await board.call(board.rows, name, filters, limit)

    async def api(self, request: Request) -> Response:
        """``/dashboard/api/<panel>``: the panel's rows as JSON (``?limit=`` up to 1000)."""
        try:
            viewer = await self.ui.viewer(request)
            if viewer is None:
                raise _unauthorized(request)
            filters = self.ui.filters(request, viewer)
            name = request.path_params["panel"]
            if name == "sites" and viewer.site is not None:
                rows: list[dict[str, Any]] = [{"site": viewer.site}]
            else:
                rows = await self._rows(name, filters, _limit(request, 1000))
        except TrackerError as exc:
            return error_response(exc, [])
        body = orjson.dumps({"panel": name, "view": filters.query(), "rows": rows})
        return Response(body, media_type="application/json", headers=PAGE_HEADERS)

    async def export(self, request: Request) -> Response:
        """``/dashboard/export/<panel>.csv``: every row of the panel (up to 100,000) as CSV."""
        try:
            viewer = await self.ui.viewer(request)
            if viewer is None:
                raise _unauthorized(request)
            filters = self.ui.filters(request, viewer)
            name = request.path_params["panel"]
            rows = await self._rows(name, filters, EXPORT_ROWS)
        except TrackerError as exc:
            return error_response(exc, [])
        out = io.StringIO()
        columns = (
            list(rows[0])
            if rows
            else [c.key for c in PANELS[name].columns]
            if name in PANELS
            else []
        )
        writer = csv.writer(out)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row.get(column)) for column in columns])
        filename = f"{name}-{filters.period.first_day}-{filters.period.last_day}.csv"
        headers = {**PAGE_HEADERS, "content-disposition": f'attachment; filename="{filename}"'}
        return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)


def row_query(filters: Filters, panel: Panel, row: Mapping[str, Any]) -> str | None:
    """The view filtered by a row (a click on its label), or None for a panel without filters."""
    if not panel.sets:
        return None
    return filters.setting({key: str(row.get(column, "")) for column, key in panel.sets})


def _cell(value: object) -> object:
    """A CSV cell; text that a spreadsheet would run as a formula gets a leading quote."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value if value is not None else ""


def _limit(request: Request, most: int) -> int:
    text = request.query_params.get("limit", "10")
    return max(1, min(most, int(text))) if text.isdigit() else 10


def _unauthorized(request: Request) -> TrackerError:
    if "token" in request.path_params:
        return NotFound("This public dashboard link does not exist or was turned off.")
    return Unauthorized("Log in to the dashboard first (/dashboard/login).")
