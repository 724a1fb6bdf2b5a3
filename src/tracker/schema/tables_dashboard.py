"""The dashboard's own copy of ``events``: narrow, decoded, sorted by site and time.

Every panel of the dashboard filters by site (the host of the page URL), by time and by the bot
flag, and groups by a page path or a referrer host. Over ``events`` each query parsed every row's
URL and JSON ``params`` again and read the whole period of every site (``events`` is sorted by
time only). ``dashboard_events`` holds those values decoded once, when the row is stored:

* one row per event, filled by the ``TO`` materialized view ``dashboard_events_mv`` on every
  insert into ``events`` (late and out-of-order events included: a row is a row), and, when the
  view is created on a store that already holds events, from them (`BACKFILL`);
* sorted by ``(site, created_at)`` and partitioned by month, so a view of one site's 30 days
  reads that site's 30 days only;
* text columns with few values are ``LowCardinality``.

`COLUMNS` is the one definition of each column (its name and its expression over ``events``):
the view's SELECT is built from it, and `RAW_SOURCE` is the same SELECT as a subquery over
``events``, which the tests use to check that both give every panel the same rows.

The copy holds people's ids, so ``tracker forget`` removes their rows here too (it covers every
catalogue table with a ``vid``), ``DataRetentionDays`` ages it like ``events``, and a ``Prune``
rule that changes a month of ``events`` copies that month again (`tracker.privacy.prune`).
"""

from __future__ import annotations

from tracker.schema.columns import DT, LC, B, S, U
from tracker.schema.model import Column, MaterializedView, Table

__all__ = [
    "BACKFILL",
    "COLUMNS",
    "COPY_SELECT",
    "DASHBOARD_EVENTS",
    "DASHBOARD_TABLES",
    "DASHBOARD_VIEWS",
    "RAW_SOURCE",
]

PAGEVIEW_NAMES = "('page_view', 'pageview', 'load', 'reroute')"

# (column, its expression over one `events` row). What each value means is in
# docs/dashboard.md (tracker.dashboard.docs): a site, a page, a bot, a referrer.
COLUMNS: tuple[tuple[Column, str], ...] = (
    (LC("site"), "lower(domain(url))"),
    (DT("created_at"), "created_at"),
    (B("bot"), "ifNull(params.bot::Nullable(Bool), false)"),
    (U("eid"), "eid"),
    (U("vid"), "vid"),
    (U("uid"), "uid"),
    (U("sid"), "sid"),
    (LC("ename"), "ename"),
    (LC("etyp"), "etyp"),
    (B("pageview"), f"ename IN {PAGEVIEW_NAMES}"),
    (S("page"), "multiIf(url = '', '', path(url) = '', '/', path(url))"),
    (LC("referrer"), "lower(domain(last))"),
    (LC("source"), "source"),
    (LC("medium"), "medium"),
    (LC("campaign"), "campaign"),
    (LC("country"), "country"),
    (LC("region"), "region"),
    (LC("browser"), "browser"),
    (LC("os"), "os"),
    (LC("device"), "device"),
    # The target of an outbound click (t.js: ename click, etyp outbound, params.href).
    (
        S("href"),
        "if(ename = 'click' AND etyp = 'outbound', ifNull(params.href::Nullable(String), ''), '')",
    ),
    # A short link's hit (`short_rdr`): its host hash and lowercased path, the link's key.
    (LC("hhash"), "hhash"),
    (S("link"), "if(ename = 'short_rdr', lower(path(url)), '')"),
)

DASHBOARD_EVENTS = Table(
    name="dashboard_events",
    columns=tuple(column for column, _ in COLUMNS),
    engine="MergeTree",
    partition_by="toYYYYMM(created_at)",
    order_by="(site, created_at)",
)

_SELECT = ", ".join(
    expression if expression == column.name else f"{expression} AS {column.name}"
    for column, expression in COLUMNS
)

# Filling the copy from the events a store held before the view existed. Run right after the
# view is created; an event the view already copied (stored meanwhile) is not copied again.
BACKFILL = (
    "INSERT INTO {db}.dashboard_events SELECT "
    f"{_SELECT} FROM {{db}}.events WHERE eid GLOBAL NOT IN (SELECT eid FROM {{db}}.dashboard_events)"
)

DASHBOARD_VIEW = MaterializedView(
    "dashboard_events_mv",
    "dashboard_events",
    f"SELECT {_SELECT} FROM {{db}}.events",
    backfill=BACKFILL,
)

# The copy's columns, computed from one `events` row: ``INSERT INTO dashboard_events SELECT
# {COPY_SELECT} FROM events WHERE …`` copies rows again (after `tracker prune` changed events).
COPY_SELECT = _SELECT

# What the dashboard's queries would read without the copy: the same columns, computed from
# `events` on every query (for the tests that compare the two).
RAW_SOURCE = f"(SELECT {_SELECT} FROM events)"

DASHBOARD_TABLES = (DASHBOARD_EVENTS,)
DASHBOARD_VIEWS = (DASHBOARD_VIEW,)
