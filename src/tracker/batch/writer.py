"""The batch writer: per-table batches written to one sink by one owner thread.

Records arrive from the event loop through a thread-safe inbox. The thread keeps one buffer per
table and writes it when the table's policy says (rows or age, first wins). A failed write keeps
the rows and retries with capped exponential backoff; rows the database rejects are isolated by
splitting the batch, so one bad row never costs the others. ``stop()`` writes everything queued.

This is the seam where the durable spool goes: today ``submit`` is called straight from the
request; with the spool, the writer reads records from the spool's cursor instead.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from tracker.batch.policy import DEFAULT, Policy
from tracker.errors import SinkRejected, SinkUnreachable, Unavailable
from tracker.metrics import Metrics
from tracker.plan.event_rows import Record
from tracker.sinks.base import Sink

log = logging.getLogger(__name__)

_STOP = object()


@dataclass
class _Buffer:
    lines: list[bytes] = field(default_factory=list)
    size: int = 0
    first_at: float = 0.0
    retry_at: float = 0.0
    backoff: float = 0.0


class BatchWriter:
    def __init__(
        self,
        sink: Sink,
        policies: dict[str, Policy],
        metrics: Metrics,
        *,
        max_queued_rows: int = 1_000_000,
        clock: Callable[[], float] = time.monotonic,
        max_backoff: float = 30.0,
    ) -> None:
        self.sink = sink
        self.policies = policies
        self.metrics = metrics
        self.max_queued_rows = max_queued_rows
        self.clock = clock
        self.max_backoff = max_backoff
        self._inbox: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._buffers: dict[str, _Buffer] = {}
        self._thread: threading.Thread | None = None
        self._submitted = 0  # written by submitters only
        self._settled = 0  # written by the writer thread only (stored or given up)
        self._stop_deadline = 0.0

    # -- called from the event loop -------------------------------------------------------
    @property
    def queued(self) -> int:
        return self._submitted - self._settled

    def submit(self, records: Sequence[Record]) -> None:
        if self.queued + len(records) > self.max_queued_rows:
            raise Unavailable("The tracker is busy writing; retry shortly.", retry_after=1)
        self._submitted += len(records)
        self._inbox.put(records)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="batch-writer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float) -> bool:
        """Write everything queued, giving up after ``timeout`` seconds; True when all landed."""
        if self._thread is None:
            return True
        self._stop_deadline = self.clock() + timeout
        self._inbox.put(_STOP)
        self._thread.join(timeout + 1.0)
        self._thread = None
        return self.queued == 0

    # -- the writer thread ----------------------------------------------------------------
    def _policy(self, table: str) -> Policy:
        return self.policies.get(table, DEFAULT)

    def _add(self, records: Sequence[Record]) -> None:
        now = self.clock()
        for table, line in records:
            buffer = self._buffers.get(table)
            if buffer is None:
                buffer = self._buffers[table] = _Buffer()
            if not buffer.lines:
                buffer.first_at = now
            buffer.lines.append(line)
            buffer.size += len(line)

    def _due(self, table: str, buffer: _Buffer, now: float, stopping: bool) -> bool:
        if not buffer.lines or now < buffer.retry_at:
            return False
        policy = self._policy(table)
        return (
            stopping
            or len(buffer.lines) >= policy.max_rows
            or now - buffer.first_at >= policy.max_seconds
        )

    def _next_wakeup(self, now: float) -> float:
        wake = now + 0.5
        for table, buffer in self._buffers.items():
            if buffer.lines:
                due = max(buffer.first_at + self._policy(table).max_seconds, buffer.retry_at)
                wake = min(wake, due)
        return max(wake - now, 0.0)

    def _run(self) -> None:
        stopping = False
        while True:
            try:
                item = self._inbox.get(timeout=self._next_wakeup(self.clock()))
            except queue.Empty:
                item = None
            while item is not None:
                if item is _STOP:
                    stopping = True
                else:
                    self._add(item)  # type: ignore[arg-type]
                try:
                    item = self._inbox.get_nowait()
                except queue.Empty:
                    item = None
            now = self.clock()
            for table, buffer in list(self._buffers.items()):
                if self._due(table, buffer, now, stopping):
                    self._flush(table, buffer)
            self._update_gauges()
            if stopping:
                pending = any(b.lines for b in self._buffers.values())
                if not pending:
                    return
                if self.clock() >= self._stop_deadline:
                    lost = sum(len(b.lines) for b in self._buffers.values())
                    log.error("shutdown deadline passed: %d rows not written", lost)
                    return
                time.sleep(min(0.05, max(self._stop_deadline - self.clock(), 0.0)))

    def _update_gauges(self) -> None:
        self.metrics.queued_items = self.queued
        self.metrics.queued_bytes = sum(b.size for b in self._buffers.values())

    def _flush(self, table: str, buffer: _Buffer) -> None:
        lines = buffer.lines
        started = self.clock()
        try:
            self._write_isolating(table, lines)
        except SinkUnreachable as exc:
            self.metrics.failed_batches += 1
            buffer.backoff = min(max(buffer.backoff * 2, 0.2), self.max_backoff)
            buffer.retry_at = self.clock() + buffer.backoff
            log.warning(
                "write to %s failed, %d rows kept for retry in %.1fs: %s",
                table,
                len(lines),
                buffer.backoff,
                exc,
            )
            return
        self.metrics.record_flush(table, len(lines), (self.clock() - started) * 1000)
        self._settled += len(lines)
        buffer.lines, buffer.size, buffer.backoff, buffer.retry_at = [], 0, 0.0, 0.0

    def _write_isolating(self, table: str, lines: list[bytes]) -> None:
        """Write ``lines``; on a data rejection split the batch until the bad rows are alone."""
        try:
            self.sink.write(table, lines)
        except SinkRejected as exc:
            if len(lines) == 1:
                self.metrics.drop("sink_rejected")
                log.error("row rejected by %s and dropped: %s", table, exc)
                return
            middle = len(lines) // 2
            self._write_isolating(table, lines[:middle])
            self._write_isolating(table, lines[middle:])
