"""Every query of the dashboard, by name: one SQL text per panel, over the view's `Scope`.

`PANELS` is the catalogue the pages, the CSV export and the docs (docs/dashboard.md) read: each
panel's title, its columns, which filter a click on a row sets, and what its numbers mean. The
SQL reads the store through `Sink.query` with the view's values as query parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tracker.dashboard.sql import (
    BOT,
    PAGE,
    PAGEVIEW,
    SESSION_VALUE,
    SITE,
    SOURCE,
    ZERO_UUID,
    Scope,
)

__all__ = [
    "METRICS",
    "PANELS",
    "Column",
    "Metric",
    "Panel",
    "headline_sql",
    "realtime_sql",
    "sessions_sql",
    "sites_sql",
    "visitors_sql",
]


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str = "count"  # text, count, rate (0..1), money, seconds


@dataclass(frozen=True)
class Panel:
    name: str
    title: str
    columns: tuple[Column, ...]
    sql: Callable[[Scope, int], str]
    definition: str
    sets: tuple[tuple[str, str], ...] = ()  # (column, filter) a click on a row sets
    session: str = ""  # a session panel: its SESSION_VALUE key (`sessions_sql` runs several)


def _text(key: str, label: str) -> Column:
    return Column(key, label, "text")


def _session_panel(
    name: str, title: str, value: Column, counts: tuple[Column, ...], definition: str
) -> Panel:
    """A panel of one value per session (`SESSION_VALUE`), whose key names its first column and
    the filter a click on a row sets."""
    key = value.key
    return Panel(
        name, title, (value, *counts), session_dimension(key), definition, ((key, key),), key
    )


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    kind: str
    definition: str


# The headline numbers, from the rows of `visitors_sql` and `headline_sql` (computed in
# `tracker.dashboard.service`).
METRICS = (
    Metric(
        "visitors",
        "Unique visitors",
        "count",
        "Distinct visitor ids (`vid`) among the selected events.",
    ),
    Metric(
        "sessions", "Sessions", "count", "Distinct session ids (`sid`) among the selected events."
    ),
    Metric("pageviews", "Page views", "count", "Selected events that are page views."),
    Metric(
        "views_per_session",
        "Views per session",
        "ratio",
        "Page views divided by sessions.",
    ),
    Metric(
        "bounce_rate",
        "Bounce rate",
        "rate",
        "Of the sessions with at least one page view, the share with exactly one. A session's "
        "page views are counted over all its events in the period on the site, not only the "
        "filtered ones.",
    ),
    Metric(
        "duration",
        "Session duration",
        "seconds",
        "The mean over sessions of the time from a session's first to its last event in the "
        "period (0 for a session of one event).",
    ),
)

VISITORS = Column("visitors", "Visitors")
PAGEVIEWS = Column("pageviews", "Page views")
SESSIONS = Column("sessions", "Sessions")


def visitors_sql(s: Scope) -> str:
    """The headline's visitors: distinct ``vid`` of the selected events. They are the visitors
    of the selected sessions' selected events (``selected`` keeps only the events of sessions
    passing the session filters), so no set of visitors per session is needed."""
    return f"SELECT uniqExact(vid) AS visitors FROM {s.source} WHERE {s.selected}"


def headline_sql(s: Scope) -> str:
    """The rest of the headline in one pass over the view's sessions: each session of the period
    and site, whether it is selected (an event passing the event filters, and the session
    filters), its selected page views, and its own page views and length for bounce and
    duration."""
    ev = s.event_filter
    return (
        "SELECT countIf(hit) AS sessions, "
        "sumIf(selected_views, hit) AS pageviews, countIf(hit AND views = 1) AS bounces, "
        "countIf(hit AND views > 0) AS viewed, "
        "if(countIf(hit) = 0, 0, avgIf(seconds, hit)) AS duration FROM "
        f"(SELECT sid, countIf({ev}) > 0 AND {s.session_filter} AS hit, "
        f"countIf(({ev}) AND {PAGEVIEW}) AS selected_views, countIf({PAGEVIEW}) AS views, "
        "dateDiff('millisecond', min(created_at), max(created_at)) / 1000 AS seconds "
        f"FROM {s.source} WHERE {s.base} GROUP BY sid)"
    )


def timeseries_sql(s: Scope, limit: int) -> str:
    bucket = "toStartOfHour" if s.filters.period.step == "hour" else "toStartOfDay"
    return (
        f"SELECT {bucket}(created_at) AS bucket, uniqExact(vid) AS visitors, "
        f"countIf({PAGEVIEW}) AS pageviews FROM {s.source} WHERE {s.selected} "
        f"GROUP BY bucket ORDER BY bucket LIMIT {limit}"
    )


def pages_sql(s: Scope, limit: int) -> str:
    return (
        f"SELECT {PAGE} AS page, uniqExact(vid) AS visitors, count() AS pageviews "
        f"FROM {s.source} WHERE {s.selected} AND {PAGEVIEW} GROUP BY page "
        f"ORDER BY pageviews DESC, visitors DESC, page LIMIT {limit}"
    )


def event_dimension(*keys: str) -> Callable[[Scope, int], str]:
    """Visitors and page views per value of event columns (country, browser, …)."""
    names = ", ".join(keys)

    def sql(s: Scope, limit: int) -> str:
        return (
            f"SELECT {names}, uniqExact(vid) AS visitors, countIf({PAGEVIEW}) AS pageviews "
            f"FROM {s.source} WHERE {s.selected} GROUP BY {names} "
            f"ORDER BY visitors DESC, pageviews DESC, {names} LIMIT {limit}"
        )

    return sql


# The session panels that count only sessions with a page view (a first or last page).
VIEWED_ONLY = frozenset({"entry", "exit"})


def session_dimension(key: str) -> Callable[[Scope, int], str]:
    """Sessions and visitors per session value (referrer, source, entry page, …)."""

    def sql(s: Scope, limit: int) -> str:
        # A first or last page is a page view's: reading the page views alone leaves out the
        # sessions without one, and reads fewer rows.
        where = f"{s.sessions} AND {PAGEVIEW}" if key in VIEWED_ONLY else s.sessions
        return (
            f"SELECT value AS {key}, count() AS sessions, uniqExact(visitor) AS visitors FROM "
            f"(SELECT sid, any(vid) AS visitor, {SESSION_VALUE[key]} AS value FROM {s.source} "
            f"WHERE {where} GROUP BY sid) "
            f"GROUP BY {key} ORDER BY sessions DESC, visitors DESC, {key} LIMIT {limit}"
        )

    return sql


def sessions_sql(s: Scope, keys: Sequence[str], limit: int) -> str:
    """The session panels ``keys`` of one view in one pass: each session's values are worked out
    once, then counted per panel into rows of ``panel``, ``value``, ``sessions`` and ``visitors``,
    each panel's rows ordered and cut as `session_dimension` orders and cuts them."""
    values = ", ".join(f"toString({SESSION_VALUE[key]}) AS {key}" for key in keys)
    counted = ", ".join(
        f"('{key}', {key}, {'views > 0' if key in VIEWED_ONLY else '1'})" for key in keys
    )
    return (
        "SELECT one.1 AS panel, one.2 AS value, count() AS sessions, "
        "uniqExact(visitor) AS visitors FROM "
        f"(SELECT sid, any(vid) AS visitor, countIf({PAGEVIEW}) AS views, {values} "
        f"FROM {s.source} WHERE {s.sessions} GROUP BY sid) "
        f"ARRAY JOIN [{counted}] AS one WHERE one.3 GROUP BY panel, value "
        f"ORDER BY panel, sessions DESC, visitors DESC, value LIMIT {limit} BY panel"
    )


def outcomes_sql(s: Scope, limit: int) -> str:
    return (
        "SELECT ename AS event, etyp AS type, count() AS events, uniqExact(vid) AS visitors, "
        f"visitors / greatest((SELECT uniqExact(vid) FROM {s.source} WHERE {s.selected}), 1) "
        "AS rate "
        f"FROM {s.source} WHERE {s.selected} AND NOT ({PAGEVIEW}) GROUP BY ename, etyp "
        f"ORDER BY visitors DESC, events DESC, event, type LIMIT {limit}"
    )


def outbound_sql(s: Scope, limit: int) -> str:
    return (
        "SELECT href AS link, count() AS clicks, "
        f"uniqExact(vid) AS visitors FROM {s.source} WHERE {s.selected} "
        "AND ename = 'click' AND etyp = 'outbound' GROUP BY link "
        f"ORDER BY clicks DESC, link LIMIT {limit}"
    )


def _people(s: Scope, column: str) -> str:
    """Ids (``vid`` or ``uid``) seen in the view's selected events."""
    return f"(SELECT {column} FROM {s.source} WHERE {s.selected} AND {column} != {ZERO_UUID})"


def _narrowed(s: Scope) -> bool:
    return bool(s.filters.site or s.filters.dims)


def revenue_sql(s: Scope, limit: int) -> str:
    who = ""
    if _narrowed(s):
        who = (
            f" AND (vid GLOBAL IN {_people(s, 'vid')} OR (uid != {ZERO_UUID} AND uid GLOBAL IN "
            f"{_people(s, 'uid')}))"
        )
    payer = f"if(uid != {ZERO_UUID}, toString(uid), toString(vid))"
    return (
        "SELECT currency, count() AS payments, sum(revenue) AS revenue, "
        f"uniqExact({payer}) AS payers, revenue / greatest(payers, 1) AS per_payer "
        "FROM payments FINAL WHERE created_at >= {start:DateTime64(3)} "
        f"AND created_at < {{end:DateTime64(3)}}{who} GROUP BY currency "
        f"ORDER BY revenue DESC, currency LIMIT {limit}"
    )


def ltv_sql(s: Scope, limit: int) -> str:
    who = ""
    if _narrowed(s):
        who = (
            f" AND ((id_type = 'vid' AND id GLOBAL IN {_people(s, 'vid')}) OR "
            f"(id_type = 'uid' AND id GLOBAL IN {_people(s, 'uid')}))"
        )
    return (
        "SELECT if(id_type = 'uid', 'users', 'visitors') AS customer, count() AS customers, "
        "sum(paid) AS total, avg(paid) AS average FROM "
        f"(SELECT id, id_type, sum(paid) AS paid FROM ltv WHERE id_type IN ('uid', 'vid'){who} "
        f"GROUP BY id, id_type) GROUP BY customer ORDER BY customer LIMIT {limit}"
    )


def links_sql(s: Scope, limit: int) -> str:
    # A short link's key is host + lowercased path; its hits are `short_rdr` events, whose url is
    # the path asked for and whose host is known through `hosts` (hhash → host name).
    mine = " WHERE startsWith(urlfrom, concat({site:String}, '/'))" if s.filters.site else ""
    return (
        "SELECT r.urlfrom AS link, r.urlto AS target, h.hits AS hits, h.visitors AS visitors "
        "FROM (SELECT urlfrom, argMax(urlto, updated_at) AS urlto FROM redirects"
        f"{mine} GROUP BY urlfrom) AS r GLOBAL LEFT JOIN "
        "(SELECT concat(o.hostname, e.link) AS key, count() AS hits, "
        f"uniqExact(e.vid) AS visitors FROM {s.source} AS e GLOBAL INNER JOIN "
        "(SELECT DISTINCT hhash, hostname FROM hosts) AS o ON e.hhash = o.hhash "
        f"WHERE e.ename = 'short_rdr' AND {s.range_only()} GROUP BY key) AS h "
        f"ON h.key = r.urlfrom ORDER BY hits DESC, link LIMIT {limit}"
    )


def realtime_sql(s: Scope) -> str:
    """Visitors and page views since ``{since}`` (the last five minutes), whatever the period."""
    site = f" AND {SITE} = {{site:String}}" if s.filters.site else ""
    bots = "" if s.filters.bots else f" AND NOT {BOT}"
    return (
        f"SELECT uniqExact(vid) AS visitors, countIf({PAGEVIEW}) AS pageviews FROM {s.source} "
        f"WHERE created_at >= {{since:DateTime64(3)}}{site}{bots}"
    )


def sites_sql(source: str = SOURCE) -> str:
    """The sites seen since ``{since}``, busiest first."""
    return (
        f"SELECT {SITE} AS site, count() AS events FROM {source} "
        "WHERE created_at >= {since:DateTime64(3)} AND site != '' GROUP BY site "
        "ORDER BY events DESC, site LIMIT 200"
    )


def _panels() -> dict[str, Panel]:
    session_cols = (SESSIONS, VISITORS)
    panels = [
        Panel(
            "timeseries",
            "Visitors and page views",
            (_text("bucket", "Time (UTC)"), VISITORS, PAGEVIEWS),
            timeseries_sql,
            "Per hour (ranges of up to two days) or per day: distinct visitors and page views "
            "of the selected events. Empty hours or days are shown as zero.",
        ),
        Panel(
            "pages",
            "Top pages",
            (_text("page", "Page"), VISITORS, PAGEVIEWS),
            pages_sql,
            "Page views per page (the path of the URL), and the distinct visitors who viewed it.",
            (("page", "page"),),
        ),
        _session_panel(
            "entry",
            "Entry pages",
            _text("entry", "Page"),
            (Column("sessions", "Entrances"), VISITORS),
            "The first page viewed in each session with a page view; sessions that entered there.",
        ),
        _session_panel(
            "exit",
            "Exit pages",
            _text("exit", "Page"),
            (Column("sessions", "Exits"), VISITORS),
            "The last page viewed in each session with a page view; sessions that left from there.",
        ),
        _session_panel(
            "referrers",
            "Referrers",
            _text("referrer", "Referrer"),
            session_cols,
            "The host of the first referrer (`last`) in each session that is another site than "
            "the page's own; sessions with none are `(none)`, typed in or bookmarked.",
        ),
        _session_panel(
            "sources",
            "UTM sources",
            _text("source", "Source"),
            session_cols,
            "The first `utm_source` (`source`) seen in each session; `(none)` without one.",
        ),
        _session_panel(
            "mediums",
            "UTM mediums",
            _text("medium", "Medium"),
            session_cols,
            "The first `utm_medium` (`medium`) seen in each session.",
        ),
        _session_panel(
            "campaigns",
            "UTM campaigns",
            _text("campaign", "Campaign"),
            session_cols,
            "The first `utm_campaign` (`campaign`) seen in each session.",
        ),
        Panel(
            "countries",
            "Countries",
            (_text("country", "Country"), VISITORS, PAGEVIEWS),
            event_dimension("country"),
            "Visitors and page views by the events' `country` (the client's own value, else its "
            "time zone's country, else GeoIP).",
            (("country", "country"),),
        ),
        Panel(
            "regions",
            "Regions",
            (_text("country", "Country"), _text("region", "Region"), VISITORS, PAGEVIEWS),
            event_dimension("country", "region"),
            "Visitors and page views by country and region.",
            (("country", "country"), ("region", "region")),
        ),
        Panel(
            "browsers",
            "Browsers",
            (_text("browser", "Browser"), VISITORS, PAGEVIEWS),
            event_dimension("browser"),
            "Visitors by browser family, parsed from the User-Agent unless the client sent one.",
            (("browser", "browser"),),
        ),
        Panel(
            "os",
            "Operating systems",
            (_text("os", "Operating system"), VISITORS, PAGEVIEWS),
            event_dimension("os"),
            "Visitors by operating system.",
            (("os", "os"),),
        ),
        Panel(
            "devices",
            "Devices",
            (_text("device", "Device"), VISITORS, PAGEVIEWS),
            event_dimension("device"),
            "Visitors by device (the client's `device`, else the User-Agent's device family).",
            (("device", "device"),),
        ),
        Panel(
            "outcomes",
            "Events and conversions",
            (
                _text("event", "Event (ename)"),
                _text("type", "Type (etyp)"),
                Column("events", "Events"),
                VISITORS,
                Column("rate", "Conversion rate", "rate"),
            ),
            outcomes_sql,
            "Every event other than a page view, by `ename` and `etyp`: how many, from how many "
            "visitors, and the conversion rate: those visitors divided by all visitors of the view.",
            (("event", "event"),),
        ),
        Panel(
            "outbound",
            "Outbound links",
            (_text("link", "Link"), Column("clicks", "Clicks"), VISITORS),
            outbound_sql,
            "Clicks on links to other sites, as t.js reports them (`ename` click, `etyp` "
            "outbound, the target in `params.href`).",
        ),
        Panel(
            "revenue",
            "Revenue",
            (
                _text("currency", "Currency"),
                Column("payments", "Payments"),
                Column("revenue", "Revenue", "money"),
                Column("payers", "Payers"),
                Column("per_payer", "Revenue per payer", "money"),
            ),
            revenue_sql,
            "Payments (`/ltv/`) made in the period, per currency: their `revenue` (or `amt`), and "
            "the distinct payers (the `uid`, else the `vid`). With a site or a filter, only the "
            "payments of visitors or users seen in the selected events.",
        ),
        Panel(
            "ltv",
            "Lifetime value (all time)",
            (
                _text("customer", "Customers by"),
                Column("customers", "Customers"),
                Column("total", "Paid in all", "money"),
                Column("average", "Average lifetime value", "money"),
            ),
            ltv_sql,
            "Everything each user (`uid`) or visitor (`vid`) ever paid (the `ltv` table), whatever "
            "the period: how many paid, the total and the average per customer. With a site or a "
            "filter, only those seen in the selected events.",
        ),
        Panel(
            "links",
            "Short links",
            (
                _text("link", "Short link"),
                _text("target", "Goes to"),
                Column("hits", "Hits"),
                VISITORS,
            ),
            links_sql,
            "Every short link (of the site, when one is chosen), where it points now, and its hits "
            "in the period (`short_rdr` events), bots left out unless counted. Filters other than "
            "the site do not apply.",
        ),
    ]
    return {panel.name: panel for panel in panels}


PANELS: dict[str, Panel] = _panels()


# Public read-only links (`dashboard_shares`): the site of a token, and a site's live tokens.
SHARE_SQL = (
    "SELECT site, enabled FROM dashboard_shares FINAL WHERE token = {token:String} "
    "ORDER BY updated_at DESC LIMIT 1"
)
SITE_SHARES_SQL = (
    "SELECT token, created_at FROM dashboard_shares FINAL WHERE site = {site:String} AND enabled "
    "ORDER BY created_at"
)
