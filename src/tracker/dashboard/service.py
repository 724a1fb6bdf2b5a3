"""Running the dashboard's queries without slowing ingestion.

Queries run on the dashboard's own threads (``dashboard-query-N``), never on the event loop nor
the writer's thread; a chDB store gives each thread its own session. Each query carries a time
limit (``max_execution_time``), a thread limit and a nice value (`QUERY_NICE`), and at most
``max_pending`` queries may wait: beyond that a page gets 503 rather than a growing queue. A
panel whose query fails shows its error; the rest of the page still loads.

The blocking methods (`rows`, `headline`, `realtime`, `sites`) are what the async ones run on the
pool (`numbers` runs the headline's four queries side by side); tests call them directly.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import orjson

from tracker.dashboard.filters import Filters
from tracker.dashboard.queries import (
    METRICS,
    PANELS,
    headline_sql,
    realtime_sql,
    sessions_sql,
    sites_sql,
    visitors_sql,
)
from tracker.dashboard.sql import SOURCE, Scope, time_param
from tracker.errors import SinkError, Unavailable

__all__ = ["Dashboard", "PanelResult", "QueryFn"]

log = logging.getLogger(__name__)

QueryFn = Callable[[str, str, Mapping[str, object] | None], bytes]
T = TypeVar("T")

REALTIME = timedelta(minutes=5)
SITES_SINCE = timedelta(days=90)
SITES_TTL = 60.0  # seconds the site list is reused
EXPORT_ROWS = 100_000
# The nice value of a query's threads. On a core that ingestion keeps busy, a query takes the same
# CPU from ingestion at any priority; the priority only decides who waits while it runs. At nice
# -5 a panel gets about three quarters of the core rather than half, and an event's answer waits
# a little longer meanwhile (bench/README.md, "Round 4"). Without CAP_SYS_NICE the store leaves
# the threads at the process's own priority.
QUERY_NICE = -5


@dataclass
class PanelResult:
    name: str
    rows: list[dict[str, Any]]
    error: str | None = None


def _failed(exc: SinkError) -> str:
    """What a panel whose query failed shows instead of its rows."""
    return f"This panel could not be loaded: {exc.message}"


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return 0.0
    try:
        number = float(value)
    except ValueError:
        return 0.0
    return number if math.isfinite(number) else 0.0


def _change(now: float, before: float) -> float | None:
    return None if before == 0 else (now - before) / before


def headline_values(row: Mapping[str, object]) -> dict[str, float]:
    """The headline numbers (`METRICS`) from the rows of `visitors_sql` and `headline_sql`."""
    visitors, sessions = _number(row.get("visitors")), _number(row.get("sessions"))
    pageviews, bounces = _number(row.get("pageviews")), _number(row.get("bounces"))
    viewed = _number(row.get("viewed"))
    return {
        "visitors": visitors,
        "sessions": sessions,
        "pageviews": pageviews,
        "views_per_session": pageviews / sessions if sessions else 0.0,
        "bounce_rate": bounces / viewed if viewed else 0.0,
        "duration": _number(row.get("duration")),
    }


class Dashboard:
    def __init__(
        self,
        query: QueryFn,
        *,
        threads: int = 2,
        timeout_seconds: float = 10.0,
        threads_per_query: int = 1,
        max_pending: int = 64,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        source: str = SOURCE,
    ) -> None:
        self.query = query
        self.source = source  # the copy of events, or RAW_SOURCE (tests compare the two)
        self.clock = clock
        self.max_pending = max_pending
        # Constants of ours, never request values: the time limit, one thread per query, the
        # query threads' nice value (QUERY_NICE), 64-bit counts as numbers.
        self.settings = (
            f" SETTINGS max_execution_time = {max(1, math.ceil(timeout_seconds))}, "
            f"max_threads = {threads_per_query}, os_thread_priority = {QUERY_NICE}, "
            "output_format_json_quote_64bit_integers = 0"
        )
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="dashboard-query")
        self._pending = 0
        self._lock = threading.Lock()
        self._sites: tuple[float, list[dict[str, Any]]] | None = None

    # -- blocking: run on the pool ---------------------------------------------------------

    def run(self, sql: str, params: Mapping[str, object]) -> list[dict[str, Any]]:
        output = self.query(sql + self.settings, "JSONEachRow", params)
        return [orjson.loads(line) for line in output.splitlines() if line.strip()]

    def rows(self, name: str, filters: Filters, limit: int = 10) -> list[dict[str, Any]]:
        """The rows of panel ``name`` (`PANELS`) for the view ``filters``."""
        panel = PANELS[name]
        scope = Scope(filters, self.source)
        rows = self.run(panel.sql(scope, limit), scope.params)
        if name == "timeseries":
            return self._filled(filters, rows)
        return rows

    def _filled(self, filters: Filters, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        seen = {str(row["bucket"])[:19]: row for row in rows}
        out = []
        for moment in filters.period.buckets():
            key = moment.strftime("%Y-%m-%d %H:%M:%S")
            row = seen.get(key, {})
            out.append(
                {
                    "bucket": key,
                    "visitors": int(_number(row.get("visitors"))),
                    "pageviews": int(_number(row.get("pageviews"))),
                }
            )
        return out

    def _headline_queries(self, filters: Filters) -> list[tuple[str, dict[str, object]]]:
        """The headline's four queries: visitors and sessions, of the period and the one before."""
        out = []
        for view in (filters, filters.previous()):
            scope = Scope(view, self.source)
            out += [(visitors_sql(scope), scope.params), (headline_sql(scope), scope.params)]
        return out

    @staticmethod
    def _headline_answer(answers: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
        """Each headline metric from the four queries' rows: its value, the previous period's
        and the relative change."""
        rows = [answer[0] if answer else {} for answer in answers]
        now = headline_values({**rows[0], **rows[1]})
        before = headline_values({**rows[2], **rows[3]})
        return [
            {
                "metric": m.key,
                "label": m.label,
                "kind": m.kind,
                "value": now[m.key],
                "previous": before[m.key],
                "change": _change(now[m.key], before[m.key]),
            }
            for m in METRICS
        ]

    def headline(self, filters: Filters) -> list[dict[str, Any]]:
        """The headline numbers, the queries one after another (`numbers` runs them side by side)."""
        queries = self._headline_queries(filters)
        return self._headline_answer([self.run(sql, params) for sql, params in queries])

    def realtime(self, filters: Filters) -> dict[str, Any]:
        scope = Scope(filters, self.source)
        since = self.clock() - REALTIME
        rows = self.run(realtime_sql(scope), {"site": filters.site, "since": time_param(since)})
        row = rows[0] if rows else {}
        return {
            "visitors": int(_number(row.get("visitors"))),
            "pageviews": int(_number(row.get("pageviews"))),
            "since": since.isoformat(),
        }

    def sites(self) -> list[dict[str, Any]]:
        """The sites seen in the last 90 days (reused for a minute)."""
        cached = self._sites
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        since = time_param(self.clock() - SITES_SINCE)
        rows = self.run(sites_sql(self.source), {"since": since})
        self._sites = (time.monotonic() + SITES_TTL, rows)
        return rows

    # -- async: what the pages await ---------------------------------------------------------

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        with self._lock:
            if self._pending >= self.max_pending:
                raise Unavailable(
                    f"The dashboard has {self._pending} queries waiting; try again shortly.", 2
                )
            self._pending += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)
        finally:
            with self._lock:
                self._pending -= 1

    async def numbers(self, filters: Filters) -> list[dict[str, Any]]:
        """`headline`, its four queries side by side on the query threads."""
        answers = await asyncio.gather(
            *(self.call(self.run, sql, params) for sql, params in self._headline_queries(filters))
        )
        return self._headline_answer(list(answers))

    async def panel(self, name: str, filters: Filters, limit: int = 10) -> PanelResult:
        try:
            return PanelResult(name, await self.call(self.rows, name, filters, limit))
        except SinkError as exc:
            log.warning("dashboard panel %s failed: %s", name, exc.message)
            return PanelResult(name, [], _failed(exc))

    def session_rows(
        self, names: list[str], filters: Filters, limit: int = 10
    ) -> dict[str, list[dict[str, Any]]]:
        """The rows of the session panels ``names`` (`Panel.session`) in one query: each
        panel's rows are those `rows` gives it alone."""
        keys = {PANELS[name].session: name for name in names}
        scope = Scope(filters, self.source)
        out: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
        for row in self.run(sessions_sql(scope, list(keys), limit), scope.params):
            key = row["panel"]
            out[keys[key]].append(
                {key: row["value"], "sessions": row["sessions"], "visitors": row["visitors"]}
            )
        return out

    async def sessions(self, names: list[str], filters: Filters, limit: int) -> list[PanelResult]:
        if not names:
            return []
        try:
            found = await self.call(self.session_rows, names, filters, limit)
        except SinkError as exc:
            log.warning("dashboard session panels failed: %s", exc.message)
            return [PanelResult(name, [], _failed(exc)) for name in names]
        return [PanelResult(name, found[name]) for name in names]

    async def view(self, filters: Filters, names: list[str], limit: int = 10) -> dict[str, Any]:
        """The panels ``names`` of a view, queried side by side; the session panels among them
        share one pass over the view's sessions (`sessions_sql`)."""
        by_session = [name for name in names if PANELS[name].session]
        alone = [self.panel(name, filters, limit) for name in names if name not in by_session]
        panels, shared = await asyncio.gather(
            asyncio.gather(*alone), self.sessions(by_session, filters, limit)
        )
        found = {panel.name: panel for panel in [*panels, *shared]}
        return {name: found[name] for name in names}

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
