"""Each table's batch policy, from the built-in defaults and config.json; each writer's circuit breaker."""

from __future__ import annotations

import time
from dataclasses import replace

from tracker.batch.breaker import CircuitBreaker
from tracker.batch.policy import DEFAULT, MB, Policy, Strategy, policies
from tracker.config import BatchPolicyConfig, Settings


def table_policies(settings: Settings) -> dict[str, Policy]:
    """Built-in defaults < the ClickHouse entry's MaxBatchSize/MaxBatchTime (or
    BatchFlushInterval) < `BatchPolicies`; `BatchingEnabled: false` makes every table immediate."""
    service = settings.clickhouse
    max_rows = service.max_batch_size if service else None
    max_seconds = service.max_batch_time if service else None
    if service and max_seconds is None:
        max_seconds = service.batch_flush_interval
    base = policies(max_rows, max_seconds)
    if service and not service.batching_enabled:
        base = {
            table: replace(policy, strategy=Strategy.IMMEDIATE) for table, policy in base.items()
        }
    overrides = {
        table: apply_policy(base.get(table, DEFAULT), cfg) for table, cfg in settings.batch_policies
    }
    return {**base, **overrides}


def apply_policy(policy: Policy, cfg: BatchPolicyConfig) -> Policy:
    changes: dict[str, object] = {}
    if cfg.strategy is not None:
        changes["strategy"] = Strategy(cfg.strategy)
    for attr, value in (
        ("max_rows", cfg.max_batch_size),
        ("max_seconds", cfg.max_batch_time),
        ("retries", cfg.retries),
        ("min_rows", cfg.min_batch_size),
        ("target_latency_ms", cfg.target_latency_ms),
    ):
        if value is not None:
            changes[attr] = value
    if cfg.max_memory_mb is not None:
        changes["max_bytes"] = int(cfg.max_memory_mb * MB)
    return replace(policy, **changes)  # type: ignore[arg-type]


def longest_batch_seconds(settings: Settings) -> float:
    """How long the slowest table may hold a row before writing it."""
    return max((p.max_seconds for p in table_policies(settings).values()), default=0.0)


def circuit_breaker(settings: Settings) -> CircuitBreaker:
    """A writer's circuit breaker, as `CircuitBreakerFailures` and `CircuitBreakerResetSeconds` say."""
    return CircuitBreaker(
        time.monotonic,
        threshold=settings.circuit_breaker_failures,
        reset_seconds=settings.circuit_breaker_reset_seconds,
    )
