"""When a table's batch is written: at ``max_rows`` rows or ``max_seconds`` of age, first wins.

Defaults follow the seed README (events 1000 rows / 2 s) and, for the other tables, the Go batch
manager's per-table table (storage.md §4.2). ``MaxBatchSize`` / ``MaxBatchTime`` of the ClickHouse
Notify entry override the events policy, as the seed README promised and the Go tracker ignored.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Policy:
    max_rows: int
    max_seconds: float


DEFAULT = Policy(500, 3.0)

DEFAULTS: dict[str, Policy] = {
    "events": Policy(1000, 2.0),
    "mthreads": Policy(10000, 5.0),
    "mstore": Policy(500, 3.0),
    "mtriage": Policy(50, 2.0),
    "payments": Policy(1, 0.0),
    "ltv": Policy(1, 0.0),
    "impression_daily": Policy(250, 4.0),
    "agreements": Policy(100, 3.0),
    "agreed": Policy(100, 3.0),
    "redirects": Policy(200, 2.0),
    "redirect_history": Policy(500, 5.0),
    "counters": Policy(300, 3.0),
    "updates": Policy(200, 4.0),
    "logs": Policy(1000, 5.0),
    "dailies": Policy(200, 10.0),
    "outcomes": Policy(300, 3.0),
    "hosts": Policy(200, 5.0),
    "userhosts": Policy(200, 4.0),
    "usernames": Policy(200, 4.0),
    "emails": Policy(200, 3.0),
    "cells": Policy(200, 4.0),
    "visitor_interests": Policy(500, 3.0),
}


def policies(max_rows: int | None = None, max_seconds: float | None = None) -> dict[str, Policy]:
    """The per-table policies, with the events policy overridden by config when given."""
    table = dict(DEFAULTS)
    events = table["events"]
    table["events"] = Policy(
        max_rows if max_rows else events.max_rows,
        max_seconds if max_seconds is not None else events.max_seconds,
    )
    return table
