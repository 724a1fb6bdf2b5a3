"""What every number of the dashboard means: docs/dashboard.md and the ``/dashboard/docs`` page
are both made from `TERMS`, `METRICS` and `PANELS`, so they cannot drift from the queries.

A test compares docs/dashboard.md with `render_markdown()`. Regenerate with:
`python -c "from tracker.dashboard.docs import render_markdown; print(render_markdown(), end='')" > docs/dashboard.md`
"""

from __future__ import annotations

from tracker.dashboard.filters import DIMENSIONS
from tracker.dashboard.period import MAX_DAYS
from tracker.dashboard.queries import METRICS, PANELS
from tracker.dashboard.service import QUERY_NICE

__all__ = ["TERMS", "render_markdown"]

TERMS: tuple[tuple[str, str], ...] = (
    (
        "Period",
        "All times are UTC. A range is whole days: today, yesterday, the last 7 or 30 days "
        "(today included), this month so far, or custom days from and to (inclusive, at most "
        f"{MAX_DAYS} days). The previous period is as long and ends where the range starts; "
        "the change next to a number compares with it.",
    ),
    (
        "Site",
        "The host name of an event's page URL (`url`), lowercased, without port: "
        "`https://www.Example.com:8443/a` is on `www.example.com`. With no site chosen, every "
        "event counts, also those without a URL (server events).",
    ),
    (
        "Visitor",
        "A visitor id (`vid`): the one a client sends (t.js keeps it in its `tr_vid` cookie), "
        "else the tracker's `vid` cookie.",
    ),
    (
        "Session",
        "A session id (`sid`). t.js starts a new one after 30 minutes without an event; other "
        "clients decide their own.",
    ),
    (
        "Page view",
        "An event whose `ename` is `page_view`, `pageview`, `load` or `reroute` (what the "
        "README's examples, the Go browser clients and t.js send; `reroute` is a "
        "single-page-app navigation).",
    ),
    (
        "Page",
        "The path of a page view's URL, without query string or fragment; `/` for a bare host.",
    ),
    (
        "Bots",
        'Events the tracker marked `"bot": true` in `params` (crawlers and HTTP libraries, from '
        "the User-Agent) are left out unless *Count bots* is on.",
    ),
    (
        "Filters",
        "A click on a row filters the view by it; filters are kept in the URL, so a view can be "
        "shared. "
        + ", ".join(f"{d.label} (`{d.key}`)" for d in DIMENSIONS.values() if d.level == "event")
        + " select the events that have that value; "
        + ", ".join(f"{d.label} (`{d.key}`)" for d in DIMENSIONS.values() if d.level == "session")
        + " select whole sessions, by the session's value as the panels define it. An empty "
        "value, shown as `(none)`, selects those without one.",
    ),
    (
        "Realtime",
        "Distinct visitors and page views of the last five minutes, on the chosen site, whatever "
        "the period and the filters.",
    ),
)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown() -> str:
    lines = [
        "# Dashboard: what each number means",
        "",
        "<!-- Generated from tracker.dashboard.docs (TERMS, METRICS, PANELS) by render_markdown();",
        "     do not edit. A test fails when this file and the code differ. -->",
        "",
        "The dashboard (`/dashboard/`) reads the same store the tracker writes. This page is also",
        "served at `/dashboard/docs`. The [README](../README.md) says how to log in and add the",
        "tracking script.",
        "",
        "## Terms",
        "",
    ]
    for term, text in TERMS:
        lines += [f"* **{term}.** {text}"]
    lines += ["", "## Headline numbers", "", "| Number | Definition |", "|---|---|"]
    for metric in METRICS:
        lines.append(f"| {metric.label} | {_cell(metric.definition)} |")
    lines += ["", "## Panels", "", "| Panel | Columns | Definition |", "|---|---|---|"]
    for panel in PANELS.values():
        columns = ", ".join(c.label for c in panel.columns)
        lines.append(f"| {panel.title} | {_cell(columns)} | {_cell(panel.definition)} |")
    lines += [
        "",
        "Every panel can be downloaded as CSV (`/dashboard/export/<panel>.csv`, with the view's",
        "query string) or read as JSON (`/dashboard/api/<panel>`); the panels' names are "
        + ", ".join(f"`{name}`" for name in ("headline", "realtime", "sites", *PANELS))
        + ".",
        "",
        "## Where the numbers come from",
        "",
        "The panels read `dashboard_events`, a copy of `events` that the materialized view",
        "`dashboard_events_mv` fills as events are stored: one row per event with its site, page,",
        "referrer host and bot flag worked out once, sorted by site and time, so a view reads its",
        "site's period only. Every count is exact (`uniqExact`), late events count in the period",
        "of their own time, and a forgotten visitor (`tracker forget`) leaves the copy too. The",
        "queries run on the dashboard's own threads, one thread and a time limit each, at nice",
        f"{QUERY_NICE} when the process may raise a thread's priority (`CAP_SYS_NICE`): on a busy",
        "core a query takes the same CPU from ingestion at any priority, and this one makes the",
        "person at the dashboard wait less. A page's session panels (entry, exit, referrers, UTM)",
        "share one pass over the view's sessions, and the headline's four queries (visitors and",
        "sessions, now and before) run side by side; bench/README.md has their times on",
        "1,000,000 events.",
    ]
    return "\n".join(lines) + "\n"
