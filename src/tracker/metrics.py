"""Counters of the running tracker, rendered as the Go tracker's JSON or as Prometheus text.

Plain integers updated in place (the event loop and the writer thread each own the fields they
write), read at scrape time; no locking is needed for monotonic counters under the GIL. The
Prometheus text adds prometheus_client's process and platform collectors (CPU, memory, open
files; the Python version) and `request_seconds`, a histogram of request latency per route,
which the HTTP layer observes once per request (about 1 µs: `bench/request_metrics.py`).
"""

from __future__ import annotations

import os
import resource
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

DROP_REASONS = (
    "invalid", "oversize", "spool_full", "spool_error", "no_consent", "sink_rejected"
)  # fmt: skip


# Each sink's counters (its writer's figures in `sinks`), as `tracker_sink_<key>{sink=…}`.
SINK_COUNTERS = {
    "batches": "Batches a sink stored.",
    "rows": "Rows a sink stored.",
    "failed_batches": "Batch writes to a sink that failed (retried later).",
    "dead_letters": "Rows a sink refused, moved to its dead-letter file.",
}

KEY_DROP_REASONS = ("too_many_keys",)
# Seconds: a durable answer takes a few milliseconds (one fsync shared by the requests waiting).
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)


@dataclass
class Metrics:
    start_time: float = field(default_factory=time.time)
    event_count: int = 0
    error_count: int = 0
    campaign_events: int = 0
    total_latency_ns: int = 0
    last_processed: float = 0.0
    connections: int = 0
    health_status: str = "initializing"
    # batching (written by the writer thread)
    batching_enabled: bool = True
    total_batches: int = 0
    total_items: int = 0
    failed_batches: int = 0
    flush_latency_ms_sum: float = 0.0
    queued_items: int = 0
    queued_bytes: int = 0
    last_flush: float = 0.0
    spool_bytes: int = 0
    sinks: dict[str, dict[str, object]] = field(default_factory=dict)
    sources: dict[str, dict[str, object]] = field(default_factory=dict)  # broker consumers
    table_ops: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)
    dropped_keys: Counter[str] = field(default_factory=Counter)  # params keys left out, by reason
    # supervised background threads started again after an unexpected error, by thread name
    thread_restarts: Counter[str] = field(default_factory=Counter)
    # Prometheus only: the process and platform collectors and the request latency per route.
    registry: CollectorRegistry = field(init=False, repr=False)
    request_seconds: Histogram = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_MetricsCollector(self))
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self.request_seconds = Histogram(
            "tracker_request_duration_seconds",
            "Time from a request's arrival to its answer, by route (the route's template).",
            ["route"],
            registry=self.registry,
            buckets=LATENCY_BUCKETS,
        )

    def record_event(self, count: int, latency_ns: int) -> None:
        self.event_count += count
        self.total_latency_ns += latency_ns
        self.last_processed = time.time()

    def drop(self, reason: str, count: int = 1) -> None:
        self.dropped[reason] += count
        self.error_count += count

    def record_flush(self, table: str, rows: int, latency_ms: float) -> None:
        self.total_batches += 1
        self.total_items += rows
        self.flush_latency_ms_sum += latency_ms
        self.last_flush = time.time()
        self.table_ops[table] += rows

    def as_json(self) -> dict[str, Any]:
        now = time.time()
        uptime = max(now - self.start_time, 1e-9)
        batches = self.total_batches + self.failed_batches
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        last_flush = (
            datetime.fromtimestamp(self.last_flush, UTC)
            if self.last_flush
            else datetime.fromtimestamp(0, UTC)
        )
        return {
            "metrics": {
                "event_count": self.event_count,
                "error_count": self.error_count,
                "campaign_events": self.campaign_events,
                "mthreads_ops": self.table_ops["mthreads"],
                "mstore_ops": self.table_ops["mstore"],
                "mtriage_ops": self.table_ops["mtriage"],
                "total_latency_ns": self.total_latency_ns,
                "last_processed_unix": int(self.last_processed),
                "connection_count": self.connections,
                "health_status": self.health_status,
                "start_time_unix": int(self.start_time),
            },
            "batching": {
                "enabled": self.batching_enabled,
                "total_batches": self.total_batches,
                "total_items": self.total_items,
                "failed_batches": self.failed_batches,
                "avg_batch_size": self.total_items // self.total_batches
                if self.total_batches
                else 0,
                "avg_flush_latency_ms": round(self.flush_latency_ms_sum / self.total_batches, 3)
                if self.total_batches
                else 0,
                "queued_items": self.queued_items,
                "memory_usage_mb": round(self.queued_bytes / 2**20, 3),
                "last_flush_time": last_flush.isoformat().replace("+00:00", "Z"),
            },
            "calculated": {
                "avg_latency_ms": round(self.total_latency_ns / self.event_count / 1e6, 3)
                if self.event_count
                else 0,
                "error_rate": round(
                    self.error_count / max(self.event_count + self.error_count, 1), 6
                ),
                "uptime_seconds": round(uptime, 3),
                "events_per_second": round(self.event_count / uptime, 3),
                "batch_success_rate": round(self.total_batches / batches, 6) if batches else 1.0,
                "avg_items_per_batch": round(self.total_items / self.total_batches, 3)
                if self.total_batches
                else 0,
            },
            "spool": {"bytes": self.spool_bytes, "sinks": self.sinks},
            "sources": self.sources,
            "dropped": {reason: self.dropped[reason] for reason in DROP_REASONS},
            "dropped_keys": {reason: self.dropped_keys[reason] for reason in KEY_DROP_REASONS},
            "threads": {
                name: {"restarts": count} for name, count in sorted(self.thread_restarts.items())
            },
            "process": {"pid": os.getpid(), "max_rss_mb": round(rss_mb, 1)},
            "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        }


class _MetricsCollector(Collector):
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        m = self.metrics
        yield CounterMetricFamily("tracker_events", "Events accepted.", value=m.event_count)
        dropped = CounterMetricFamily(
            "tracker_dropped_events", "Events refused or lost, by reason.", labels=["reason"]
        )
        for reason in DROP_REASONS:
            dropped.add_metric([reason], m.dropped[reason])
        yield dropped
        keys = CounterMetricFamily(
            "tracker_dropped_keys",
            "Keys left out of events' params (the events were stored), by reason.",
            labels=["reason"],
        )
        for reason in KEY_DROP_REASONS:
            keys.add_metric([reason], m.dropped_keys[reason])
        yield keys
        yield CounterMetricFamily("tracker_batches", "Batches written.", value=m.total_batches)
        yield CounterMetricFamily(
            "tracker_batch_failures", "Batch writes that failed.", value=m.failed_batches
        )
        yield CounterMetricFamily(
            "tracker_batch_rows", "Rows written in batches.", value=m.total_items
        )
        rows = CounterMetricFamily(
            "tracker_table_rows", "Rows written, by table.", labels=["table"]
        )
        for table, count in sorted(m.table_ops.items()):
            rows.add_metric([table], count)
        yield rows
        yield GaugeMetricFamily(
            "tracker_queued_rows", "Rows waiting to be written.", value=m.queued_items
        )
        yield GaugeMetricFamily(
            "tracker_queued_bytes", "Bytes waiting to be written.", value=m.queued_bytes
        )
        avg = m.flush_latency_ms_sum / m.total_batches if m.total_batches else 0.0
        yield GaugeMetricFamily(
            "tracker_flush_latency_avg_ms", "Mean batch write latency.", value=avg
        )
        yield GaugeMetricFamily(
            "tracker_spool_bytes",
            "Bytes in the spool not yet released by every sink.",
            value=m.spool_bytes,
        )
        lag = GaugeMetricFamily(
            "tracker_sink_cursor_lag_bytes",
            "Spool bytes a sink has not yet stored.",
            labels=["sink"],
        )
        circuit = GaugeMetricFamily(
            "tracker_sink_circuit_open",
            "1 while a sink's circuit breaker is open or half-open.",
            labels=["sink"],
        )
        trips = CounterMetricFamily(
            "tracker_sink_circuit_trips", "Times a sink's circuit opened.", labels=["sink"]
        )
        per_sink = {
            key: CounterMetricFamily(f"tracker_sink_{key}", text, labels=["sink"])
            for key, text in SINK_COUNTERS.items()
        }
        for name, state in sorted(m.sinks.items()):
            lag.add_metric([name], float(str(state.get("cursor_lag_bytes", 0))))
            circuit.add_metric([name], 0.0 if state.get("circuit") == "closed" else 1.0)
            trips.add_metric([name], float(str(state.get("circuit_trips", 0))))
            for key, family in per_sink.items():
                family.add_metric([name], float(str(state.get(key, 0))))
        yield lag
        yield circuit
        yield trips
        yield from per_sink.values()
        restarts = CounterMetricFamily(
            "tracker_thread_restarts",
            "Times a background thread started again after an unexpected error.",
            labels=["thread"],
        )
        for name, count in sorted(m.thread_restarts.items()):
            restarts.add_metric([name], count)
        yield restarts
        yield GaugeMetricFamily(
            "tracker_up",
            "1 when storage answers its health check.",
            value=1.0 if m.health_status == "healthy" else 0.0,
        )


def prometheus_text(metrics: Metrics) -> bytes:
    return generate_latest(metrics.registry)
