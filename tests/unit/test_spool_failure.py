"""The spool when the disk refuses a write or a sync: refuse, keep what was durable, cut what was
not (a request answered 503 is never stored, not even after a restart), and take writes again by
itself once the disk does.

Only the OS boundary is faked: `tracker.spool.log` sees an ``os`` whose ``write`` or
``fdatasync`` raises once the fault is armed; the log, its files and its syncer thread are real.
"""

from __future__ import annotations

import asyncio
import errno
import os
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest

import tracker.spool.segmented as spool_log
from tracker.errors import Unavailable
from tracker.spool import LogSpool, Record, decode, encode
from tracker.spool.segmented import SegmentedLog

WAIT = 5.0  # seconds; only reached when a test fails

BEFORE: list[Record] = [("events", b'{"eid":"before"}'), ("hosts", b"{}")]
DURING: list[Record] = [("events", b'{"eid":"during"}')]


class FaultyOs:
    """``os`` as the spool log sees it; ``arm`` makes ``write`` or ``fdatasync`` fail.

    ``hold`` keeps the failing call waiting (the syncer thread inside it) until ``release``;
    ``partial`` lets the first failing ``write`` take half its bytes (a short write), then fails.
    """

    def __init__(self) -> None:
        self.call: str | None = None
        self.error: OSError | None = None
        self.partial = False
        self.entered = threading.Event()
        self.proceed = threading.Event()
        self.proceed.set()
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def arm(self, call: str, code: int, *, hold: bool = False, partial: bool = False) -> None:
        self.call, self.error, self.partial = call, OSError(code, os.strerror(code)), partial
        if hold:
            self.proceed.clear()

    def release(self) -> None:
        self.proceed.set()

    def disarm(self) -> None:
        self.call = self.error = None
        self.proceed.set()

    def _fault(self, call: str) -> OSError | None:
        if self.call != call or self.error is None:
            return None
        self.calls += 1
        self.entered.set()
        if not self.proceed.wait(WAIT):
            raise AssertionError("the held fault was never released")
        return self.error

    def write(self, fd: int, data: Any) -> int:
        error = self._fault("write")
        if error is None:
            return os.write(fd, data)
        if self.partial:
            self.partial = False
            return os.write(fd, bytes(data[: len(data) // 2]))
        raise error

    def fdatasync(self, fd: int) -> None:
        error = self._fault("fdatasync")
        if error is not None:
            raise error
        os.fdatasync(fd)


@pytest.fixture
def disk(monkeypatch: pytest.MonkeyPatch) -> FaultyOs:
    faulty = FaultyOs()
    monkeypatch.setattr(spool_log, "os", faulty)
    return faulty


def syncers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "spool-fsync" and t.is_alive()]


@pytest.fixture
def no_thread_left() -> Iterator[None]:
    before = set(syncers())
    yield
    assert set(syncers()) <= before, "a spool syncer thread is still running"


def run(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(main())


async def acknowledged(spool: LogSpool, records: list[Record]) -> None:
    await asyncio.wait_for(spool.append(records), WAIT)


def refused_at_once(spool: LogSpool, records: list[Record]) -> Unavailable:
    """Step ``append`` once: it must raise before it ever waits (nothing is queued)."""
    coroutine = spool.append(records)
    with pytest.raises(Unavailable) as refused:
        coroutine.send(None)
    return refused.value


def payloads(log: SegmentedLog) -> list[list[Record]]:
    return [decode(entry.payload) for entry in log.read(0, 1 << 20)]


FAULTS = [
    pytest.param("fdatasync", errno.EIO, id="sync-EIO"),
    pytest.param("fdatasync", errno.ENOSPC, id="sync-ENOSPC"),
    pytest.param("write", errno.ENOSPC, id="write-ENOSPC"),
    pytest.param("write", errno.EIO, id="write-EIO"),
]


@pytest.mark.usefixtures("no_thread_left")
@pytest.mark.parametrize(("call", "code"), FAULTS)
def test_a_refused_write_or_sync_fails_the_append_and_keeps_what_was_durable(
    tmp_path: Path, disk: FaultyOs, call: str, code: int
) -> None:
    log = SegmentedLog(tmp_path)
    spool = LogSpool(log, max_bytes=1 << 30, durable=True, epoch="test")
    durable_before = 0

    async def main() -> None:
        nonlocal durable_before
        await acknowledged(spool, BEFORE)  # returns only once on disk
        durable_before = log.durable_end
        assert durable_before == log.end > 0

        disk.arm(call, code)
        with pytest.raises(Unavailable) as failed:
            await asyncio.wait_for(spool.append(DURING), WAIT)
        assert failed.value.status == 503
        assert failed.value.retry_after > 0
        assert spool.has_failed()

        # Later appends are refused without queueing anything or waiting for a sync.
        end = log.end
        assert refused_at_once(spool, DURING).status == 503
        assert log.end == end
        with pytest.raises(OSError, match="cannot be written"):
            log.append(encode(DURING))

    run(main)
    # Readers (the sinks) still get everything acknowledged, and nothing that was not.
    assert log.durable_end == spool.end == durable_before
    assert [decode(e.payload) for e in spool.read(0, 1 << 20)] == [BEFORE]
    spool.close()

    disk.disarm()  # the "restart": a fresh log over the same directory
    again = SegmentedLog(tmp_path)
    # Nothing of the refused entry survives, also when it was written whole and only its sync
    # failed: its request was answered 503, and a client retrying it must not make a duplicate.
    assert payloads(again) == [BEFORE]
    assert again.durable_end == durable_before
    restarted = LogSpool(again, max_bytes=1 << 30, durable=True, epoch="test")
    run(lambda: acknowledged(restarted, [("events", b'{"eid":"after"}')]))
    assert payloads(again) == [BEFORE, [("events", b'{"eid":"after"}')]]
    restarted.close()


@pytest.mark.usefixtures("no_thread_left")
@pytest.mark.parametrize(("call", "code"), FAULTS)
def test_the_spool_takes_writes_again_by_itself_once_the_disk_does(
    tmp_path: Path, disk: FaultyOs, call: str, code: int
) -> None:
    log = SegmentedLog(tmp_path)
    spool = LogSpool(log, max_bytes=1 << 30, durable=True, epoch="test")
    after: list[Record] = [("events", b'{"eid":"after"}')]

    async def main() -> None:
        await acknowledged(spool, BEFORE)
        disk.arm(call, code)
        with pytest.raises(Unavailable):
            await asyncio.wait_for(spool.append(DURING), WAIT)
        assert spool.refusing() is not None
        tries = disk.calls
        deadline = time.monotonic() + WAIT
        while disk.calls < tries + 2:  # the syncer keeps trying the disk, with a backoff
            assert time.monotonic() < deadline, "the syncer stopped trying the disk"
            await asyncio.sleep(0.01)
        assert spool.has_failed()  # while the disk refuses, so does the spool
        refused_at_once(spool, DURING)
        disk.disarm()  # the space is back
        while spool.has_failed():
            assert time.monotonic() < deadline, "the spool never took writes again"
            await asyncio.sleep(0.01)
        assert spool.refusing() is None
        await acknowledged(spool, after)

    run(main)
    assert payloads(log) == [BEFORE, after]  # nothing refused was kept in between
    spool.close()
    again = SegmentedLog(tmp_path)
    assert payloads(again) == [BEFORE, after]
    again.close()


@pytest.mark.usefixtures("no_thread_left")
def test_a_short_write_then_no_space_is_cut_back_at_once(tmp_path: Path, disk: FaultyOs) -> None:
    log = SegmentedLog(tmp_path)
    spool = LogSpool(log, max_bytes=1 << 30, durable=True, epoch="test")

    async def main() -> None:
        await acknowledged(spool, BEFORE)
        disk.arm("write", errno.ENOSPC, partial=True)
        with pytest.raises(Unavailable):
            await asyncio.wait_for(spool.append(DURING * 20), WAIT)

    run(main)
    durable = log.durable_end
    segment = next(tmp_path.glob("*.log"))
    assert segment.stat().st_size == durable  # the half entry is cut before the 503 is sent
    spool.close()

    disk.disarm()
    again = SegmentedLog(tmp_path)
    assert payloads(again) == [BEFORE]
    assert segment.stat().st_size == durable == again.durable_end
    again.close()


@pytest.mark.usefixtures("no_thread_left")
def test_every_waiter_is_answered_even_those_queued_behind_the_failing_sync(
    tmp_path: Path, disk: FaultyOs
) -> None:
    """Appends queued while the failing sync runs are never synced: they must not hang."""
    log = SegmentedLog(tmp_path)
    spool = LogSpool(log, max_bytes=1 << 30, durable=True, epoch="test")

    async def main() -> None:
        await acknowledged(spool, BEFORE)
        disk.arm("fdatasync", errno.EIO, hold=True)
        first = asyncio.ensure_future(spool.append(DURING))
        deadline = time.monotonic() + WAIT
        while not disk.entered.is_set():  # the syncer is now inside the failing sync
            assert time.monotonic() < deadline, "the syncer never tried to sync"
            await asyncio.sleep(0.001)
        queued = [asyncio.ensure_future(spool.append(DURING)) for _ in range(5)]
        await asyncio.sleep(0)  # every append is now waiting on its future
        assert not any(task.done() for task in [first, *queued])
        disk.release()
        results = await asyncio.wait_for(
            asyncio.gather(first, *queued, return_exceptions=True), WAIT
        )
        assert all(isinstance(result, Unavailable) for result in results), results

    run(main)
    assert [decode(e.payload) for e in spool.read(0, 1 << 20)] == [BEFORE]
    spool.close()


@pytest.mark.usefixtures("no_thread_left")
def test_a_failure_with_nobody_waiting_still_refuses_the_next_append(
    tmp_path: Path, disk: FaultyOs
) -> None:
    """The syncer can fail on frames no awaiting append queued (here: the raw log's)."""
    log = SegmentedLog(tmp_path)
    spool = LogSpool(log, max_bytes=1 << 30, durable=True, epoch="test")
    disk.arm("write", errno.EIO)
    log.append(encode(DURING))
    deadline = time.monotonic() + WAIT
    while not spool.has_failed():
        assert time.monotonic() < deadline, "the failure was never reported"
        time.sleep(0.001)

    async def main() -> None:
        refused_at_once(spool, BEFORE)

    run(main)
    assert spool.read(0, 1 << 20) == []
    spool.close()


@pytest.mark.usefixtures("no_thread_left")
def test_an_append_racing_the_failure_report_is_refused_as_unavailable(
    tmp_path: Path, disk: FaultyOs
) -> None:
    log = SegmentedLog(tmp_path)
    spool = LogSpool(log, max_bytes=1 << 30, durable=True, epoch="test")
    in_window, go = threading.Event(), threading.Event()
    report = log.on_failed

    def slow_report(exc: OSError) -> None:  # the syncer between `_failed = exc` and `on_failed`
        in_window.set()
        go.wait(WAIT)
        report(exc)

    log.on_failed = slow_report
    disk.arm("fdatasync", errno.EIO)
    log.append(encode(DURING))
    assert in_window.wait(WAIT)
    try:
        with pytest.raises(Unavailable):
            run(lambda: acknowledged(spool, BEFORE))
    finally:
        go.set()
        spool.close()
