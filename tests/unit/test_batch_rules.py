"""The batching rules as pure functions: strategies, adaptive sizing, breaker, backoff, pre-aggregation."""

from __future__ import annotations

import math

import orjson
import pytest

from tracker.batch.aggregate import pre_aggregate
from tracker.batch.breaker import CircuitBreaker, State, backoff
from tracker.batch.policy import (
    DEFAULTS,
    HARD_CAP_ROWS,
    TICK,
    AdaptiveSize,
    Policy,
    Strategy,
    policies,
)
from tracker.schema.tables import TABLES

ROWS, BYTES, SECONDS = 100, 1000, 2.0


def policy(strategy: Strategy) -> Policy:
    return Policy(strategy, max_rows=ROWS, max_seconds=SECONDS, max_bytes=BYTES)


@pytest.mark.parametrize(
    ("strategy", "rows", "size", "age", "due"),
    [
        (Strategy.IMMEDIATE, 1, 10, 0.0, True),
        (Strategy.IMMEDIATE, 0, 0, 99.0, False),
        (Strategy.TIME, ROWS * 5, BYTES * 5, SECONDS - 0.01, False),
        (Strategy.TIME, 1, 10, SECONDS, True),
        (Strategy.SIZE, ROWS - 1, BYTES * 5, 999.0, False),
        (Strategy.SIZE, ROWS, 10, 0.0, True),
        (Strategy.HYBRID, ROWS - 1, BYTES - 1, SECONDS - 0.01, False),
        (Strategy.HYBRID, ROWS, 10, 0.0, True),
        (Strategy.HYBRID, 1, BYTES, 0.0, True),
        (Strategy.HYBRID, 1, 10, SECONDS, True),
        (Strategy.MEMORY, ROWS * 5, BYTES - 1, 999.0, False),
        (Strategy.MEMORY, 1, BYTES, 0.0, True),
        (Strategy.ADAPTIVE, ROWS - 1, BYTES * 5, SECONDS - 0.01, False),
        (Strategy.ADAPTIVE, 1, 10, SECONDS, True),
    ],
)
def test_each_strategy_flushes_when_its_rule_says_and_not_before(
    strategy: Strategy, rows: int, size: int, age: float, due: bool
) -> None:
    assert policy(strategy).due(rows, size, timed_out=age >= SECONDS) is due


def test_adaptive_flushes_at_its_tuned_size_not_the_maximum() -> None:
    rule = policy(Strategy.ADAPTIVE)
    assert not rule.due(40, 10, False, tuned_rows=50)
    assert rule.due(50, 10, False, tuned_rows=50)


def test_a_batch_age_counts_from_the_last_flush_as_in_go() -> None:
    never = -math.inf
    for strategy in (Strategy.TIME, Strategy.HYBRID, Strategy.ADAPTIVE):
        rule = policy(strategy)
        # After a quiet spell (or at start) the first row is due at once, one TICK later.
        assert rule.deadline(first_at=100.0, last_flush=never) == 100.0 + TICK
        assert rule.deadline(first_at=100.0, last_flush=50.0) == 100.0 + TICK
        # A row arriving soon after a flush waits for the age to pass since that flush.
        assert rule.deadline(first_at=100.5, last_flush=100.0) == 100.0 + SECONDS
    assert policy(Strategy.IMMEDIATE).deadline(first_at=7.0, last_flush=6.9) == 7.0
    assert policy(Strategy.SIZE).deadline(first_at=7.0, last_flush=never) is None
    assert policy(Strategy.MEMORY).deadline(first_at=7.0, last_flush=never) is None
    short = Policy(Strategy.TIME, max_seconds=TICK / 2)  # an age under the tick is kept
    assert short.deadline(first_at=1.0, last_flush=never) == 1.0 + TICK / 2


def test_every_strategy_is_bounded_by_the_hard_cap() -> None:
    for strategy in Strategy:
        assert policy(strategy).due(HARD_CAP_ROWS, 0, False)


def test_adaptive_size_shrinks_on_slow_flushes_and_grows_on_backlog_within_bounds() -> None:
    tuner = AdaptiveSize(
        Policy(Strategy.ADAPTIVE, max_rows=1000, min_rows=10, target_latency_ms=100)
    )
    assert tuner.rows == 1000
    for _ in range(50):
        tuner.observe(latency_ms=500, queued_rows=0)
    assert tuner.rows == 10
    tuner.observe(latency_ms=80, queued_rows=5000)
    assert tuner.rows == 16
    for _ in range(50):
        tuner.observe(latency_ms=80, queued_rows=5000)
    assert tuner.rows == 1000


def test_seed_defaults_and_config_overrides() -> None:
    assert DEFAULTS["events"] == Policy(Strategy.HYBRID, 5000, 2.0, 10 * 2**20)
    assert DEFAULTS["payments"].strategy is Strategy.IMMEDIATE
    assert DEFAULTS["payments"].retries == 5
    assert DEFAULTS["mthreads"].strategy is Strategy.TIME
    assert DEFAULTS["mthreads"].max_seconds == 5.0
    assert DEFAULTS["visitors"].strategy is Strategy.SIZE
    table = policies(max_rows=5000, max_seconds=0.5)
    assert (table["events"].max_rows, table["events"].max_seconds) == (5000, 0.5)
    assert table["hosts"] == DEFAULTS["hosts"]


def test_the_breaker_opens_after_the_threshold_then_half_opens_and_closes() -> None:
    now = [0.0]
    breaker = CircuitBreaker(lambda: now[0], threshold=3, reset_seconds=10)
    for _ in range(2):
        breaker.failure()
    assert breaker.state is State.CLOSED
    breaker.failure()
    assert breaker.state is State.OPEN
    assert not breaker.allows()
    assert breaker.retry_in() == 10
    now[0] = 10.0
    assert breaker.state is State.HALF_OPEN
    breaker.failure()  # the trial write fails: open again at once
    assert breaker.state is State.OPEN
    now[0] = 20.0
    assert breaker.allows()
    breaker.success()
    assert breaker.state is State.CLOSED
    assert breaker.trips == 2


def test_backoff_grows_exponentially_is_capped_and_honours_a_floor() -> None:
    for attempt in range(1, 20):
        delay = backoff(attempt, base=0.1, cap=5.0)
        ceiling = min(5.0, 0.1 * 2 ** (attempt - 1))
        assert ceiling / 2 <= delay <= ceiling
    assert backoff(1, base=0.1, cap=5.0, floor=3.0) == 3.0


def test_counter_rows_are_pre_aggregated_within_a_batch() -> None:
    lines = [
        orjson.dumps({"ip": "1.2.3.4", "day": "2026-11-27", "total": 1}),
        orjson.dumps({"ip": "5.6.7.8", "day": "2026-11-27", "total": 1}),
        orjson.dumps({"ip": "1.2.3.4", "day": "2026-11-27", "total": 2}),
    ]
    out = [orjson.loads(line) for line in pre_aggregate(TABLES["dailies"], lines)]
    assert out == [
        {"ip": "1.2.3.4", "day": "2026-11-27", "total": 3},
        {"ip": "5.6.7.8", "day": "2026-11-27", "total": 1},
    ]
    assert pre_aggregate(TABLES["dailies"], lines) == pre_aggregate(TABLES["dailies"], lines)


def test_rows_of_other_tables_are_left_alone() -> None:
    lines = [orjson.dumps({"eid": "a"}), orjson.dumps({"eid": "a"})]
    assert pre_aggregate(TABLES["events"], lines) == lines
