"""The backends besides ClickHouse, built from the `Notify` entries: one sink and one writer each.

Every writer reads the spool from its own cursor journal (``<DataDir>/spool/cursor-<name>.json``)
with its own batch policies, retries, circuit breaker, dead letters and metrics, so a backend that
is down or slow never holds back another; the spool releases only what every writer has passed.

=========  ===================  =====================================================
backend    tables it takes      sink
=========  ===================  =====================================================
duckdb     events, logs,        `DuckDbSink` (Parquet export, S3 upload)
           updates
nats       events               `NatsSink` (publishes each events row to ``Context``)
facebook   fb_events            `FacebookSink` (planned only for it, see plan/marketing_rows)
=========  ===================  =====================================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tracker.batch.cursor import CursorJournal
from tracker.batch.deadletter import DeadLetters
from tracker.batch.policy import MB, Policy, Strategy
from tracker.batch.writer import SinkWriter
from tracker.config import Service, Settings
from tracker.datadir import DataDir
from tracker.metrics import Metrics
from tracker.normalise.event import Event
from tracker.plan.marketing_rows import TABLE as FB_TABLE
from tracker.plan.marketing_rows import plan_marketing
from tracker.runtime.policies import circuit_breaker
from tracker.schema.tables import TABLES
from tracker.sinks.base import Sink
from tracker.sinks.duckdb import STORED as DUCKDB_TABLES
from tracker.sinks.duckdb import DuckDbSink
from tracker.sinks.duckdb_export import ExportPolicy, S3Target
from tracker.sinks.facebook import MAX_EVENTS, FacebookSink
from tracker.sinks.faults import with_faults
from tracker.sinks.nats import NatsSink
from tracker.spool import LogSpool, Record

# `ProxyRealtimeStorageServiceTables`: the Go tracker's bit of each table.
REALTIME_TABLE_BITS = {
    name: 1 << bit
    for bit, name in enumerate(
        (
            "events", "events_recent", "visitors", "visitors_latest", "sessions", "ips", "routed",
            "hits", "dailies", "outcomes", "referrers", "referrals", "referred", "hosts",
            "browsers", "nodes", "locations", "aliases", "userhosts", "usernames", "emails",
            "cells", "reqs", "ltv", "ltvu", "ltvv", "agreements", "agreed", "jurisdictions",
            "redirects", "redirect_history", "counters", "updates", "logs",
        )
    )
}  # fmt: skip


@dataclass
class Backends:
    writers: list[SinkWriter] = field(default_factory=list)
    planners: list[Callable[[Event], list[Record]]] = field(default_factory=list)


def clickhouse_takes(settings: Settings) -> Callable[[str], bool]:
    """The tables the ClickHouse writer stores: those of its schema, minus the ones an enabled
    DuckDB entry keeps from the realtime store (``ProxyRealtimeStorageService…``)."""
    mask = None
    for service in settings.enabled("duckdb"):
        if service.proxy_realtime_storage_service_name == "clickhouse":
            mask = service.proxy_realtime_storage_service_tables or None
    if mask is None:
        return lambda table: table in TABLES
    kept = {table for table, bit in REALTIME_TABLE_BITS.items() if not mask & bit}
    return lambda table: table in TABLES and table not in kept


def facebook_ready(service: Service) -> bool:
    return bool(service.context and service.key.value)


def _policy(service: Service, rows: int, seconds: float, cap: int | None = None) -> Policy:
    max_rows = service.max_batch_size or rows
    return Policy(
        Strategy.HYBRID,
        min(max_rows, cap) if cap else max_rows,
        service.max_batch_time if service.max_batch_time is not None else seconds,
        16 * MB,
        retries=2,
    )


def _named(service: str, index: int) -> str:
    return service if index == 0 else f"{service}-{index + 1}"


def make_sinks(settings: Settings, data_dir: DataDir) -> list[tuple[Sink, dict[str, Policy]]]:
    """Each enabled, usable backend entry's sink and its tables' batch policies."""
    built: list[tuple[Sink, dict[str, Policy]]] = []
    for i, service in enumerate(settings.enabled("duckdb")):
        name = _named("duckdb", i)
        s3 = None
        if settings.s3_bucket:
            s3 = S3Target(
                settings.s3_bucket,
                settings.s3_prefix,
                settings.s3_region,
                settings.s3_endpoint_url,
                settings.s3_access_key_id,
                settings.s3_secret_access_key.value,
            )
        export = ExportPolicy(
            interval=float(settings.health_check_interval or 300),
            inactivity=float(settings.inactivity_timeout_seconds),
            max_shard_bytes=settings.max_shard_size_bytes,
        )
        directory = data_dir.root / (name if i else "duckdb")
        policy = _policy(service, 5000, 2.0)
        built.append(
            (DuckDbSink(directory, export, s3, name), dict.fromkeys(DUCKDB_TABLES, policy))
        )
    for i, service in enumerate(s for s in settings.enabled("nats") if s.hosts and s.context):
        built.append((NatsSink(service, _named("nats", i)), {"events": _policy(service, 500, 0.2)}))
    facebook = [s for s in settings.enabled("facebook") if facebook_ready(s)]
    for i, service in enumerate(facebook):
        sink = FacebookSink(
            service.context,
            service.key.value,
            name=_named("facebook", i),
            base_url=service.graph_api_url,
            version=service.graph_api_version,
            attempt_all=service.attempt_all,
            timeout=(service.timeout_ms or 30_000) / 1000,
        )
        built.append((sink, {FB_TABLE: _policy(service, MAX_EVENTS, 2.0, cap=MAX_EVENTS)}))
    return built


def build_backends(
    settings: Settings,
    data_dir: DataDir,
    spool: LogSpool,
    metrics: Metrics,
    on_progress: Callable[[], None],
) -> Backends:
    backends = Backends()
    facebook = [s for s in settings.enabled("facebook") if facebook_ready(s)]
    if facebook:
        attempt_all = any(s.attempt_all for s in facebook)
        backends.planners.append(lambda event: plan_marketing(event, attempt_all))
    for sink, policies in make_sinks(settings, data_dir):
        sink = with_faults(sink)
        backends.writers.append(
            SinkWriter(
                sink,
                spool,
                CursorJournal(data_dir.root / "spool" / f"cursor-{sink.name}.json", spool.durable),
                policies,
                metrics,
                DeadLetters(data_dir.root / "deadletter", sink.name),
                breaker=circuit_breaker(settings),
                on_progress=on_progress,
                takes=policies.__contains__,
                aggregate=False,
                primary=False,
            )
        )
    return backends
