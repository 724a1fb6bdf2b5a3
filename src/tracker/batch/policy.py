"""When a table's batch is written: the six strategies of the seed README, per table.

=========  ==========================================================  =====================
strategy   a batch is written when                                     used by default for
=========  ==========================================================  =====================
immediate  it holds any row                                            payments, ltv, mtriage
time       it is ``max_seconds`` old                                   mthreads, dailies
size       it holds ``max_rows`` rows                                  visitors (as the seed)
hybrid     ``max_rows`` rows, ``max_bytes`` bytes or ``max_seconds``   events and the rest
memory     it holds ``max_bytes`` bytes                                (opt-in)
adaptive   it holds the tuned size (see `AdaptiveSize`) or is          (opt-in)
           ``max_seconds`` old
=========  ==========================================================  =====================

A batch's age is the Go batch manager's: the time since the table's last flush, not since its
first row, so its deadline is max(first row, last flush + ``max_seconds``). A busy table still
writes one batch per ``max_seconds``; a quiet one writes its first row at once instead of
holding it a whole batch age. "At once" is ``TICK`` (the Go manager's 100 ms check) after the
first row, so rows sent together (a page's burst of requests) still share one insert.

Every buffer is also bounded (``HARD_CAP_ROWS``), so even a time- or memory-only table cannot grow
without limit, and shutdown writes everything whatever the strategy says. Defaults follow the
seed README (events hybrid / 2 s / 10 MB; payments immediate with 5 retries; mthreads time-based
5 s) and, for the other tables, the Go batch manager's per-table settings, except the row
counts of the tables every client event writes: ``events`` 5000 (the README's 1000; 5000 is the
top of its own "high-volume" advice), ``hosts`` and ``counters`` 2000. An insert costs chDB a
fixed ~70 ms of CPU (the parts of the table, its projections and its five materialized views)
besides ~25 µs per row, so 1000-row batches spent a tenth of a core at 1,500 events/s
(``bench/chdb_insert.py``); the age limit still bounds how long a quiet table waits.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

HARD_CAP_ROWS = 100_000
TICK = 0.1  # seconds a quiet table's first row waits for the rows sent with it


class Strategy(StrEnum):
    IMMEDIATE = "immediate"
    TIME = "time"
    SIZE = "size"
    HYBRID = "hybrid"
    MEMORY = "memory"
    ADAPTIVE = "adaptive"


@dataclass(frozen=True)
class Policy:
    strategy: Strategy = Strategy.HYBRID
    max_rows: int = 500
    max_seconds: float = 3.0
    max_bytes: int = 4 * 2**20
    retries: int = 3  # quick retries inside one attempt before the batch waits for the breaker
    min_rows: int = 10  # adaptive: the smallest size it tunes down to
    target_latency_ms: float = 200.0  # adaptive: flushes slower than this shrink the batch

    def due(self, rows: int, size: int, timed_out: bool, tuned_rows: int | None = None) -> bool:
        """Whether a batch of ``rows`` rows and ``size`` bytes is written now; ``timed_out``:
        its `deadline` has passed."""
        if rows == 0:
            return False
        if rows >= HARD_CAP_ROWS:
            return True
        match self.strategy:
            case Strategy.IMMEDIATE:
                return True
            case Strategy.TIME:
                return timed_out
            case Strategy.SIZE:
                return rows >= self.max_rows
            case Strategy.MEMORY:
                return size >= self.max_bytes
            case Strategy.ADAPTIVE:
                return rows >= (tuned_rows or self.max_rows) or timed_out
            case _:
                return rows >= self.max_rows or size >= self.max_bytes or timed_out

    def deadline(self, first_at: float, last_flush: float) -> float | None:
        """When age alone makes the batch due, or None when age never does: max(its first row
        (plus `TICK`), the table's last flush + ``max_seconds``). ``last_flush`` is -inf for a
        table that has not written since the start."""
        if self.strategy in (Strategy.TIME, Strategy.HYBRID, Strategy.ADAPTIVE):
            return max(first_at + min(TICK, self.max_seconds), last_flush + self.max_seconds)
        if self.strategy is Strategy.IMMEDIATE:
            return first_at
        return None


class AdaptiveSize:
    """Batch size tuned from measured flush latency and queue depth, within [min_rows, max_rows].

    A flush slower than the target shrinks the size by a quarter (the store is struggling: smaller
    inserts keep latency bounded); a backlog deeper than the current size grows it by half (larger
    inserts drain faster); a fast flush with no backlog grows it by a quarter.
    """

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.rows = policy.max_rows

    def observe(self, latency_ms: float, queued_rows: int) -> int:
        low, high = self.policy.min_rows, self.policy.max_rows
        if latency_ms > self.policy.target_latency_ms:
            self.rows = max(low, int(self.rows * 0.75))
        elif queued_rows > self.rows:
            self.rows = min(high, int(self.rows * 1.5) + 1)
        elif latency_ms < self.policy.target_latency_ms / 2:
            self.rows = min(high, int(self.rows * 1.25) + 1)
        return self.rows


MB = 2**20
H = Strategy.HYBRID

DEFAULT = Policy(H, 500, 3.0, 4 * MB)

DEFAULTS: dict[str, Policy] = {
    "events": Policy(H, 5000, 2.0, 10 * MB),
    "mthreads": Policy(Strategy.TIME, 100, 5.0, 5 * MB),
    "mstore": Policy(H, 500, 3.0, 8 * MB),
    "mtriage": Policy(Strategy.IMMEDIATE, 50, 0.0, 2 * MB, retries=5),
    "visitors": Policy(Strategy.SIZE, 200, 10.0, 3 * MB),
    "payments": Policy(Strategy.IMMEDIATE, 1, 0.0, 1 * MB, retries=5),
    "ltv": Policy(Strategy.IMMEDIATE, 1, 0.0, 1 * MB, retries=5),
    "impression_daily": Policy(H, 250, 4.0, 6 * MB),
    "agreements": Policy(H, 100, 0.5, 2 * MB),
    "agreed": Policy(H, 100, 0.5, 2 * MB),
    "redirects": Policy(Strategy.IMMEDIATE, 200, 0.0, 3 * MB),
    "redirect_history": Policy(Strategy.IMMEDIATE, 500, 0.0, 5 * MB),
    "accounts": Policy(Strategy.IMMEDIATE, 100, 0.0, 1 * MB),
    "dashboard_shares": Policy(Strategy.IMMEDIATE, 100, 0.0, 1 * MB),
    "counters": Policy(H, 2000, 3.0, 3 * MB),
    "updates": Policy(H, 200, 4.0, 3 * MB),
    "logs": Policy(H, 1000, 5.0, 8 * MB),
    "dailies": Policy(Strategy.TIME, 200, 10.0, 4 * MB),
    "outcomes": Policy(H, 300, 3.0, 4 * MB),
    "hosts": Policy(H, 2000, 5.0, 3 * MB),
    "userhosts": Policy(H, 200, 4.0, 3 * MB),
    "usernames": Policy(H, 200, 4.0, 3 * MB),
    "emails": Policy(H, 200, 3.0, 3 * MB),
    "cells": Policy(H, 200, 4.0, 3 * MB),
    "visitor_interests": Policy(H, 500, 3.0, 5 * MB),
}


def policies(max_rows: int | None = None, max_seconds: float | None = None) -> dict[str, Policy]:
    """The per-table policies: defaults, then the ClickHouse entry's MaxBatchSize/MaxBatchTime
    for events (as the seed README promised)."""
    table = dict(DEFAULTS)
    events = table["events"]
    table["events"] = replace(
        events,
        max_rows=max_rows or events.max_rows,
        max_seconds=max_seconds if max_seconds is not None else events.max_seconds,
    )
    return table
