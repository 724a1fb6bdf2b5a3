"""A sink's writer: reads the spool from the sink's cursor, batches per table, writes, commits.

One thread per sink owns the sink (chDB sessions must not be shared). The loop:

1. read durable spool entries from the read position (bounded by ``max_buffered_bytes``: when the
   sink is slow the records simply wait in the spool, not in memory);
2. seal the tables whose policy says so: a sealed batch is the table's records between two spool
   offsets, written to the cursor journal *before* it is sent, with a token derived from them;
3. send sealed batches oldest first, through the circuit breaker; a data rejection splits the batch
   until the bad rows stand alone, and those go to the dead-letter file with the reason;
4. record what landed in the journal and let the spool reclaim what every sink has passed.

After a crash the journal's sealed ranges are rebuilt from the spool and sent with the same
tokens, so ClickHouse stores them once.

There is one writer per sink (ClickHouse, DuckDB, NATS, Facebook), each with its own journal:
``takes`` picks the tables a sink stores (the others are skipped, and its cursor passes them),
``primary`` marks the ClickHouse writer, whose figures are the seed's ``batching`` metrics (the
writers of the worker spools too, which leave the queue and spool gauges to the main one: ``gauges``); every
writer keeps its own figures under ``metrics.sinks[<name>]``. A sink may have a ``maintain()``
method, called from this thread on every turn of the loop (DuckDB's Parquet export), so the sink
keeps one owner thread.

The thread is supervised (`tracker.supervise`): an unexpected error (a full disk under the
journal, no file descriptor left for a spool read) is logged and counted, and the loop starts
again after a backoff the same way, from the cursor state it holds, so nothing is sent twice and
nothing waits for a restart of the process.

The store is opened by the writer too (``opening.StoreOpener``): `start` tries once, and when the
store does not answer the thread keeps trying with backoff while the spool takes the traffic; only
a refusal an operator must fix (credentials, grants, DDL) stops the start-up.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from tracker.batch.aggregate import pre_aggregate
from tracker.batch.breaker import CircuitBreaker, backoff
from tracker.batch.cursor import CursorJournal, CursorState
from tracker.batch.deadletter import DeadLetters
from tracker.batch.opening import StoreOpener
from tracker.batch.policy import DEFAULT, AdaptiveSize, Policy, Strategy
from tracker.errors import SinkRejected, SinkUnreachable, TrackerError
from tracker.metrics import Metrics
from tracker.schema.tables import TABLES
from tracker.sinks.base import Sink
from tracker.spool import Entry, LogSpool, decode
from tracker.supervise import Supervised
from tracker.wakeup import Wakeup

log = logging.getLogger(__name__)

# After new spool data wakes the writer, it rests this long before reading, so one read takes the
# entries of every request in that time: without it, it woke, read and went through its loop once
# per fsync group (per request in memory mode), about half of its CPU on a single-event POST,
# each wake-up a thread switch on the event loop's core. Batches wait seconds anyway.
READ_REST_SECONDS = 0.05


@dataclass
class Batch:
    start: int
    end: int
    lines: list[bytes]
    size: int = 0  # bytes of `lines`, kept so the loop's accounting is not O(rows)
    attempts: int = 0
    retry_at: float = 0.0


@dataclass
class SinkStats:
    """One sink's figures, written by its writer thread (``/metrics``: ``spool.sinks.<name>``)."""

    batches: int = 0
    rows: int = 0
    failed_batches: int = 0
    dead_letters: int = 0
    maintenance_failures: int = 0
    flush_latency_ms_sum: float = 0.0
    last_flush: float = 0.0

    def flushed(self, rows: int, latency_ms: float) -> None:
        self.batches += 1
        self.rows += rows
        self.flush_latency_ms_sum += latency_ms
        self.last_flush = time.time()

    def as_json(self) -> dict[str, object]:
        return {
            "batches": self.batches,
            "rows": self.rows,
            "failed_batches": self.failed_batches,
            "dead_letters": self.dead_letters,
            "maintenance_failures": self.maintenance_failures,
            "avg_flush_latency_ms": round(self.flush_latency_ms_sum / self.batches, 3)
            if self.batches
            else 0,
            "last_flush_unix": int(self.last_flush),
        }


@dataclass
class TableState:
    policy: Policy
    lines: list[bytes] = field(default_factory=list)
    size: int = 0
    first_at: float = 0.0
    last_flush: float = -math.inf  # when the table last sealed a batch (its age counts from it)
    start: int = 0  # spool offset of the entry holding the first buffered row
    sealed: collections.deque[Batch] = field(default_factory=collections.deque)
    tuned: AdaptiveSize | None = None


class SinkWriter:
    def __init__(
        self,
        sink: Sink,
        spool: LogSpool,
        journal: CursorJournal,
        policies: dict[str, Policy],
        metrics: Metrics,
        dead_letters: DeadLetters,
        *,
        clock: Callable[[], float] = time.monotonic,
        breaker: CircuitBreaker | None = None,
        max_buffered_bytes: int = 64 * 2**20,
        read_bytes: int = 4 * 2**20,
        on_progress: Callable[[], None] = lambda: None,
        takes: Callable[[str], bool] | None = None,
        aggregate: bool = True,
        primary: bool = True,
        gauges: bool = True,
        on_open: Callable[[], None] = lambda: None,
    ) -> None:
        self.sink = sink
        self.spool = spool
        self.journal = journal
        self.policies = policies
        self.metrics = metrics
        self.dead_letters = dead_letters
        self.clock = clock
        self.breaker = breaker or CircuitBreaker(clock)
        self.max_buffered_bytes = max_buffered_bytes
        self.read_bytes = read_bytes
        self.on_progress = on_progress
        self.takes = takes
        self.aggregate = aggregate  # pre-sum SummingMergeTree rows (ClickHouse only)
        self.primary = primary
        self.gauges = primary and gauges  # a worker spool's writer leaves them to the main one
        self.stats = SinkStats()
        self._maintain: Callable[[], None] | None = getattr(sink, "maintain", None)
        self.opener = StoreOpener(sink, on_open, clock)
        self.state = CursorState()
        self.pos = 0
        self.tables: dict[str, TableState] = {}
        self._replay: dict[str, collections.deque[tuple[int, int]]] = {}
        self._dirty = False
        self._wakeup = Wakeup()  # new spool data (every request in memory mode), or stop
        self._urgent = threading.Event()  # stop or pause: no rest before the next round
        self._thread = Supervised(
            f"writer-{sink.name}", self._run, recover=self._recover, on_restart=self._restarted
        )
        self._started = False
        self._stopping = False
        self._deadline = 0.0
        self._pause = threading.Event()  # asked to hold between two batches (`paused`)
        self._held = threading.Event()  # holding: every batch sent is committed in the journal
        self._resume = threading.Event()
        spool.subscribe(self._on_data)

    # -- lifecycle --------------------------------------------------------------------------
    def start(self, require_store: bool = False) -> None:
        """Open the store and start the thread. A store that refuses the tracker raises
        (SinkMisconfigured); one that does not answer is retried by the thread, unless
        ``require_store`` (a `Critical` store entry), when it raises SinkUnreachable."""
        if not self.opener.try_open(starting=True):
            if require_store:
                raise SinkUnreachable(f"the store does not answer: {self.opener.error}")
            log.warning(
                "%s: the store does not answer (%s); events are kept in the spool and written "
                "once it does",
                self.sink.name,
                self.opener.error,
            )
        self.state = self.journal.load(default_safe=self.spool.start)
        self.pos = max(self.state.safe, self.spool.start)
        self._replay = {t: collections.deque(r) for t, r in self.state.inflight.items() if r}
        self.state.inflight = {}
        if self._replay:
            log.info(
                "%s: replaying %d sealed batches from the spool",
                self.sink.name,
                sum(map(len, self._replay.values())),
            )
        self.on_progress()  # the spool may reclaim what was stored before the restart
        self._started = True
        self._urgent.clear()
        self.metrics.thread_restarts.setdefault(self._thread.name, 0)  # listed from the start
        self._thread.start()

    def stop(self, timeout: float) -> bool:
        """Write what the spool holds, for at most ``timeout`` s; True when everything landed."""
        self.begin_stop(timeout)
        return self.join(timeout)

    def begin_stop(self, timeout: float) -> None:
        """Start draining against a deadline ``timeout`` s away (several writers drain at once)."""
        if not self._started:
            return
        self._deadline = self.clock() + timeout
        self._stopping = True
        self._urgent.set()
        self._thread.stop()  # a writer waiting to start again after an error ends instead
        self._wakeup.set()

    def join(self, timeout: float) -> bool:
        """Wait for a stopping writer's thread; True when everything landed."""
        if not self._started:
            return True
        self._thread.join(timeout + 5.0)
        self._started = False
        return self.caught_up()

    @contextlib.contextmanager
    def paused(self, timeout: float) -> Iterator[None]:
        """Hold the writer between two batches, when every batch it sent is committed in the
        journal, so that the store and the journal agree (a backup copies both meanwhile).
        Requests are still taken: the spool keeps growing."""
        if not self._started:
            yield
            return
        self._resume.clear()
        self._pause.set()
        self._urgent.set()
        self._wakeup.set()
        try:
            if not self._held.wait(timeout):
                raise TrackerError(
                    f"The {self.sink.name} writer did not pause within {timeout} s: try again."
                )
            yield
        finally:
            self._pause.clear()
            if not self._stopping:
                self._urgent.clear()
            self._resume.set()

    @property
    def failing(self) -> str | None:
        """Why the writer cannot make progress (an unexpected error, not yet got over); or None."""
        return self._thread.last_error if self._thread.failing else None

    @property
    def restarts(self) -> int:
        return self._thread.restarts

    def _restarted(self) -> None:
        self.metrics.thread_restarts[self._thread.name] += 1

    def _recover(self) -> None:
        """Start again from the cursor state after an unexpected error, as after a restart.

        The buffers are dropped and read again from ``safe``; sealed batches (and those still to
        be replayed) are sealed again at the same offsets, so they keep their tokens and a batch
        that did land before the error is not stored twice; what a table committed is skipped.
        """
        self._journal_state()  # brings ``safe`` and the sealed ranges up to date
        state = self.state
        replay = {
            name: collections.deque([*state.inflight.get(name, ()), *self._replay.get(name, ())])
            for name in {*state.inflight, *self._replay}
        }
        self._replay = {name: ranges for name, ranges in replay.items() if ranges}
        self.state.inflight = {}
        self.tables = {}
        self.pos = max(state.safe, self.spool.start)
        self._dirty = True

    def caught_up(self) -> bool:
        return self.pos >= self.spool.end and not any(
            t.lines or t.sealed for t in self.tables.values()
        )

    @property
    def safe(self) -> int:
        return self.state.safe

    def _on_data(self, end: int) -> None:
        self._wakeup.set()

    def _buffered_bytes(self) -> int:
        return sum(t.size + sum(b.size for b in t.sealed) for t in self.tables.values())

    def _run(self) -> None:
        while True:
            if not self.opener.try_open():
                if self._stopping:
                    log.error(
                        "%s: the store never opened; the events stay in the spool", self.sink.name
                    )
                    return
                self._wakeup.wait(self.opener.wait_seconds())
                continue
            if self.pos < self.spool.end and self._buffered_bytes() < self.max_buffered_bytes:
                for entry in self.spool.read(self.pos, self.read_bytes):
                    self._take(entry)
            now = self.clock()
            self._seal_due(now)
            self._send(now)
            self._checkpoint()
            self._run_maintenance()
            self._gauges()
            self._thread.progress()
            if self._pause.is_set():
                self._held.set()
                self._resume.wait()
                self._held.clear()
                continue
            if self._stopping and (self.caught_up() or self.clock() >= self._deadline):
                if not self.caught_up():
                    log.error(
                        "%s: shutdown deadline passed; undelivered rows stay in the spool",
                        self.sink.name,
                    )
                return
            if self.pos < self.spool.end and self._buffered_bytes() < self.max_buffered_bytes:
                continue
            if self._wakeup.wait(self._next_wakeup(self.clock())):
                self._urgent.wait(READ_REST_SECONDS)  # let the next requests' entries gather

    def _next_wakeup(self, now: float) -> float:
        wake = now + 0.5
        for table in self.tables.values():
            if table.lines:
                deadline = table.policy.deadline(table.first_at, table.last_flush)
                if deadline is not None:
                    wake = min(wake, deadline)
            if table.sealed:
                wake = min(wake, max(table.sealed[0].retry_at, now + self.breaker.retry_in()))
        return min(max(wake - now, 0.001), 0.5)

    def _run_maintenance(self) -> None:
        if self._maintain is None:
            return
        try:
            self._maintain()
        except Exception as exc:  # the sink's own chores must never stop its writes
            self.stats.maintenance_failures += 1
            log.warning("%s: maintenance failed, retried later: %s", self.sink.name, exc)

    def _table(self, name: str) -> TableState:
        table = self.tables.get(name)
        if table is None:
            policy = self.policies.get(name, DEFAULT)
            tuned = AdaptiveSize(policy) if policy.strategy is Strategy.ADAPTIVE else None
            table = self.tables[name] = TableState(policy, tuned=tuned)
        return table

    def _take(self, entry: Entry) -> None:
        now = self.clock()
        for name, line in decode(entry.payload):
            if self.takes is not None and not self.takes(name):
                continue  # a table this sink does not store
            if entry.end <= self.state.committed.get(name, -1):
                continue  # stored before the restart
            table = self._table(name)
            if not table.lines:
                table.first_at, table.start = now, entry.start
            table.lines.append(line)
            table.size += len(line)
        self.pos = entry.end
        for name, ranges in self._replay.items():
            while ranges and ranges[0][1] <= self.pos:
                start, end = ranges.popleft()
                self._seal(name, start=start, end=end)

    def _seal(self, name: str, *, start: int | None = None, end: int | None = None) -> None:
        table = self._table(name)
        aggregate = self.aggregate and name in TABLES
        lines = pre_aggregate(TABLES[name], table.lines) if aggregate else table.lines
        batch = Batch(
            table.start if start is None else start,
            self.pos if end is None else end,
            lines,
            sum(map(len, lines)),
        )
        table.sealed.append(batch)
        table.lines, table.size = [], 0
        table.last_flush = self.clock()
        self.state.inflight.setdefault(name, []).append((batch.start, batch.end))
        self._dirty = True

    def _seal_due(self, now: float) -> None:
        for name, table in self.tables.items():
            if self._replay.get(name):
                continue  # its next batch must end where the journal says
            rows = len(table.lines)
            if not rows:
                continue
            deadline = table.policy.deadline(table.first_at, table.last_flush)
            timed_out = deadline is not None and now >= deadline
            tuned = table.tuned.rows if table.tuned else None
            if self._stopping or table.policy.due(rows, table.size, timed_out, tuned):
                self._seal(name)

    def _token(self, name: str, batch: Batch) -> str:
        """Always sent: without a token ClickHouse deduplicates by the block's hash, and two
        honest, identical counter batches (``{"ip": …, "total": 1}``) would be stored once."""
        return f"{self.spool.epoch}-{name}-{batch.start}-{batch.end}"

    def _send(self, now: float) -> None:
        if self._dirty:
            self.journal.save(self._journal_state())  # intents are durable before anything is sent
            self._dirty = False
        for name, table in self.tables.items():
            while table.sealed and self.breaker.allows():
                batch = table.sealed[0]
                if batch.retry_at > now:
                    break
                started = self.clock()
                try:
                    self._write_retrying(name, table.policy, batch)
                except SinkUnreachable as exc:
                    batch.attempts += 1
                    batch.retry_at = self.clock() + backoff(batch.attempts, floor=exc.retry_after)
                    self.breaker.failure()
                    self.stats.failed_batches += 1
                    if self.primary:
                        self.metrics.failed_batches += 1
                    log.warning(
                        "%s: writing %s failed (attempt %d), kept in the spool: %s",
                        self.sink.name,
                        name,
                        batch.attempts,
                        exc,
                    )
                    break
                latency_ms = (self.clock() - started) * 1000
                self.breaker.success()
                table.sealed.popleft()
                self.state.committed[name] = batch.end
                self.state.inflight[name].remove((batch.start, batch.end))
                self._dirty = True
                self.stats.flushed(len(batch.lines), latency_ms)
                if self.primary:
                    self.metrics.record_flush(name, len(batch.lines), latency_ms)
                if table.tuned:
                    table.tuned.observe(latency_ms, len(table.lines))

    def _write_retrying(self, name: str, policy: Policy, batch: Batch) -> None:
        """A few quick retries (the policy's ``Retries``) before the batch waits for the breaker."""
        for attempt in range(policy.retries + 1):
            try:
                self._write_isolating(name, batch.lines, self._token(name, batch))
                return
            except SinkUnreachable as exc:
                if attempt == policy.retries or self._stopping or exc.retry_after:
                    raise  # a backend that asked us to wait gets the backoff with that floor
                time.sleep(backoff(attempt + 1, base=0.02, cap=0.2))

    def _write_isolating(self, name: str, lines: list[bytes], token: str | None) -> None:
        try:
            self.sink.write(name, lines, token)
        except SinkRejected as exc:
            if len(lines) == 1:
                self.dead_letters.add(name, lines[0], str(exc))
                self.stats.dead_letters += 1
                self.metrics.drop("sink_rejected")
                log.error(
                    "%s: a %s row was refused and moved to the dead-letter file: %s",
                    self.sink.name,
                    name,
                    exc,
                )
                return
            middle = len(lines) // 2
            self._write_isolating(name, lines[:middle], f"{token}.a" if token else None)
            self._write_isolating(name, lines[middle:], f"{token}.b" if token else None)

    def _journal_state(self) -> CursorState:
        """The state to save: ``safe`` from the buffers; in flight, the sealed batches and those
        still to be replayed (a second crash in the middle of a replay seals them the same way)."""
        starts = [t.start for t in self.tables.values() if t.lines]
        starts += [b.start for t in self.tables.values() for b in t.sealed]
        starts += [r[0] for ranges in self._replay.values() for r in ranges]
        self.state.safe = min(starts) if starts else self.pos
        self.state.inflight = {k: v for k, v in self.state.inflight.items() if v}
        if not any(self._replay.values()):
            return self.state
        inflight = {k: list(v) for k, v in self.state.inflight.items()}
        for name, ranges in self._replay.items():
            inflight.setdefault(name, []).extend(ranges)
        return CursorState(self.state.safe, self.state.committed, inflight)

    def _checkpoint(self) -> None:
        if self._dirty:
            before = self.state.safe
            self.journal.save(self._journal_state())
            self._dirty = False
            if self.state.safe != before:
                self.on_progress()

    def _gauges(self) -> None:
        rows = sum(len(t.lines) + sum(len(b.lines) for b in t.sealed) for t in self.tables.values())
        if self.gauges:
            self.metrics.queued_items = rows
            self.metrics.queued_bytes = self._buffered_bytes()
            self.metrics.spool_bytes = self.spool.size_bytes
        self.metrics.sinks[self.sink.name] = {
            "cursor_lag_bytes": max(self.spool.end - self.state.safe, 0),
            "circuit": self.breaker.state.value,
            "circuit_trips": self.breaker.trips,
            "queued_rows": rows,
            **self.stats.as_json(),
        }
