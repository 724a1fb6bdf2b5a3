"""The spool: where accepted records wait, in a `Log`, before the sinks take them.

`LogSpool.append` returns once the records are as safe as ``SpoolMode`` promises; only then is the
request acknowledged:

* ``durable`` (default): the entry is on disk (fsync'd, group commit) in the segmented log;
* ``memory``: the entry is in memory only, as in the Go tracker (lost on a crash).

Each sink reads the log from its own cursor (`tracker.batch.writer`), so a slow or failed sink never
blocks another; the space before the slowest cursor is released. When the log holds ``max_bytes``,
new events get 503 with Retry-After: nothing already accepted is ever dropped. When the disk
refuses a write, the requests waiting on it and every later one get 503 until the log finds the
disk working again (`refusing` says why meanwhile, for `/health`).
"""

from __future__ import annotations

import asyncio
import collections
import secrets
from collections.abc import Callable, Sequence
from pathlib import Path

from tracker.errors import SpoolFailed, Unavailable
from tracker.spool.frame import Entry, Log
from tracker.spool.memory import MemoryLog
from tracker.spool.records import Record, encode
from tracker.spool.segmented import SegmentedLog

SPOOL_FULL_RETRY_AFTER = 5
SPOOL_FAILED = "The tracker cannot write its spool; retry later."


def open_spool(directory: Path, *, durable: bool, max_bytes: int) -> LogSpool:
    """The durable spool in ``directory`` (keeping its epoch across restarts), or a memory one."""
    if not durable:
        return LogSpool(MemoryLog(), max_bytes=max_bytes, durable=False, epoch=secrets.token_hex(6))
    log = SegmentedLog(directory)
    epoch_file = directory / "epoch"
    if not epoch_file.exists():
        epoch_file.write_text(secrets.token_hex(6))
    epoch = epoch_file.read_text().strip()
    return LogSpool(log, max_bytes=max_bytes, durable=True, epoch=epoch)


class LogSpool:
    """The spool over a `Log`; readers subscribe to hear when new entries are durable."""

    def __init__(self, log: Log, *, max_bytes: int, durable: bool, epoch: str) -> None:
        self.log = log
        self.max_bytes = max_bytes
        self.durable = durable
        self.epoch = epoch  # a random id of this spool, part of every deduplication token
        self._waiters: collections.deque[tuple[int, asyncio.Future[None]]] = collections.deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listeners: list[Callable[[int], None]] = []
        self._failed = False
        log.on_durable = self._on_durable
        log.on_failed = self._on_failed
        log.on_recovered = self._on_recovered

    def subscribe(self, listener: Callable[[int], None]) -> None:
        self._listeners.append(listener)

    @property
    def end(self) -> int:
        """Where durable entries end: readers never see beyond it."""
        return self.log.durable_end

    @property
    def start(self) -> int:
        """The oldest offset still held."""
        return self.log.start

    @property
    def size_bytes(self) -> int:
        """Bytes not yet released by every reader (what counts against ``max_bytes``)."""
        return self.log.size_bytes

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
        """The log could not write or sync: appends are refused until it works again."""
        return self._failed

    def refusing(self) -> str | None:
        """Why new events would be refused now (the disk fails, the spool is full); else None."""
        if self._failed:
            return "the spool cannot be written (disk error or full disk)"
        if self.log.size_bytes >= self.max_bytes:
            return "the spool is full (SpoolMaxBytes)"
        return None

    def _on_failed(self, exc: OSError) -> None:
        """Called by the log's syncer when it can no longer make appends durable."""
        self._failed = True
        # The log is cut back and will reuse the offsets these waiters wait for: take them out
        # now, so a later durable end can never answer one of them as stored.
        waiters, self._waiters = self._waiters, collections.deque()
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._fail_waiters, waiters)

    def _on_recovered(self) -> None:
        self._failed = False

    def _fail_waiters(
        self, waiters: collections.deque[tuple[int, asyncio.Future[None]]] | None = None
    ) -> None:
        waiters = self._waiters if waiters is None else waiters
        while waiters:
            _, future = waiters.popleft()
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
