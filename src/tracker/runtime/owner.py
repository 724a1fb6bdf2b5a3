"""The store owner's side of `Workers` > 1 (docs/workers.md): a writer per worker spool, and the
control commands the HTTP workers ask it (``health``, ``offsets``, ``metrics``).

Every worker spool under ``<DataDir>/spool/worker-K/`` gets its own `SinkWriter` into the one
store, with its cursor journal in that directory and the spool's own epoch in its dedup tokens,
so a replay after any crash sends the same tokens and ClickHouse stores each batch once. The main
writer (the process's own spool) opens the store and runs its migrations; the others wait for it
(`Follower.open`). A single-process server builds the same writers for worker spools left by an
earlier run with more workers, so changing `Workers` never strands events.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from tracker.batch.cursor import CursorJournal
from tracker.batch.deadletter import DeadLetters
from tracker.batch.writer import SinkWriter
from tracker.config import Settings
from tracker.datadir import DataDir
from tracker.errors import SinkUnreachable
from tracker.metrics import Metrics, prometheus_text
from tracker.runtime.policies import circuit_breaker, table_policies
from tracker.runtime.sinks import clickhouse_takes
from tracker.sinks.base import Sink
from tracker.spool.shared import open_reader_spool, read_figures, worker_dirs

FIGURES_STALE_SECONDS = 5.0  # a worker whose figures are older is listed as not running
# Request-side figures a worker counts; the owner adds them up for `/metrics`.
SUMMED = ("event_count", "error_count", "campaign_events", "total_latency_ns", "connections")


class Follower:
    """The store as a worker spool's writer sees it: the main writer's sink, under its own
    name (its figures, thread and dead letters), opened only once the main writer opened it."""

    def __init__(self, sink: Sink, spool: str, ready: Callable[[], bool]) -> None:
        self.sink = sink
        self.spool = spool  # the worker spool's directory name, worker-K
        self.name = f"{sink.name}-{spool}"
        self.ready = ready

    def open(self) -> None:
        if not self.ready():
            raise SinkUnreachable("the store is not open yet")

    def healthcheck(self) -> bool:
        return self.sink.healthcheck()

    def write(self, table: str, lines: Sequence[bytes], token: str | None = None) -> None:
        self.sink.write(table, lines, token)

    def query(
        self, sql: str, fmt: str = "JSONEachRow", params: Mapping[str, object] | None = None
    ) -> bytes:
        return self.sink.query(sql, fmt, params)

    def close(self) -> None:
        return None  # the main writer's sink is closed by the runtime


def worker_writers(
    settings: Settings, data_dir: DataDir, sink: Sink, metrics: Metrics, main: SinkWriter
) -> list[SinkWriter]:
    """A writer for every worker spool in the data directory."""
    writers = []
    for directory in worker_dirs(data_dir.root / "spool"):
        spool = open_reader_spool(directory, settings.spool_max_bytes)
        follower = Follower(sink, directory.name, lambda: main.opener.is_open)
        writer = SinkWriter(
            follower,
            spool,
            CursorJournal(directory / f"cursor-{sink.name}.json", True),
            table_policies(settings),
            metrics,
            DeadLetters(data_dir.root / "deadletter", follower.name),
            breaker=circuit_breaker(settings),
            takes=clickhouse_takes(settings),
            gauges=False,  # the process-wide gauges are the main writer's; see merged_metrics
        )
        writer.on_progress = _releaser(writer)
        writers.append(writer)
    return writers


def _releaser(writer: SinkWriter) -> Callable[[], None]:
    return lambda: writer.spool.release(writer.safe)


def spool_name(follower: SinkWriter) -> str:
    """The worker spool a follower writes: its directory's name (``worker-K``)."""
    sink = follower.sink
    return sink.spool if isinstance(sink, Follower) else sink.name


def merged_metrics(metrics: Metrics, spool_root: Path) -> tuple[Metrics, list[dict[str, Any]]]:
    """The owner's figures plus every running worker's request figures (events accepted,
    drops, latency, connections, spool bytes); and one line per worker."""
    merged = dataclasses.replace(
        metrics,
        dropped=Counter(metrics.dropped),
        dropped_keys=Counter(metrics.dropped_keys),
        table_ops=Counter(metrics.table_ops),
        thread_restarts=Counter(metrics.thread_restarts),
        sinks=dict(metrics.sinks),
    )
    workers = []
    now = time.time()
    for directory in worker_dirs(spool_root):
        figures = read_figures(directory)
        if figures is None:
            continue
        age = now - float(figures.get("updated", 0))
        running = age < FIGURES_STALE_SECONDS
        workers.append(
            {
                "worker": directory.name,
                "pid": figures.get("pid"),
                "running": running,
                "event_count": figures.get("event_count", 0),
                "connections": figures.get("connections", 0) if running else 0,
                "spool_bytes": figures.get("spool_bytes", 0),
            }
        )
        for name in SUMMED:  # counters of a stopped worker still count: they happened
            if name != "connections" or running:
                setattr(merged, name, getattr(merged, name) + int(figures.get(name, 0)))
        merged.dropped.update(figures.get("dropped", {}))
        merged.dropped_keys.update(figures.get("dropped_keys", {}))
        merged.spool_bytes += int(figures.get("spool_bytes", 0))
        merged.last_processed = max(merged.last_processed, float(figures.get("last", 0)))
    merged.queued_items = sum(
        int(str(sink.get("queued_rows", 0)))
        for name, sink in metrics.sinks.items()
        if name.startswith("clickhouse")
    )
    return merged, workers


def metrics_answer(metrics: Metrics, spool_root: Path, fmt: str) -> bytes:
    """The ``metrics`` control command: the merged figures as JSON or Prometheus text (what
    `/metrics` answers on any worker)."""
    merged, workers = merged_metrics(metrics, spool_root)
    if fmt == "prometheus":
        return prometheus_text(merged)
    body = merged.as_json()
    body["workers"] = workers
    return orjson.dumps(body)
