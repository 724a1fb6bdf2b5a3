"""The catalogue: every table, view and materialized view of the Go tracker's schema files.

This is the one source of truth for the DDL (``render.py`` turns it into SQL) and for the column
lists the write plan coerces rows against. ``TABLES`` are the tables the tracker writes or reads
(``tables_analytics.py``, ``tables_messaging.py``, ``tables_accounts.py``); ``REFERENCE_TABLES``
are the rest of the Go schema, created for the users' own reports and tools and never written by
the tracker (``tables_core.py``, ``tables_compliance.py``, ``tables_outreach.py``,
``tables_users.py``, ``tables_auth.py``). ``VIEWS``, ``MATERIALIZED_VIEWS`` and ``LOOKUP_VIEWS``
are all of the Go schema's views (``views_reference.py``, ``lookup_views.py``).

The five counter tables ``hits``, ``ips``, ``reqs``, ``browsers`` and ``referrers`` are fed **only**
by the materialized views below, which fire on every insert into ``events``. The application never
inserts into them: the Go tracker did both and counted client events twice (docs/differences.md).
"""

from __future__ import annotations

from tracker.schema.lookup_views import LOOKUP_VIEWS
from tracker.schema.model import InnerMaterializedView, MaterializedView, Table, View
from tracker.schema.tables_accounts import OWN_TABLES, PAYMENT_TABLES, SERVICE_TABLES
from tracker.schema.tables_analytics import ANALYTICS_TABLES
from tracker.schema.tables_auth import AUTH_REFERENCE_TABLES
from tracker.schema.tables_compliance import COMPLIANCE_REFERENCE_TABLES
from tracker.schema.tables_core import CORE_REFERENCE_TABLES
from tracker.schema.tables_dashboard import DASHBOARD_TABLES, DASHBOARD_VIEWS
from tracker.schema.tables_messaging import MESSAGING_TABLES, REDIRECT_TABLES
from tracker.schema.tables_outreach import OUTREACH_REFERENCE_TABLES
from tracker.schema.tables_users import USERS_REFERENCE_TABLES
from tracker.schema.views_reference import REFERENCE_VIEWS

TABLES: dict[str, Table] = {
    table.name: table
    for table in (
        *ANALYTICS_TABLES,
        *MESSAGING_TABLES,
        *PAYMENT_TABLES,
        *REDIRECT_TABLES,
        *SERVICE_TABLES,
        *OWN_TABLES,
        *DASHBOARD_TABLES,
    )
}

# The Go schema's other tables: created by `schema load`, never written by the tracker.
REFERENCE_TABLES: dict[str, Table] = {
    table.name: table
    for table in (
        *CORE_REFERENCE_TABLES,
        *COMPLIANCE_REFERENCE_TABLES,
        *OUTREACH_REFERENCE_TABLES,
        *USERS_REFERENCE_TABLES,
        *AUTH_REFERENCE_TABLES,
    )
}
if REFERENCE_TABLES.keys() & TABLES.keys():
    raise ValueError(
        f"Tables in both catalogues: {sorted(REFERENCE_TABLES.keys() & TABLES.keys())}"
    )

ALL_TABLES: dict[str, Table] = {**TABLES, **REFERENCE_TABLES}

# First / last row per key. ORDER BY the sorting key of events (created_at, eid) lets ClickHouse
# read in order instead of sorting, and eid breaks ties between rows of the same millisecond.
OWN_VIEWS: tuple[View, ...] = (
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
VIEWS: tuple[View, ...] = (*OWN_VIEWS, *REFERENCE_VIEWS)

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
    *DASHBOARD_VIEWS,  # the dashboard's decoded copy of events (tables_dashboard.py)
)

# Tables the application must not insert into: their rows come from the views above.
VIEW_FED_TABLES: frozenset[str] = frozenset(view.to_table for view in MATERIALIZED_VIEWS)

# Materialized views with their own storage; after the views, since some read from them.
INNER_VIEWS: tuple[InnerMaterializedView, ...] = LOOKUP_VIEWS

__all__ = [
    "ALL_TABLES",
    "INNER_VIEWS",
    "MATERIALIZED_VIEWS",
    "OWN_VIEWS",
    "REFERENCE_TABLES",
    "TABLES",
    "VIEWS",
    "VIEW_FED_TABLES",
]
