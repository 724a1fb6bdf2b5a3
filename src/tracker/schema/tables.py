"""The catalogue: every table, view and materialized view the tracker writes or reads.

This is the one source of truth for the DDL (``render.py`` turns it into SQL) and for the column
lists the write plan coerces rows against. Tables follow the Go tracker's schema files; the table
definitions live in ``tables_analytics.py``, ``tables_messaging.py`` and ``tables_accounts.py``.

The five counter tables ``hits``, ``ips``, ``reqs``, ``browsers`` and ``referrers`` are fed **only**
by the materialized views below, which fire on every insert into ``events``. The application never
inserts into them: the Go tracker did both and counted client events twice (docs/differences.md).
"""

from __future__ import annotations

from tracker.schema.model import MaterializedView, Table, View
from tracker.schema.tables_accounts import PAYMENT_TABLES, SERVICE_TABLES
from tracker.schema.tables_analytics import ANALYTICS_TABLES
from tracker.schema.tables_messaging import MESSAGING_TABLES, REDIRECT_TABLES

TABLES: dict[str, Table] = {
    table.name: table
    for table in (
        *ANALYTICS_TABLES,
        *MESSAGING_TABLES,
        *PAYMENT_TABLES,
        *REDIRECT_TABLES,
        *SERVICE_TABLES,
    )
}

# First / last row per key. ORDER BY the sorting key of events (created_at, eid) lets ClickHouse
# read in order instead of sorting, and eid breaks ties between rows of the same millisecond.
VIEWS: tuple[View, ...] = (
    View(
        "visitors",
        "SELECT * FROM {db}.events ORDER BY created_at ASC, eid ASC LIMIT 1 BY oid, vid",
    ),
    View(
        "visitors_latest",
        "SELECT * FROM {db}.events ORDER BY created_at DESC, eid DESC LIMIT 1 BY oid, vid",
    ),
    View(
        "sessions",
        "SELECT * FROM {db}.events ORDER BY created_at ASC, eid ASC LIMIT 1 BY oid, sid",
    ),
    View(
        "events_recent",
        "SELECT * FROM {db}.events WHERE created_at >= now64(3) - INTERVAL 7 DAY",
    ),
)

# The day of an event is its UTC day, as the Go tracker's "today" (its servers run in UTC).
_DAY = "toDate(created_at, 'UTC') AS date"

MATERIALIZED_VIEWS: tuple[MaterializedView, ...] = (
    MaterializedView(
        "hits_mv",
        "hits",
        f"SELECT hhash, url, 1 AS total, {_DAY} FROM {{db}}.events WHERE url != ''",
    ),
    MaterializedView(
        "ips_mv",
        "ips",
        f"SELECT hhash, ip, 1 AS total, {_DAY} FROM {{db}}.events WHERE ip != ''",
    ),
    MaterializedView(
        "reqs_mv",
        "reqs",
        f"SELECT hhash, vid, 1 AS total, {_DAY} FROM {{db}}.events",
    ),
    MaterializedView(
        "browsers_mv",
        "browsers",
        f"SELECT hhash, bhash, browser, 1 AS total, {_DAY} FROM {{db}}.events"
        " WHERE bhash != '' AND browser != ''",
    ),
    MaterializedView(
        "referrers_mv",
        "referrers",
        f"SELECT hhash, last AS url, 1 AS total, {_DAY} FROM {{db}}.events WHERE last != ''",
    ),
)

# Tables the application must not insert into: their rows come from the views above.
VIEW_FED_TABLES: frozenset[str] = frozenset(view.to_table for view in MATERIALIZED_VIEWS)

__all__ = ["MATERIALIZED_VIEWS", "TABLES", "VIEWS", "VIEW_FED_TABLES"]
