"""The SQL the dashboard's queries share: what a page view, a page, a site and a bot are, and the
conditions of a view (`Scope`).

The queries read ``dashboard_events`` (`tracker.schema.tables_dashboard`): one row per event with
the site, the page, the referrer host and the bot flag decoded when the event was stored, sorted
by site and time. A `Scope` can be pointed at another source with the same columns (`RAW_SOURCE`,
the same values computed from ``events``), which the tests use to check the copy.

A subquery that a condition or a join reads is ``GLOBAL``: on a cluster the tables are
``Distributed``, and a plain ``IN`` or ``JOIN`` would run the subquery again on every shard
over the ``Distributed`` table (which ClickHouse refuses by default), where ``GLOBAL`` runs it
once and sends its rows to the shards. On one store ``GLOBAL`` changes nothing.

Request values never enter SQL text: every value of a view travels as a ClickHouse query
parameter (``{name:Type}``), and the text holds only the constants below and parameter names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tracker.dashboard.filters import Filters
from tracker.schema.tables_dashboard import RAW_SOURCE

__all__ = [
    "BOT",
    "PAGE",
    "PAGEVIEW",
    "RAW_SOURCE",
    "REFERRER_HOST",
    "SESSION_VALUE",
    "SITE",
    "SOURCE",
    "Scope",
    "time_param",
]

SOURCE = "dashboard_events"
# The columns of the copy (their definitions are in tracker.schema.tables_dashboard):
# a page view is an event whose ename is page_view, pageview, load or reroute; a page the path of
# its URL; a site the lowercased host of its URL; a bot an event marked params.bot = true.
PAGEVIEW = "pageview"
PAGE = "page"
SITE = "site"
REFERRER_HOST = "referrer"
BOT = "bot"
ZERO_UUID = "toUUID('00000000-0000-0000-0000-000000000000')"

# A session's value of a session dimension, as an aggregate over the session's events (ordered by
# time): its first external referrer host, its first non-empty UTM value, its first and last page.
EXTERNAL = f"{REFERRER_HOST} != '' AND {REFERRER_HOST} != {SITE}"
SESSION_VALUE = {
    "referrer": f"argMinIf({REFERRER_HOST}, created_at, {EXTERNAL})",
    "source": "argMinIf(source, created_at, source != '')",
    "medium": "argMinIf(medium, created_at, medium != '')",
    "campaign": "argMinIf(campaign, created_at, campaign != '')",
    "entry": f"argMinIf({PAGE}, created_at, {PAGEVIEW})",
    "exit": f"argMaxIf({PAGE}, created_at, {PAGEVIEW})",
}
EVENT_VALUE = {
    "page": PAGE,
    "country": "country",
    "region": "region",
    "browser": "browser",
    "os": "os",
    "device": "device",
    "event": "ename",
}


def time_param(moment: datetime) -> str:
    """A UTC time as a ``DateTime64(3)`` query parameter."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


@dataclass
class Scope:
    """The conditions of one view over ``events``, with their parameters.

    * ``base``: the period, the site and (unless asked for) no bots;
    * ``selected``: ``base`` and every filter: the events the view counts;
    * ``sessions``: the events of every session that has a selected event (``base`` when nothing
      is filtered): what a session's length, bounce, entry and exit are computed from, so that a
      filter on a page does not turn every session into a one-page visit.
    """

    filters: Filters
    source: str = SOURCE  # what the queries read: the copy, or RAW_SOURCE
    params: dict[str, object] = field(default_factory=dict)
    base: str = ""
    selected: str = ""
    sessions: str = ""
    event_filter: str = "1"  # the event filters alone, over one event
    session_filter: str = "1"  # the session filters alone, over a session's events (aggregates)

    def __post_init__(self) -> None:
        f = self.filters
        self.params.update(
            start=time_param(f.period.start), end=time_param(f.period.end), site=f.site
        )
        self.base = self.range_only()
        if f.site:
            self.base += f" AND {SITE} = {{site:String}}"
        events = []
        for key, value in f.event_dims:
            self.params[f"f_{key}"] = value
            events.append(f"{EVENT_VALUE[key]} = {{f_{key}:String}}")
        if events:
            self.event_filter = " AND ".join(events)
        conditions = [self.base, *events]
        session_dims = f.session_dims
        if session_dims:
            having = []
            for key, value in session_dims:
                self.params[f"f_{key}"] = value
                having.append(f"{SESSION_VALUE[key]} = {{f_{key}:String}}")
            self.session_filter = " AND ".join(having)
            conditions.append(
                f"sid GLOBAL IN (SELECT sid FROM {self.source} WHERE {self.base} GROUP BY sid "
                f"HAVING {self.session_filter})"
            )
        self.selected = " AND ".join(conditions)
        self.sessions = (
            f"{self.base} AND sid GLOBAL IN (SELECT sid FROM {self.source} WHERE {self.selected})"
            if f.dims
            else self.base
        )

    def range_only(self) -> str:
        """The period, and bots unless counted: the part of ``base`` that needs no URL."""
        text = "created_at >= {start:DateTime64(3)} AND created_at < {end:DateTime64(3)}"
        if not self.filters.bots:
            text += f" AND NOT {BOT}"
        return text
