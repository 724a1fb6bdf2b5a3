"""``DataRetentionDays``: a ClickHouse TTL on the tables that hold data about people.

Applied at every start-up, idempotently: a table whose TTL already says the configured number of
days is not touched; a changed number replaces the TTL (ClickHouse then removes the rows past
the new limit in the background); with the key unset, the TTLs this module sets are removed
again (``REMOVE TTL``) and a TTL someone set by hand on another column is left alone.

`RETENTION` names the tables and the column that dates a row. Tables that hold people's ids but
keep their own lifetime are listed in `EXEMPT` with the reason; a test fails when the catalogue
gains a personal table that is in neither.
"""

from __future__ import annotations

import logging
import re

from tracker.privacy.store import Store
from tracker.schema.tables import TABLES

__all__ = ["EXEMPT", "RETENTION", "apply_retention"]

log = logging.getLogger(__name__)

RETENTION: dict[str, str] = {  # table -> the column that dates a row
    "events": "created_at",
    "dashboard_events": "created_at",  # the dashboard's copy of events
    "visitor_interests": "created_at",
    "userhosts": "created_at",
    "usernames": "created_at",
    "emails": "created_at",
    "cells": "created_at",
    "reqs": "date",
    "ips": "date",
    "dailies": "day",
}

EXEMPT: dict[str, str] = {
    "agreements": "consent records: the proof of what a visitor agreed to",
    "agreed": "consent records: the proof of what a visitor agreed to",
    "payments": "financial records, kept under accounting rules",
    "ltv": "lifetime value totals, kept with the payments they sum",
    "mthreads": "messaging threads: product data with its own lifetime",
    "mstore": "messages: product data with its own lifetime",
    "mtriage": "message triage: product data with its own lifetime",
    "accounts": "operator accounts of the redirect API, not tracked people",
    "logs": "pruned by PruneLogsTTL (tracker prune)",
}

_OURS = re.compile(r"^`?(\w+)`? \+ toIntervalDay\((\d+)\)$")


def _shown(column: str, days: int) -> str:
    """The TTL as ``system.tables.engine_full`` shows it."""
    return f"{column} + toIntervalDay({days})"


def apply_retention(store: Store, days: int | None) -> dict[str, str]:
    """Bring every `RETENTION` table's TTL in line with ``days``; return what changed."""
    live = store.tables()
    changed: dict[str, str] = {}
    for table, column in RETENTION.items():
        if table not in live:
            continue
        current = store.table_ttl(table)
        if days is not None:
            if current != _shown(column, days):
                store.modify_ttl(table, f"{column} + INTERVAL {days} DAY")
                changed[table] = f"rows older than {days} days expire (by {column})"
            continue
        match = _OURS.match(current)
        if match and match.group(1) == column and TABLES[table].ttl is None:
            store.modify_ttl(table, None)
            changed[table] = "retention limit removed"
    for table, what in changed.items():
        log.info("retention: %s: %s", table, what)
    return changed
