"""Where accepted records wait before the sinks take them (DESIGN.md decision 4).

`Spool.append` returns once the records are as safe as ``SpoolMode`` promises; only then is the
request acknowledged:

* ``durable`` (default): the entry is on disk (fsync'd, group commit) in the segmented log;
* ``memory``: the entry is in memory only, as in the Go tracker (lost on a crash).

Each sink reads the log from its own cursor (`tracker.batch.writer`), so a slow or failed sink never
blocks another; the space before the slowest cursor is released. When the log holds ``max_bytes``,
new events get 503 with Retry-After: nothing already accepted is ever dropped.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable, Sequence
from typing import Protocol

from tracker.errors import SpoolFailed, Unavailable
from tracker.plan.event_rows import Record
from tracker.spool.log import Entry, Log

SPOOL_FULL_RETRY_AFTER = 5
SPOOL_FAILED = "The tracker cannot write its spool; retry later."


def encode(records: Sequence[Record]) -> bytes:
    return b"\n".join(table.encode() + b"\t" + line for table, line in records)


def decode(payload: bytes) -> list[Record]:
    records: list[Record] = []
    for item in payload.split(b"\n"):
        table, _, line = item.partition(b"\t")
        records.append((table.decode(), line))
    return records


class Spool(Protocol):
    async def append(self, records: Sequence[Record]) -> None: ...


class LogSpool:
    """The spool over a `Log`; readers subscribe to hear when new entries are durable."""

    def __init__(self, log: Log, *, max_bytes: int, durable: bool) -> None:
        self.log = log
        self.max_bytes = max_bytes
        self.durable = durable
        self._waiters: collections.deque[tuple[int, asyncio.Future[None]]] = collections.deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listeners: list[Callable[[int], None]] = []
        self._failed = False
        log.on_durable = self._on_durable
        log.on_failed = self._on_failed

    def subscribe(self, listener: Callable[[int], None]) -> None:
        self._listeners.append(listener)

    @property
    def end(self) -> int:
        return self.log.durable_end

    def read(self, offset: int, max_bytes: int) -> list[Entry]:
        return self.log.read(offset, max_bytes)

    def release(self, offset: int) -> None:
        self.log.release(offset)

    async def append(self, records: Sequence[Record]) -> None:
        if self.log.size_bytes >= self.max_bytes:
            raise Unavailable(
                "The tracker's spool is full; retry later.", retry_after=SPOOL_FULL_RETRY_AFTER
            )
        try:
            end = self.log.append(encode(records))
        except OSError as exc:  # the log refuses appends once its syncer has failed
            raise SpoolFailed(SPOOL_FAILED) from exc
        if not self.durable or self.log.durable_end >= end:
            return
        self._loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = self._loop.create_future()
        self._waiters.append((end, future))
        # The syncer may have made `end` durable (or failed) after the check above but before the
        # waiter was queued, and then found no waiter to answer: check again now that it is queued.
        if self.log.durable_end >= end:
            self._resolve(self.log.durable_end)
        elif self.has_failed():
            self._fail_waiters()
        await future

    def _on_durable(self, end: int) -> None:
        """Called by the log (fsync thread, or inline in memory mode) when ``end`` is durable."""
        for listener in self._listeners:
            listener(end)
        if self._loop is not None and self._waiters:
            self._loop.call_soon_threadsafe(self._resolve, end)

    def has_failed(self) -> bool:
        """The log could not write or sync: appends are refused until a restart."""
        return self._failed

    def _on_failed(self, exc: OSError) -> None:
        """Called by the log's syncer when it can no longer make appends durable."""
        self._failed = True
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._fail_waiters)

    def _fail_waiters(self) -> None:
        while self._waiters:
            _, future = self._waiters.popleft()
            if not future.done():
                future.set_exception(SpoolFailed(SPOOL_FAILED))

    def _resolve(self, end: int) -> None:
        waiters = self._waiters
        while waiters and waiters[0][0] <= end:
            _, future = waiters.popleft()
            if not future.done():
                future.set_result(None)

    def close(self) -> None:
        self.log.close()
        while self._waiters:
            _, future = self._waiters.popleft()
            if not future.done():
                future.set_exception(Unavailable("The tracker is shutting down."))
